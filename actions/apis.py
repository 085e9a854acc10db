"""Tenant REST API, v1 (tenant host, ``/api/v1/actions``): the workspace's AI actions, their
signing secrets, the test runner and each action's call log (docs/actions.md).

Roles as the dashboard's "API" section: owners and admins, and admin API keys. Each view
calls one ``actions.services`` write or ``actions.selectors`` read. Headers are write-only:
never answered. The secret is answered when an action is created, rotated, and to
``GET .../secret``.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from saas.api_pages import PageInput, ordering_field, page_of, page_output, page_parameters, valid_query
from saas.openapi import problems_of
from saas.ratelimit import rate_limit_enforce
from saas.request_body import NO_BODY_BYTES, SMALL_BODY_BYTES
from saas.tenant_connection import connection
from tenants.api_base import MANAGERS, TenantAPIView

from . import selectors, services
from .models import Action, ActionCall

TAGS = ["actions"]
TESTS_PER_MINUTE = services.TESTS_PER_MINUTE
PROBLEMS = {
    401: "Not signed in, or the API key is not valid here (`not_authenticated`).",
    403: "Only owners, admins and admin keys manage actions (`permission_denied`).",
    404: "No such action in this workspace (`not_found`).",
    429: "More than 30 test calls a minute in this workspace (`rate_limited`, with `Retry-After`).",
    422: "Some fields are not valid (`validation_error`, with `errors` per field): a schema that is "
    "not JSON Schema, an address that is not https on a public host, a header the platform sets.",
}
PARAMETERS_EXAMPLE = {
    "type": "object",
    "properties": {"order_id": {"type": "string", "pattern": "^[0-9]{1,10}$", "title": "Order number"}},
    "required": ["order_id"],
}
ACTION_EXAMPLE = {
    "id": "0f6c1d2e-3b4a-4c5d-8e9f-a0b1c2d3e4f5",
    "name": "order_status",
    "title": "Order status",
    "description": "Where an order is: its delivery status and carrier.",
    "parameters": PARAMETERS_EXAMPLE,
    "method": "GET",
    "url": "https://shop.example.com/api/orders/{order_id}",
    "header_names": ["Authorization"],
    "timeout_seconds": 10,
    "response_fields": ["status", "carrier"],
    "audience": "verified",
    "requires_confirmation": False,
    "trigger_phrases": ["where is my order"],
    "enabled": True,
    "widgets": [],
    "created_at": "2026-12-04T09:12:44.120931Z",
    "updated_at": "2026-12-04T09:12:44.120931Z",
}
SECRET_EXAMPLE = "acsec_2hQn3m0VbX1yqJcW8tK5rLzP9sD4fG7aE6uI0oY1pTw"  # noqa: S105 - a documentation example
CALL_EXAMPLE = {
    "id": "6a1f2c4e-8d3b-4f7a-9e21-5b0c7d9a1e34",
    "action_name": "order_status",
    "conversation_id": 42,
    "called_by": "answer",
    "arguments": {"order_id": "1042"},
    "status": "succeeded",
    "http_status": 200,
    "duration_ms": 84,
    "result": '{"status":"shipped","carrier":"DHL"}',
    "response_excerpt": '{"status": "shipped", "carrier": "DHL", "eta": "2026-12-06"}',
    "error": "",
    "created_at": "2026-12-04T09:15:02.540112Z",
}

_problems = partial(problems_of, PROBLEMS)


# --- output --------------------------------------------------------------------------------


class ActionOutput(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    name = serializers.CharField(help_text="The tool's name for the model.")
    title = serializers.CharField()
    description = serializers.CharField(help_text="What the model reads to decide when to call it.")
    parameters = serializers.JSONField(help_text="JSON Schema of the input object.")
    method = serializers.ChoiceField(choices=Action.Method.choices)
    url = serializers.CharField(help_text="`{name}` places take the input of that name.")
    header_names = serializers.SerializerMethodField(
        help_text="The headers sent (their values are never shown)."
    )
    timeout_seconds = serializers.IntegerField()
    response_fields = serializers.ListField(child=serializers.CharField())
    audience = serializers.ChoiceField(choices=Action.Audience.choices)
    requires_confirmation = serializers.BooleanField()
    trigger_phrases = serializers.ListField(
        child=serializers.CharField(),
        help_text="Without an LLM, a visitor message with one of these phrases opens the action's form.",
    )
    enabled = serializers.BooleanField(source="is_enabled")
    widgets = serializers.SerializerMethodField(
        help_text="The ids of the widgets it is offered on; empty: every widget."
    )
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_header_names(self, action: Action) -> list[str]:
        return selectors.action_header_names(action)

    def get_widgets(self, action: Action) -> list[int]:
        return selectors.action_widget_ids(action)


class ActionCreatedOutput(ActionOutput):
    secret = serializers.CharField(help_text="The signing secret (`acsec_...`): verify calls with it.")


class ActionSecretOutput(serializers.Serializer):
    secret = serializers.CharField(help_text="The signing secret (`acsec_...`).")


class ActionCallOutput(serializers.Serializer):
    id = serializers.UUIDField(source="public_id", help_text="The `X-Chatbot-Call-Id` sent.")
    action_name = serializers.CharField()
    conversation_id = serializers.IntegerField(allow_null=True)
    called_by = serializers.ChoiceField(
        source="source",
        choices=ActionCall.Source.choices,
        help_text="A visitor's answer, or the test runner.",
    )
    arguments = serializers.JSONField()
    status = serializers.ChoiceField(choices=ActionCall.Status.choices)
    http_status = serializers.IntegerField(allow_null=True)
    duration_ms = serializers.IntegerField(allow_null=True)
    result = serializers.CharField(help_text="What the model was given.")
    response_excerpt = serializers.CharField(help_text="The first 2 KB of the endpoint's answer.")
    error = serializers.CharField()
    created_at = serializers.DateTimeField()


ActionPageOutput = page_output("ActionPageOutput", ActionOutput)
ActionCallPageOutput = page_output("ActionCallPageOutput", ActionCallOutput)


# --- input ---------------------------------------------------------------------------------


class ActionListInput(PageInput):
    ordering = ordering_field(("name", "created_at"), default="name")


class ActionCallListInput(PageInput):
    status = serializers.ChoiceField(choices=ActionCall.Status.choices, required=False)
    ordering = ordering_field(("created_at",), default="-created_at")


class ActionInput(serializers.Serializer):
    name = serializers.CharField(max_length=64)
    title = serializers.CharField(max_length=120, required=False, allow_blank=True)
    description = serializers.CharField(max_length=4000)
    parameters = serializers.JSONField(required=False, help_text='JSON Schema, `"type": "object"`.')
    method = serializers.ChoiceField(choices=Action.Method.choices, required=False)
    url = serializers.CharField(max_length=2000)
    headers = serializers.DictField(
        child=serializers.CharField(max_length=4000, allow_blank=True),
        required=False,
        help_text="Sent with every call; stored encrypted, never answered.",
    )
    timeout_seconds = serializers.IntegerField(min_value=1, max_value=30, required=False)
    response_fields = serializers.ListField(
        child=serializers.CharField(max_length=200), max_length=50, required=False
    )
    audience = serializers.ChoiceField(choices=Action.Audience.choices, required=False)
    requires_confirmation = serializers.BooleanField(required=False)
    trigger_phrases = serializers.ListField(
        child=serializers.CharField(max_length=100),
        max_length=20,
        required=False,
        help_text="Words or phrases (whole words, any case): without an LLM, a visitor message with one "
        "of them opens the action's form in the widget (its parameters asked); sending it runs the call.",
    )
    enabled = serializers.BooleanField(required=False)
    widgets = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        max_length=100,
        required=False,
        help_text="Offer it only on these widgets (their ids); empty or left out: every widget.",
    )


class ActionUpdateInput(ActionInput):
    """The fields sent replace the stored ones; the others stay (``headers`` too)."""

    name = serializers.CharField(max_length=64, required=False)
    description = serializers.CharField(max_length=4000, required=False)
    url = serializers.CharField(max_length=2000, required=False)


class ActionTestInput(serializers.Serializer):
    arguments = serializers.JSONField(help_text="Sample inputs, as the model would send them.")
    visitor_id = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        help_text="Call as a visitor whose verified id is this (empty: an anonymous visitor).",
    )


class ActionImportInput(serializers.Serializer):
    document = serializers.JSONField(
        help_text="An OpenAPI 3 document (JSON), with an absolute `servers[0].url`."
    )
    operations = serializers.ListField(
        child=serializers.CharField(max_length=200),
        required=False,
        max_length=100,
        help_text="The operations to import, by the action names they get (their operationId); "
        "all when left out.",
    )
    headers = serializers.DictField(
        child=serializers.CharField(max_length=4000, allow_blank=True),
        required=False,
        help_text="Sent with every call of every imported action (an API key, say); stored encrypted.",
    )
    dry_run = serializers.BooleanField(default=False, help_text="Check only: nothing is created.")


class ActionImportResultOutput(serializers.Serializer):
    name = serializers.CharField()
    id = serializers.UUIDField(allow_null=True, help_text="The new action's id (null: not created).")
    problems = serializers.DictField(source="errors", help_text="Per field, what kept it out (empty: fine).")


def _service_data(validated: dict[str, Any]) -> dict[str, Any]:
    data = dict(validated)
    if "enabled" in data:
        data["is_enabled"] = data.pop("enabled")
    return data


# --- views ---------------------------------------------------------------------------------


class ActionApiBase(TenantAPIView):
    queryset = Action.objects.prefetch_related("widgets")
    lookup_field = "public_id"
    lookup_url_kwarg = "action_id"
    required_roles = {"GET": MANAGERS, "POST": MANAGERS, "PATCH": MANAGERS, "DELETE": MANAGERS}
    max_body_bytes = NO_BODY_BYTES


class ActionListApi(ActionApiBase):
    max_body_bytes = SMALL_BODY_BYTES

    @extend_schema(
        operation_id="actions_list",
        tags=TAGS,
        description="The workspace's AI actions, a page at a time.",
        parameters=page_parameters(ActionListInput),
        responses={200: ActionPageOutput, **_problems(401, 403, 404, 422)},
        examples=[
            OpenApiExample(
                "A page", value={"results": [ACTION_EXAMPLE], "next_cursor": None}, response_only=True
            )
        ],
    )
    def get(self, request: Request) -> Response:
        query = valid_query(ActionListInput, request)
        rows, next_cursor = page_of(self.get_queryset(), query)
        return Response({"results": ActionOutput(rows, many=True).data, "next_cursor": next_cursor})

    @extend_schema(
        operation_id="actions_create",
        tags=TAGS,
        description="A new action the bot may call as a tool, with a new signing secret (in this "
        "answer, and from `GET actions/{id}/secret`).",
        request=ActionInput,
        responses={201: ActionCreatedOutput, **_problems(401, 403, 404, 422)},
        examples=[
            OpenApiExample(
                "Create",
                value={
                    "name": "order_status",
                    "description": "Where an order is: its delivery status and carrier.",
                    "parameters": PARAMETERS_EXAMPLE,
                    "method": "GET",
                    "url": "https://shop.example.com/api/orders/{order_id}",
                    "headers": {"Authorization": "Bearer shop-api-key"},
                    "response_fields": ["status", "carrier"],
                    "audience": "verified",
                },
                request_only=True,
            ),
            OpenApiExample(
                "Created",
                value={**ACTION_EXAMPLE, "secret": SECRET_EXAMPLE},
                response_only=True,
                status_codes=["201"],
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        data = ActionInput(data=request.data)
        data.is_valid(raise_exception=True)
        action = services.action_create(data=_service_data(data.validated_data), request=request)
        body = {**ActionOutput(action).data, "secret": selectors.action_signing_secret(action)}
        return Response(body, status=status.HTTP_201_CREATED)


class ActionDetailApi(ActionApiBase):
    max_body_bytes = SMALL_BODY_BYTES

    @extend_schema(
        operation_id="actions_retrieve",
        tags=TAGS,
        description="One action (its headers' names only).",
        responses={200: ActionOutput, **_problems(401, 403, 404)},
        examples=[OpenApiExample("An action", value=ACTION_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request, action_id: str) -> Response:
        return Response(ActionOutput(self.get_object()).data)

    @extend_schema(
        operation_id="actions_update",
        tags=TAGS,
        description="Change the action: the fields sent replace the stored ones (`headers` all "
        "together); `enabled: false` stops offering it to the model.",
        request=ActionUpdateInput,
        responses={200: ActionOutput, **_problems(401, 403, 404, 422)},
        examples=[
            OpenApiExample("Turn off", value={"enabled": False}, request_only=True),
            OpenApiExample("Saved", value={**ACTION_EXAMPLE, "enabled": False}, response_only=True),
        ],
    )
    def patch(self, request: Request, action_id: str) -> Response:
        data = ActionUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        action = services.action_update(
            action=self.get_object(), data=_service_data(data.validated_data), request=request
        )
        return Response(ActionOutput(action).data)

    @extend_schema(
        operation_id="actions_destroy",
        tags=TAGS,
        description="Delete the action; its calls stay in the transcripts under its name.",
        responses={204: None, **_problems(401, 403, 404)},
        examples=[OpenApiExample("Deleted", value=None, response_only=True, status_codes=["204"])],
    )
    def delete(self, request: Request, action_id: str) -> Response:
        services.action_delete(action=self.get_object(), request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ActionSecretApi(ActionApiBase):
    @extend_schema(
        operation_id="actions_secret",
        tags=TAGS,
        description="The action's signing secret.",
        responses={200: ActionSecretOutput, **_problems(401, 403, 404)},
        examples=[OpenApiExample("Secret", value={"secret": SECRET_EXAMPLE}, response_only=True)],
    )
    def get(self, request: Request, action_id: str) -> Response:
        return Response({"secret": selectors.action_signing_secret(self.get_object())})


class ActionSecretRotateApi(ActionApiBase):
    @extend_schema(
        operation_id="actions_rotate_secret",
        tags=TAGS,
        description="A new signing secret; calls are signed with it from now on (the old one no longer).",
        request=None,
        responses={200: ActionSecretOutput, **_problems(401, 403, 404)},
        examples=[OpenApiExample("Rotated", value={"secret": SECRET_EXAMPLE}, response_only=True)],
    )
    def post(self, request: Request, action_id: str) -> Response:
        return Response({"secret": services.action_secret_rotate(action=self.get_object(), request=request)})


class ActionTestApi(ActionApiBase):
    max_body_bytes = SMALL_BODY_BYTES

    @extend_schema(
        operation_id="actions_test",
        tags=TAGS,
        description="Call the action now with sample inputs, through every check a visitor's call "
        "goes through (no confirmation asked), and see what the endpoint answered and what the model "
        "would be given. The call is logged as a test.",
        request=ActionTestInput,
        responses={200: ActionCallOutput, **_problems(401, 403, 404, 422, 429)},
        examples=[
            OpenApiExample(
                "Test", value={"arguments": {"order_id": "1042"}, "visitor_id": "cust-42"}, request_only=True
            ),
            OpenApiExample(
                "Called",
                value={**CALL_EXAMPLE, "called_by": "test", "conversation_id": None},
                response_only=True,
            ),
        ],
    )
    def post(self, request: Request, action_id: str) -> Response:
        # Real requests from the platform's addresses: a few a minute per workspace.
        rate_limit_enforce(
            request, "actions-test", limit=TESTS_PER_MINUTE, period_s=60, key=connection.schema_name
        )
        data = ActionTestInput(data=request.data)
        data.is_valid(raise_exception=True)
        outcome = services.action_test(
            action=self.get_object(),
            arguments=data.validated_data["arguments"],
            visitor_id=data.validated_data.get("visitor_id", ""),
        )
        return Response(ActionCallOutput(outcome.call).data)


class ActionCallListApi(ActionApiBase):
    @extend_schema(
        operation_id="actions_calls_list",
        tags=TAGS,
        description="The action's calls (by the bot and the test runner), newest first, a page at a time.",
        parameters=page_parameters(ActionCallListInput),
        responses={200: ActionCallPageOutput, **_problems(401, 403, 404, 422)},
        examples=[
            OpenApiExample(
                "A page", value={"results": [CALL_EXAMPLE], "next_cursor": None}, response_only=True
            )
        ],
    )
    def get(self, request: Request, action_id: str) -> Response:
        query = valid_query(ActionCallListInput, request)
        rows = selectors.action_calls(self.get_object(), status=query.get("status"))
        page, next_cursor = page_of(rows, query)
        return Response({"results": ActionCallOutput(page, many=True).data, "next_cursor": next_cursor})


class ActionImportApi(ActionApiBase):
    max_body_bytes = 1024 * 1024  # an OpenAPI document

    @extend_schema(
        operation_id="actions_import",
        tags=TAGS,
        description="Actions from an OpenAPI 3 document: each operation (its path and query parameters "
        "and JSON body as the parameters, local `$ref`s resolved) checked as a new action is, and "
        "created unless `dry_run`. One result per operation; one refused does not keep the others out.",
        request=ActionImportInput,
        responses={200: ActionImportResultOutput(many=True), **_problems(401, 403, 404, 422)},
        examples=[
            OpenApiExample(
                "Import",
                value={
                    "document": {
                        "openapi": "3.1.0",
                        "info": {"title": "Shop", "version": "1"},
                        "servers": [{"url": "https://shop.example.com/api"}],
                        "paths": {
                            "/orders/{order_id}": {
                                "get": {
                                    "operationId": "order_status",
                                    "summary": "Where an order is",
                                    "parameters": [
                                        {
                                            "name": "order_id",
                                            "in": "path",
                                            "required": True,
                                            "schema": {"type": "string"},
                                        }
                                    ],
                                }
                            }
                        },
                    },
                    "headers": {"Authorization": "Bearer shop-api-key"},
                },
                request_only=True,
            ),
            OpenApiExample(
                "Imported",
                value={"name": "order_status", "id": "0f6c1d2e-3b4a-4c5d-8e9f-a0b1c2d3e4f5", "problems": {}},
                response_only=True,
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        data = ActionImportInput(data=request.data)
        data.is_valid(raise_exception=True)
        given = data.validated_data
        results = services.actions_import(
            document=given["document"],
            operations=given.get("operations"),
            headers=given.get("headers"),
            create=not given["dry_run"],
            request=request,
        )
        return Response(ActionImportResultOutput(results, many=True).data)
