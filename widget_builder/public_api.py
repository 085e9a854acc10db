"""The public widget API base (``/api/widget/v1/<widget_key>/...`` on the public host).

Visitors' browsers call it from customers' sites, so every call:
* resolves the tenant from the widget key through the public registry (cached), never
  from the host, and runs inside that tenant's schema;
* checks the ``Origin`` against the widget's allowed origins and answers CORS for that
  widget only (no credentials: visitors carry bearer tokens, never cookies);
* is rate limited per IP and per widget (429 with ``Retry-After``);
* answers an unavailable widget (disabled, or its workspace suspended) with a documented
  status the loader turns into an "offline" widget instead of breaking the page.
"""

from __future__ import annotations

from django.conf import settings
from django.utils.cache import patch_vary_headers
from django_tenants.utils import tenant_context
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from saas.errors import NotFound, PermissionDenied, ServiceUnavailable, problem_response
from saas.ratelimit import rate_limit_enforce
from tenants.models import Tenant
from tenants.selectors import widget_route_resolve

from .hours import is_open
from .models import Widget
from .origins import origin_allowed

CORS_ALLOW_HEADERS = "Authorization, Content-Type"
CORS_MAX_AGE = "600"


class OriginNotAllowed(PermissionDenied):
    code = "origin_not_allowed"
    title = "This site may not use this widget"


class WidgetUnavailable(ServiceUnavailable):
    code = "widget_unavailable"
    title = "This widget is offline"


class WidgetPublicView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    # Views that answer an unavailable widget themselves (the config says "offline").
    serves_unavailable = False
    widget: Widget
    tenant: Tenant

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        limits = settings.WIDGET_RATE_LIMITS
        rate_limit_enforce(request, "widget-ip", limit=limits["ip_per_minute"], period_s=60)
        rate_limit_enforce(
            request, "widget", limit=limits["widget_per_minute"], period_s=60, key=kwargs["widget_key"]
        )

    def dispatch(self, request, *args, widget_key: str = "", **kwargs):
        tenant = widget_route_resolve(widget_key)
        if tenant is None or tenant.status in (Tenant.Status.DELETING, Tenant.Status.PROVISIONING):
            return problem_response(NotFound("No widget has this key."))
        with tenant_context(tenant):
            widget = Widget.objects.filter(key=widget_key).first()
            if widget is None:
                return problem_response(NotFound("No widget has this key."))
            self.tenant, self.widget = tenant, widget
            self.available = tenant.status == Tenant.Status.ACTIVE and widget.is_enabled
            return super().dispatch(request, *args, widget_key=widget_key, **kwargs)

    def check_permissions(self, request):
        super().check_permissions(request)
        if not self.origin_ok(request):
            raise OriginNotAllowed("Add this site's origin to the widget's allowed domains.")
        if not self.available and not self.serves_unavailable and request.method != "OPTIONS":
            raise WidgetUnavailable("The widget is offline. Try again later.")

    def origin_ok(self, request) -> bool:
        """The widget's allowed origins, plus our own public host (the dashboard's "test on
        a blank page" and preview run there)."""
        origin = request.headers.get("Origin")
        own = f"{request.scheme}://{request.get_host()}"
        return origin == own or origin_allowed(origin, self.widget.allowed_origins)

    def options(self, request, *args, **kwargs):
        return Response(status=204)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        origin = request.headers.get("Origin")
        widget = getattr(self, "widget", None)
        if origin and widget is not None and self.origin_ok(request):
            response["Access-Control-Allow-Origin"] = origin
            response["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
            response["Access-Control-Allow-Headers"] = CORS_ALLOW_HEADERS
            response["Access-Control-Max-Age"] = CORS_MAX_AGE
        patch_vary_headers(response, ["Origin"])
        if not response.has_header("Cache-Control"):
            response["Cache-Control"] = "no-store"
        return response


class WidgetConfigApi(WidgetPublicView):
    """The published configuration, or ``{"available": false}`` when the widget is offline."""

    serves_unavailable = True

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
