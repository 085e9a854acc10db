"""The public widget API base (``/api/widget/v1/<widget_key>/...`` on the public host).

Visitors' browsers call it from customers' sites, so every call:
* resolves the tenant from the widget key through the public registry (cached), never
  from the host, and runs inside that tenant's schema;
* checks the ``Origin`` against the widget's allowed origins and answers CORS for that
  widget only (no credentials: visitors carry bearer tokens, never cookies);
* is rate limited per IP and per widget (429 with ``Retry-After``), then by the limits
  its view adds (``throttle_classes``, ``throttles_by_method``);
* answers an unavailable widget (disabled, or its workspace suspended) with a documented
  status the loader turns into an "offline" widget instead of breaking the page.

The origin and availability come before anything else, credentials included: an offline
widget says so whatever token the visitor holds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, cast

from django.utils.cache import patch_vary_headers
from django_tenants.utils import tenant_context
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from saas.errors import PROBLEM_CONTENT_TYPE, NotFound, PermissionDenied, ServiceUnavailable, problem_response
from saas.observability.context import context_bind
from saas.openapi import ProblemOutput
from saas.request_body import BodyLimitMixin
from saas.throttles import CacheRateThrottle, ProblemThrottlingMixin
from tenants.models import Tenant
from tenants.selectors import widget_route_resolve

from .hours import is_open
from .models import Widget
from .origins import origin_allowed
from .snapshots import widget_for_key

CORS_ALLOW_HEADERS = "Authorization, Content-Type"
CORS_MAX_AGE = "600"


class OriginNotAllowed(PermissionDenied):
    code = "origin_not_allowed"
    title = "This site may not use this widget"


class WidgetUnavailable(ServiceUnavailable):
    code = "widget_unavailable"
    title = "This widget is offline"


class WidgetIpThrottle(CacheRateThrottle):
    """Every widget call, per client address."""

    scope, period_s = "widget-ip", 60
    limits_setting, limit_name = "WIDGET_RATE_LIMITS", "ip_per_minute"


class WidgetThrottle(CacheRateThrottle):
    """Every call to one widget, whoever makes it."""

    scope, period_s = "widget", 60
    limits_setting, limit_name = "WIDGET_RATE_LIMITS", "widget_per_minute"

    def counter_key(self, request: Request, view: APIView) -> str:
        return cast("WidgetPublicView", view).widget.key  # a throttle of the widget's views


class WidgetPublicView(BodyLimitMixin, ProblemThrottlingMixin, APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list[type[BaseThrottle]] = [WidgetIpThrottle, WidgetThrottle]
    # Limits that apply to one method only, checked after ``throttle_classes``.
    throttles_by_method: ClassVar[Mapping[str, Sequence[type[BaseThrottle]]]] = {}
    # Views that answer an unavailable widget themselves (the config says "offline").
    serves_unavailable = False
    # What any widget call may be answered, in the OpenAPI document (saas.openapi).
    openapi_problems: ClassVar[dict[int, str]] = {
        403: "This site's origin is not among the widget's allowed origins (`origin_not_allowed`).",
        404: "No widget has this key (`not_found`).",
        429: "Too many requests (`rate_limited`); `Retry-After` says when to try again.",
        503: "The widget is offline (`widget_unavailable`).",
    }
    widget: Widget
    tenant: Tenant

    def dispatch(self, request, *args, widget_key: str = "", **kwargs):
        tenant = widget_route_resolve(widget_key)
        if tenant is None or tenant.status in (Tenant.Status.DELETING, Tenant.Status.PROVISIONING):
            return problem_response(NotFound("No widget has this key."))
        context_bind(workspace=tenant.schema_name, widget_key=widget_key)  # on this request's log lines
        with tenant_context(tenant):
            widget = widget_for_key(widget_key)
            if widget is None:
                return problem_response(NotFound("No widget has this key."))
            self.tenant, self.widget = tenant, widget
            self.available = tenant.status == Tenant.Status.ACTIVE and widget.is_enabled
            return super().dispatch(request, *args, widget_key=widget_key, **kwargs)

    def perform_authentication(self, request: Request) -> None:
        # Credentials are read when a permission asks for them, after the origin and
        # availability checks (DRF would read them first).
        return None

    def check_permissions(self, request: Request) -> None:
        if not self.origin_ok(request):
            raise OriginNotAllowed("Add this site's origin to the widget's allowed domains.")
        if not self.available and not self.serves_unavailable and request.method != "OPTIONS":
            raise WidgetUnavailable("The widget is offline. Try again later.")
        super().check_permissions(request)

    def get_throttles(self) -> list[BaseThrottle]:
        classes = [*self.throttle_classes, *self.throttles_by_method.get(self.request.method or "", [])]
        return [throttle() for throttle in classes]

    def origin_ok(self, request) -> bool:
        """The widget's allowed origins, plus our own public host (the dashboard's "test on
        a blank page" and preview run there)."""
        origin = request.headers.get("Origin")
        own = f"{request.scheme}://{request.get_host()}"
        return origin == own or origin_allowed(origin, self.widget.allowed_origins)

    @extend_schema(exclude=True)
    def options(self, request, *args, **kwargs):
        return Response(status=204)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        origin = request.headers.get("Origin")
        widget = getattr(self, "widget", None)
        if origin and widget is not None and self.origin_ok(request):
            response["Access-Control-Allow-Origin"] = origin
            # What this endpoint answers (a visitor renames with PATCH and deletes with DELETE).
            response["Access-Control-Allow-Methods"] = ", ".join(
                m for m in ("GET", "POST", "PATCH", "DELETE", "OPTIONS") if m in self.allowed_methods
            )
            response["Access-Control-Allow-Headers"] = CORS_ALLOW_HEADERS
            response["Access-Control-Max-Age"] = CORS_MAX_AGE
        patch_vary_headers(response, ["Origin"])
        if not response.has_header("Cache-Control"):
            response["Cache-Control"] = "no-store"
        return response


