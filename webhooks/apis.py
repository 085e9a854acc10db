"""Tenant REST API, v1 (tenant host, ``/api/v1/webhooks``): the workspace's webhook
endpoints, their secrets, a test event, and each endpoint's deliveries with a resend.

Roles as the dashboard's "API" section: owners and admins, and admin API keys. Each view
calls one ``webhooks.services`` write or ``webhooks.selectors`` read, the same the
dashboard's pages call. A secret is answered when an endpoint is created, when it is
rotated, and to ``GET .../secret``.
"""

from __future__ import annotations

from functools import partial

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from saas.api_pages import PageInput, ordering_field, page_of, page_output, page_parameters, valid_query
from saas.errors import NotFound
from saas.openapi import problems_of
from saas.request_body import NO_BODY_BYTES, SMALL_BODY_BYTES
from tenants.api_base import MANAGERS, TenantAPIView

from . import selectors, services
from .models import Delivery, Endpoint
from .payloads import EVENT_GROUPS, EVENT_TYPES, TEST_EVENT

TAGS = ["webhooks"]
PROBLEMS = {
    401: "Not signed in, or the API key is not valid here (`not_authenticated`).",
    403: "Only owners, admins and admin keys manage webhooks (`permission_denied`).",
    404: "No such endpoint or delivery in this workspace (`not_found`).",
    409: "At most 20 endpoints, or the endpoint is disabled (`conflict`).",
    422: "Some fields are not valid (`validation_error`, with `errors` per field): an address that is "
    "not public is refused by name.",
}
ENDPOINT_EXAMPLE = {
    "id": "6a1f2c4e-8d3b-4f7a-9e21-5b0c7d9a1e34",
    "url": "https://crm.example.com/hooks/chat",
    "description": "Leads to the CRM",
    "event_types": ["contact.updated", "conversation.handoff_requested"],
    "enabled": True,
    "disabled_reason": "",
    "disabled_at": None,
    "consecutive_failures": 0,
    "failing_since": None,
    "created_at": "2026-12-04T09:12:44.120931Z",
    "updated_at": "2026-12-04T09:12:44.120931Z",
}
SECRET_EXAMPLE = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # noqa: S105 - a documentation example
DELIVERY_EXAMPLE = {
    "id": 812,
    "event_id": "evt_3f9a1c0d2b7e4a5f6c8d9e01",
    "event_type": "contact.updated",
    "status": "succeeded",
    "attempts": 1,
    "next_attempt_at": None,
    "last_attempt_at": "2026-12-04T09:15:02.551203Z",
    "delivered_at": "2026-12-04T09:15:02.571880Z",
    "response_status": 200,
    "response_body": '{"ok":true}',
    "duration_ms": 21,
    "error": "",
    "created_at": "2026-12-04T09:15:02.540112Z",
}


_problems = partial(problems_of, PROBLEMS)


# --- output --------------------------------------------------------------------------------


class WebhookEndpointOutput(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    url = serializers.URLField()
    description = serializers.CharField()
    event_types = serializers.ListField(child=serializers.CharField())
    enabled = serializers.BooleanField(source="is_enabled")
    disabled_reason = serializers.CharField(help_text="Why it stopped receiving events, if it did.")
    disabled_at = serializers.DateTimeField(allow_null=True)
    consecutive_failures = serializers.IntegerField(help_text="Failed attempts in a row.")
    failing_since = serializers.DateTimeField(
        allow_null=True, help_text="Since when every attempt has failed (null: the last one succeeded)."
    )
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class WebhookEndpointCreatedOutput(WebhookEndpointOutput):
    secret = serializers.CharField(help_text="The signing secret (`whsec_...`).")


class WebhookSecretOutput(serializers.Serializer):
    secret = serializers.CharField(help_text="The signing secret (`whsec_...`).")
    previous_secret_expires_at = serializers.DateTimeField(
        allow_null=True, help_text="Until then requests are signed with the replaced secret too."
    )


class WebhookDeliveryOutput(serializers.Serializer):
    id = serializers.IntegerField()
    event_id = serializers.CharField(source="event.event_id", help_text="The `webhook-id` of every attempt.")
    event_type = serializers.CharField(source="event.type")
    status = serializers.ChoiceField(choices=Delivery.Status.choices)
    attempts = serializers.IntegerField()
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    last_attempt_at = serializers.DateTimeField(allow_null=True)
    delivered_at = serializers.DateTimeField(allow_null=True)
    response_status = serializers.IntegerField(allow_null=True)
    response_body = serializers.CharField(help_text="The first 2 KB of the last answer.")
    duration_ms = serializers.IntegerField(allow_null=True)
    error = serializers.CharField()
    created_at = serializers.DateTimeField()


class WebhookDeliveryDetailOutput(WebhookDeliveryOutput):
    request_headers = serializers.DictField(child=serializers.CharField(), help_text="Of the last attempt.")
    request_body = serializers.CharField(source="event.body", help_text="The JSON sent, byte for byte.")


class WebhookEventSentOutput(serializers.Serializer):
    event_id = serializers.CharField()
    type = serializers.CharField()


class WebhookEventTypeOutput(serializers.Serializer):
    type = serializers.CharField()
    group = serializers.CharField()
    description = serializers.CharField()


WebhookEndpointPageOutput = page_output("WebhookEndpointPageOutput", WebhookEndpointOutput)
WebhookDeliveryPageOutput = page_output("WebhookDeliveryPageOutput", WebhookDeliveryOutput)


# --- input ---------------------------------------------------------------------------------


class WebhookEndpointListInput(PageInput):
    ordering = ordering_field(("created_at", "url"), default="created_at")


class WebhookEndpointInput(serializers.Serializer):
    url = serializers.CharField(max_length=2000, help_text="https on a public address.")
    description = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=sorted(EVENT_TYPES)), min_length=1, max_length=len(EVENT_TYPES)
    )


