"""Writes for the public widget-key registry (called by the widget app)."""

from __future__ import annotations

from ..context import in_public_schema
from ..models import Tenant, WidgetRoute
from ..selectors import widget_route_cache_forget


@in_public_schema
def widget_route_register(*, tenant: Tenant, key: str) -> WidgetRoute:
    route, _ = WidgetRoute.objects.get_or_create(key=key, defaults={"tenant": tenant})
    if route.tenant_id != tenant.pk:
        raise ValueError("widget key already registered to another tenant")
    widget_route_cache_forget(key)
    return route


@in_public_schema
def widget_route_forget(*, key: str) -> None:
    WidgetRoute.objects.filter(key=key).delete()
    widget_route_cache_forget(key)
