"""``GET /api/v1/audit-events``: the workspace audit log a page at a time (owners, admins
and admin keys), with the page's filters: ``action``, ``category``, ``actor``, ``since``,
``until``, ``target_type``, ``target``."""

from __future__ import annotations

import re
from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from saas.api_pages import PageInput, ordering_field, page_of, page_output, page_parameters, valid_query
from tenants.api_base import MANAGERS, TenantAPIView

from .actions import CATEGORIES, action_category, action_label
from .models import AuditEvent
from .selectors import AuditFilters, actor_shown, actor_value, audit_events

ACTION_SHAPE = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
ACTOR_SHAPE = re.compile(r"^(system|(member|api_key|staff):[0-9]{1,18})$")
BAD_PARAMETERS = "A parameter is not valid (`validation_error`, with `errors` per field)."
EVENT_EXAMPLE = {
    "id": 4182,
    "created_at": "2026-12-04T12:00:00.123456Z",
    "action": "widget.updated",
    "action_label": "Changed a widget's settings",
    "category": "widgets",
    "actor": {"kind": "member", "id": 17, "name": "ana@acme.example", "filter": "member:17"},
    "target": {"type": "widget", "id": "3", "name": "Website chat"},
    "metadata": {"changed": ["greeting"], "greeting": {"from": "Hi!", "to": "Hello!"}, "published": False},
    "ip_address": "203.0.113.9",
}


class AuditEventListInput(PageInput):
    ordering = ordering_field(("created_at",), default="-created_at")
    action = serializers.CharField(
        required=False,
        max_length=64,
        help_text="An action code, such as `member.invited`.",
    )
    category = serializers.ChoiceField(
        choices=list(CATEGORIES), required=False, help_text="The actions of one category."
    )
    actor = serializers.CharField(
        required=False,
        max_length=40,
        help_text="`member:<user id>`, `api_key:<key id>`, `staff:<user id>` or `system`.",
    )
    since = serializers.DateTimeField(required=False, help_text="Events at or after this time (RFC 3339).")
    until = serializers.DateTimeField(required=False, help_text="Events before this time (RFC 3339).")
    target_type = serializers.CharField(required=False, max_length=64, help_text="`widget`, `membership`, …")
    target = serializers.CharField(
        required=False, max_length=100, help_text="A target's id, or words of its name."
    )

    def validate_action(self, value: str) -> str:
        if not ACTION_SHAPE.match(value):
            raise serializers.ValidationError("An action code looks like `member.invited`.", code="invalid")
        return value

    def validate_actor(self, value: str) -> str:
        if not ACTOR_SHAPE.match(value):
            raise serializers.ValidationError(
                "Name an actor as member:<id>, api_key:<id>, staff:<id> or system.", code="invalid"
            )
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("since") and attrs.get("until") and attrs["since"] >= attrs["until"]:
            raise serializers.ValidationError({"until": "Give a time after `since`."}, code="invalid")
        return attrs


class AuditActorOutput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=AuditEvent.ActorKind.choices)
    id = serializers.IntegerField(allow_null=True, help_text="The user's or key's id; null: the system.")
    name = serializers.CharField(help_text="The member's email, the key's name, or System.")
    filter = serializers.CharField(help_text="The value of `actor` that selects this actor's events.")


class AuditTargetOutput(serializers.Serializer):
    type = serializers.CharField(help_text="The kind of thing acted on: `widget`, `membership`, …")
    id = serializers.CharField()
    name = serializers.CharField(help_text="Its name when the event was recorded.")


class AuditEventOutput(serializers.Serializer):
    id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    action = serializers.CharField()
    action_label = serializers.SerializerMethodField()
    category = serializers.SerializerMethodField()
    actor = serializers.SerializerMethodField()
    target = serializers.SerializerMethodField()
    metadata = serializers.DictField(help_text="What changed (old and new values); never a secret.")
    ip_address = serializers.IPAddressField(allow_null=True)

    def get_action_label(self, event: AuditEvent) -> str:
        return action_label(event.action)

    def get_category(self, event: AuditEvent) -> str:
        return action_category(event.action)

    @extend_schema_field(AuditActorOutput)
    def get_actor(self, event: AuditEvent) -> dict[str, Any]:
        return {
            "kind": event.actor_kind,
            "id": event.actor_id,
            "name": actor_shown(event),
            "filter": actor_value(event),
        }

    @extend_schema_field(AuditTargetOutput)
    def get_target(self, event: AuditEvent) -> dict[str, str]:
        return {"type": event.target_type, "id": event.target_id, "name": event.target_repr}


AuditEventPageOutput = page_output("AuditEventPageOutput", AuditEventOutput)


class AuditEventListApi(TenantAPIView):
    queryset = AuditEvent.objects.all()
    required_roles = {"GET": MANAGERS}
    openapi_problems = {**TenantAPIView.openapi_problems, 422: BAD_PARAMETERS}

    @extend_schema(
        parameters=page_parameters(AuditEventListInput),
        responses=AuditEventPageOutput,
        operation_id="audit_events_list",
        tags=["audit"],
        description="The workspace audit log, newest first, a page at a time: who did what, when, to "
        "what (owners, admins and admin keys). Events are never changed or deleted.",
        examples=[
            OpenApiExample(
                "A page", value={"results": [EVENT_EXAMPLE], "next_cursor": None}, response_only=True
            )
        ],
    )
    def get(self, request: Request) -> Response:
        query = valid_query(AuditEventListInput, request)
        filters = AuditFilters(
            actor=query.get("actor", ""),
            action=query.get("action", ""),
            category=query.get("category", ""),
            since=query.get("since"),
            until=query.get("until"),
            target_type=query.get("target_type", ""),
            target=query.get("target", ""),
        )
        rows, next_cursor = page_of(audit_events(filters, self.get_queryset()), query)
        return Response({"results": AuditEventOutput(rows, many=True).data, "next_cursor": next_cursor})