class WebhookEndpointUpdateInput(serializers.Serializer):
    """The fields sent replace the stored ones; the others stay."""

    url = serializers.CharField(max_length=2000, required=False)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=sorted(EVENT_TYPES)),
        min_length=1,
        max_length=len(EVENT_TYPES),
        required=False,
    )
    enabled = serializers.BooleanField(
        required=False, help_text="false: it receives nothing; true: again, its failure count reset."
    )


class WebhookDeliveryListInput(PageInput):
    status = serializers.ChoiceField(choices=Delivery.Status.choices, required=False)
    event_type = serializers.ChoiceField(choices=sorted(EVENT_TYPES | {TEST_EVENT}), required=False)
    ordering = ordering_field(("created_at",), default="-created_at")


# --- views ---------------------------------------------------------------------------------


class WebhookApiBase(TenantAPIView):
    queryset = Endpoint.objects.all()
    lookup_field = "public_id"
    lookup_url_kwarg = "endpoint_id"
    required_roles = {"GET": MANAGERS, "POST": MANAGERS, "PATCH": MANAGERS, "DELETE": MANAGERS}
    max_body_bytes = NO_BODY_BYTES


class WebhookEventTypesApi(WebhookApiBase):
    @extend_schema(
        operation_id="webhooks_event_types",
        tags=TAGS,
        description="Every event type an endpoint may subscribe to (docs/webhooks.md has their payloads).",
        responses={200: WebhookEventTypeOutput(many=True), **_problems(401, 403, 404)},
        examples=[
            OpenApiExample(
                "Types",
                # One type: the document shows it in a list, as the answer is.
                value={
                    "type": "message.created",
                    "group": "Messages",
                    "description": "A visitor, bot or agent message",
                },
                response_only=True,
            )
        ],
    )
    def get(self, request: Request) -> Response:
        rows = [
            {"type": kind, "group": group, "description": text}
            for group, kinds in EVENT_GROUPS.items()
            for kind, text in kinds
        ]
        return Response(rows)