# --- OpenAPI ------------------------------------------------------------------------------


PROBLEMS = {
    401: "The visitor token is missing, not valid here or expired "
    "(`visitor_token_invalid`, `visitor_token_expired`).",
    403: "This site's origin is not among the widget's allowed origins (`origin_not_allowed`).",
    404: "No widget has this key, or the object is not the visitor's (`not_found`).",
    409: "The request conflicts with the current state.",
    413: "The request body is too large (`payload_too_large`).",
    422: "Some fields are not valid (`validation_error`, with `errors` per field).",
    429: "Too many requests (`rate_limited`); `Retry-After` says when to try again.",
    503: "The widget is offline (`widget_unavailable`).",
}


def problem_responses(*statuses: int, described: dict[int, str] | None = None) -> dict[Any, OpenApiResponse]:
    """``extend_schema`` responses for these error statuses, as problem details;
    ``described`` adds statuses with a description of their own."""
    described = described or {}
    return {
        (status, PROBLEM_CONTENT_TYPE): OpenApiResponse(
            ProblemOutput, description=described.get(status) or PROBLEMS[status]
        )
        for status in sorted({*statuses, *described})
    }


class WidgetConfigOutput(serializers.Serializer):
    """The published configuration; only ``key`` and ``available`` when the widget is
    offline."""

    key = serializers.CharField()
    available = serializers.BooleanField()
    name = serializers.CharField(required=False)
    bot_name = serializers.CharField(required=False)
    greeting = serializers.CharField(required=False)
    colors = serializers.DictField(child=serializers.CharField(), required=False)
    position = serializers.CharField(required=False)
    offset = serializers.DictField(child=serializers.IntegerField(), required=False)
    theme = serializers.CharField(required=False)
    launcher_icon = serializers.CharField(required=False)
    avatar = serializers.CharField(required=False)
    launcher_image = serializers.CharField(required=False)
    locale = serializers.CharField(required=False)
    suggested_questions = serializers.ListField(child=serializers.CharField(), required=False)
    custom_css = serializers.CharField(required=False)
    branding = serializers.BooleanField(required=False)
    business_hours = serializers.JSONField(required=False)
    offline_message = serializers.CharField(required=False)
    prechat = serializers.JSONField(required=False, help_text="enabled, fields, consent")
    open_now = serializers.BooleanField(required=False)


CONFIG_EXAMPLE = {
    "key": "wk_Q2hhdFdpZGdldEtleTE",
    "available": True,
    "name": "Website chat",
    "bot_name": "Sunny",
    "greeting": "Hi! How can I help you today?",
    "colors": {"primary": "#1f4fd1", "text": "#ffffff"},
    "position": "right",
    "offset": {"x": 20, "y": 20},
    "theme": "auto",
    "launcher_icon": "chat",
    "avatar": "",
    "launcher_image": "",
    "locale": "auto",
    "suggested_questions": ["Do you ship abroad?"],
    "custom_css": "",
    "branding": True,
    "business_hours": {"tz": "Europe/Berlin", "days": {"mon": [["09:00", "17:00"]]}},
    "offline_message": "We're away right now.",
    "prechat": {
        "enabled": True,
        "fields": [{"kind": "email", "label": "Your email", "required": True}],
        "consent": None,
    },
    "open_now": True,
}


class WidgetConfigApi(WidgetPublicView):
    """The published configuration, or ``{"available": false}`` when the widget is offline."""

    serves_unavailable = True
    openapi_problems = {
        status: text for status, text in WidgetPublicView.openapi_problems.items() if status != 503
    }

    @extend_schema(
        operation_id="widget_config",
        tags=["widget"],
        responses={200: WidgetConfigOutput, **problem_responses(403, 404, 429)},
        examples=[
            OpenApiExample("Published", value=CONFIG_EXAMPLE, response_only=True, status_codes=["200"]),
            OpenApiExample(
                "Offline",
                value={"key": "wk_Q2hhdFdpZGdldEtleTE", "available": False},
                response_only=True,
                status_codes=["200"],
            ),
        ],
    )
    def get(self, request, widget_key: str):
        if not self.available:
            return Response({"key": widget_key, "available": False})
        config = self.widget.published_config
        return Response(
            {
                "key": widget_key,
                "available": True,
                **config,
                "open_now": is_open(config.get("business_hours") or {}),
            }
        )
