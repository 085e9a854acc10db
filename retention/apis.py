"""The workspace API's retention resource (``/api/v1/retention``, owners and admins, API
keys with the admin role): how long conversations, attachments and contacts are kept."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from saas.errors import ValidationFailed
from tenants.api_base import MANAGERS, TenantAPIView
from widget_builder.public_api import problem_responses

from .selectors import FIELDS, retention_in_force, retention_summary
from .services import MAX_DAYS, retention_policy_update

TAGS = ["retention"]
DAYS_HELP = "Days kept; null: forever (only on a plan without a limit)."
EXAMPLE = {
    "conversations_days": 365,
    "attachments_days": 90,
    "contacts_days": 365,
    "plan": "starter",
    "plan_max_days": 365,
    "narrowed": None,
    "updated_at": "2026-12-01T09:30:00Z",
}
BEYOND_EXAMPLE = {
    "type": "/docs/errors#retention_beyond_plan",
    "title": "Longer than the plan allows",
    "status": 422,
    "detail": "The Starter plan keeps data at most 365 days.",
    "code": "retention_beyond_plan",
    "errors": {
        "conversations_days": [
            {
                "code": "retention_beyond_plan",
                "message": "The Starter plan keeps data at most 365 days, not forever.",
            }
        ]
    },
    "plan_max_days": 365,
}


class RetentionOutput(serializers.Serializer):
    conversations_days = serializers.IntegerField(allow_null=True, help_text=DAYS_HELP)
    attachments_days = serializers.IntegerField(allow_null=True, help_text=DAYS_HELP)
    contacts_days = serializers.IntegerField(allow_null=True, help_text=DAYS_HELP)
    plan = serializers.CharField(help_text="The workspace's plan.")
    plan_max_days = serializers.IntegerField(
        allow_null=True, help_text="The longest the plan keeps anything; null: no limit."
    )
    narrowed = serializers.DictField(
        allow_null=True,
        help_text="Set when a plan change narrowed longer periods: the plan, days, what they were.",
    )
    updated_at = serializers.DateTimeField(allow_null=True)


class RetentionInput(serializers.Serializer):
    conversations_days = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=MAX_DAYS, help_text=DAYS_HELP
    )
    attachments_days = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=MAX_DAYS, help_text=DAYS_HELP
    )
    contacts_days = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=MAX_DAYS, help_text=DAYS_HELP
    )


def _valid(data: Any) -> dict[str, Any]:
    serializer = RetentionInput(data=data)
    if not serializer.is_valid():
        errors = {
            field: [{"code": str(getattr(e, "code", "invalid")), "message": str(e)} for e in items]
            for field, items in serializer.errors.items()
        }
        raise ValidationFailed("Some retention periods are not valid.", errors=errors)
    return dict(serializer.validated_data)


class RetentionApi(TenantAPIView):
    required_roles = {"GET": MANAGERS, "PATCH": MANAGERS}

    @extend_schema(
        operation_id="retention_retrieve",
        tags=TAGS,
        description="The periods in force: the workspace's choice within its plan's limit.",
        responses={200: RetentionOutput, **problem_responses(401, 403)},
        examples=[OpenApiExample("In force", value=EXAMPLE, response_only=True)],
    )
    def get(self, request: Request) -> Response:
        return Response(RetentionOutput(retention_summary(retention_in_force(tenant=self.tenant))).data)

    @extend_schema(
        operation_id="retention_update",
        tags=TAGS,
        description="Change how long each kind is kept; the fields left out keep the periods in "
        "force. A period longer than the plan allows is refused (`retention_beyond_plan`). "
        "The nightly purge applies the change.",
        request=RetentionInput,
        responses={
            200: RetentionOutput,
            **problem_responses(
                401, 403, described={422: "A period out of range, or longer than the plan allows."}
            ),
        },
        examples=[
            OpenApiExample("Shorter", value={"attachments_days": 90}, request_only=True),
            OpenApiExample("Saved", value=EXAMPLE, response_only=True),
            OpenApiExample(
                "Beyond the plan",
                value=BEYOND_EXAMPLE,
                response_only=True,
                status_codes=["422"],
                media_type="application/problem+json",
            ),
        ],
    )
    def patch(self, request: Request) -> Response:
        data = _valid(request.data)
        days = {**retention_in_force(tenant=self.tenant).days, **data}
        retention_policy_update(tenant=self.tenant, request=request._request, **{f: days[f] for f in FIELDS})
        return Response(RetentionOutput(retention_summary(retention_in_force(tenant=self.tenant))).data)