class WebhookEndpointListApi(WebhookApiBase):
    max_body_bytes = SMALL_BODY_BYTES

    @extend_schema(
        operation_id="webhooks_list",
        tags=TAGS,
        description="The workspace's webhook endpoints, a page at a time.",
        parameters=page_parameters(WebhookEndpointListInput),
        responses={200: WebhookEndpointPageOutput, **_problems(401, 403, 404, 422)},
        examples=[
            OpenApiExample(
                "A page", value={"results": [ENDPOINT_EXAMPLE], "next_cursor": None}, response_only=True
            )
        ],
    )
    def get(self, request: Request) -> Response:
        query = valid_query(WebhookEndpointListInput, request)
        rows, next_cursor = page_of(self.get_queryset(), query)
        return Response({"results": WebhookEndpointOutput(rows, many=True).data, "next_cursor": next_cursor})

    @extend_schema(
        operation_id="webhooks_create",
        tags=TAGS,
        description="A new endpoint, enabled, with a new signing secret (in this answer, and from "
        "`GET webhooks/{id}/secret`). Events are signed as Standard Webhooks says.",
        request=WebhookEndpointInput,
        responses={201: WebhookEndpointCreatedOutput, **_problems(401, 403, 404, 409, 422)},
        examples=[
            OpenApiExample(
                "Create",
                value={
                    "url": "https://crm.example.com/hooks/chat",
                    "description": "Leads to the CRM",
                    "event_types": ["contact.updated", "conversation.handoff_requested"],
                },
                request_only=True,
            ),
            OpenApiExample(
                "Created",
                value={**ENDPOINT_EXAMPLE, "secret": SECRET_EXAMPLE},
                response_only=True,
                status_codes=["201"],
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        data = WebhookEndpointInput(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = services.endpoint_create(request=request, **data.validated_data)
        body = {**WebhookEndpointOutput(endpoint).data, "secret": selectors.endpoint_secret(endpoint)}
        return Response(body, status=status.HTTP_201_CREATED)


class WebhookEndpointDetailApi(WebhookApiBase):
    max_body_bytes = SMALL_BODY_BYTES

    @extend_schema(
        operation_id="webhooks_retrieve",
        tags=TAGS,
        description="One endpoint, with whether it is failing.",
        responses={200: WebhookEndpointOutput, **_problems(401, 403, 404)},
        examples=[OpenApiExample("An endpoint", value=ENDPOINT_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request, endpoint_id: str) -> Response:
        return Response(WebhookEndpointOutput(self.get_object()).data)

    @extend_schema(
        operation_id="webhooks_update",
        tags=TAGS,
        description="Change the URL, description or events (the fields sent replace the stored ones), "
        "or disable (`enabled`: false) or enable it again.",
        request=WebhookEndpointUpdateInput,
        responses={200: WebhookEndpointOutput, **_problems(401, 403, 404, 422)},
        examples=[
            OpenApiExample("Disable", value={"enabled": False}, request_only=True),
            OpenApiExample("Saved", value={**ENDPOINT_EXAMPLE, "enabled": False}, response_only=True),
        ],
    )
    def patch(self, request: Request, endpoint_id: str) -> Response:
        data = WebhookEndpointUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        given, endpoint = dict(data.validated_data), self.get_object()
        if {"url", "description", "event_types"} & set(given):
            endpoint = services.endpoint_update(
                endpoint=endpoint,
                url=given.get("url", endpoint.url),
                description=given.get("description", endpoint.description),
                event_types=given.get("event_types", endpoint.event_types),
                request=request,
            )
        if given.get("enabled") is True and not endpoint.is_enabled:
            endpoint = services.endpoint_enable(endpoint=endpoint, request=request)
        elif given.get("enabled") is False and endpoint.is_enabled:
            endpoint = services.endpoint_disable(
                endpoint=endpoint, reason="Disabled through the API.", request=request
            )
        return Response(WebhookEndpointOutput(endpoint).data)

    @extend_schema(
        operation_id="webhooks_destroy",
        tags=TAGS,
        description="Delete the endpoint and its delivery log; nothing more is sent to it.",
        responses={204: None, **_problems(401, 403, 404)},
        examples=[OpenApiExample("Deleted", value=None, response_only=True, status_codes=["204"])],
    )
    def delete(self, request: Request, endpoint_id: str) -> Response:
        services.endpoint_delete(endpoint=self.get_object(), request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookSecretApi(WebhookApiBase):
    @extend_schema(
        operation_id="webhooks_secret",
        tags=TAGS,
        description="The endpoint's signing secret.",
        responses={200: WebhookSecretOutput, **_problems(401, 403, 404)},
        examples=[
            OpenApiExample(
                "Secret",
                value={"secret": SECRET_EXAMPLE, "previous_secret_expires_at": None},
                response_only=True,
            )
        ],
    )
    def get(self, request: Request, endpoint_id: str) -> Response:
        endpoint = self.get_object()
        return Response(
            {
                "secret": selectors.endpoint_secret(endpoint),
                "previous_secret_expires_at": endpoint.previous_secret_expires_at,
            }
        )


class WebhookSecretRotateApi(WebhookApiBase):
    @extend_schema(
        operation_id="webhooks_rotate_secret",
        tags=TAGS,
        description="A new signing secret. For 24 hours requests are signed with both (two "
        "signatures in `webhook-signature`), so receivers can switch without losing events.",
        request=None,
        responses={200: WebhookSecretOutput, **_problems(401, 403, 404)},
        examples=[
            OpenApiExample(
                "Rotated",
                value={"secret": SECRET_EXAMPLE, "previous_secret_expires_at": "2026-12-05T09:20:00Z"},
                response_only=True,
            )
        ],
    )
    def post(self, request: Request, endpoint_id: str) -> Response:
        endpoint = services.endpoint_secret_rotate(endpoint=self.get_object(), request=request)
        return Response(
            {
                "secret": selectors.endpoint_secret(endpoint),
                "previous_secret_expires_at": endpoint.previous_secret_expires_at,
            }
        )


class WebhookTestApi(WebhookApiBase):
    @extend_schema(
        operation_id="webhooks_test",
        tags=TAGS,
        description="Send a `webhook.test` event to this endpoint now (its delivery appears in the log).",
        request=None,
        responses={202: WebhookEventSentOutput, **_problems(401, 403, 404, 409)},
        examples=[
            OpenApiExample(
                "Sent",
                value={"event_id": "evt_3f9a1c0d2b7e4a5f6c8d9e01", "type": "webhook.test"},
                response_only=True,
                status_codes=["202"],
            )
        ],
    )
    def post(self, request: Request, endpoint_id: str) -> Response:
        event = services.endpoint_test_send(endpoint=self.get_object())
        return Response({"event_id": event.event_id, "type": event.type}, status=status.HTTP_202_ACCEPTED)


class WebhookDeliveryListApi(WebhookApiBase):
    @extend_schema(
        operation_id="webhooks_deliveries_list",
        tags=TAGS,
        description="The endpoint's deliveries (kept 30 days), newest first, a page at a time.",
        parameters=page_parameters(WebhookDeliveryListInput),
        responses={200: WebhookDeliveryPageOutput, **_problems(401, 403, 404, 422)},
        examples=[
            OpenApiExample(
                "A page", value={"results": [DELIVERY_EXAMPLE], "next_cursor": None}, response_only=True
            )
        ],
    )
    def get(self, request: Request, endpoint_id: str) -> Response:
        query = valid_query(WebhookDeliveryListInput, request)
        rows = selectors.deliveries_filtered(
            self.get_object(), status=query.get("status"), event_type=query.get("event_type")
        )
        page, next_cursor = page_of(rows, query)
        return Response({"results": WebhookDeliveryOutput(page, many=True).data, "next_cursor": next_cursor})


class WebhookDeliveryApiBase(WebhookApiBase):
    def delivery(self, delivery_id: int) -> Delivery:
        """One delivery of the URL's endpoint (404 for another endpoint's)."""
        found = selectors.delivery_of(self.get_object(), delivery_id)
        if found is None:
            raise NotFound("No such delivery of this endpoint.")
        return found


class WebhookDeliveryDetailApi(WebhookDeliveryApiBase):
    @extend_schema(
        operation_id="webhooks_deliveries_retrieve",
        tags=TAGS,
        description="One delivery: what its last attempt sent and what came back.",
        responses={200: WebhookDeliveryDetailOutput, **_problems(401, 403, 404)},
        examples=[
            OpenApiExample(
                "A delivery",
                value={
                    **DELIVERY_EXAMPLE,
                    "request_headers": {"webhook-id": "evt_3f9a1c0d2b7e4a5f6c8d9e01"},
                    "request_body": '{"type":"contact.updated"}',
                },
                response_only=True,
            )
        ],
    )
    def get(self, request: Request, endpoint_id: str, delivery_id: int) -> Response:
        return Response(WebhookDeliveryDetailOutput(self.delivery(delivery_id)).data)


class WebhookDeliveryResendApi(WebhookDeliveryApiBase):
    @extend_schema(
        operation_id="webhooks_deliveries_resend",
        tags=TAGS,
        description="Send the delivery's event again, with the same `webhook-id` and body, and a new "
        "series of attempts.",
        request=None,
        responses={202: WebhookDeliveryOutput, **_problems(401, 403, 404, 409)},
        examples=[
            OpenApiExample(
                "Queued",
                value={**DELIVERY_EXAMPLE, "status": "pending", "attempts": 0},
                response_only=True,
                status_codes=["202"],
            )
        ],
    )
    def post(self, request: Request, endpoint_id: str, delivery_id: int) -> Response:
        delivery = services.delivery_resend(delivery=self.delivery(delivery_id))
        return Response(WebhookDeliveryOutput(delivery).data, status=status.HTTP_202_ACCEPTED)
