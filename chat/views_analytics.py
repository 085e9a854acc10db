"""The dashboard's Analytics section (tenant host): the last 7 or 30 days of the workspace's
widgets, or of one, each figure beside the period before, and conversations per day."""

from __future__ import annotations

import zoneinfo

from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode

from tenants.dashboard import DashboardRequest, dashboard_page
from tenants.views import shell_context
from ui.charts import bar_chart
from widget_builder.models import Widget

from .analytics import RANGES, analytics_overview


def _tz(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


@dashboard_page("analytics")
def analytics(request: DashboardRequest):
    days = int(request.GET["days"]) if request.GET.get("days") in {str(n) for n in RANGES} else RANGES[0]
    widgets = list(Widget.objects.order_by("name").values_list("pk", "name"))
    asked = request.GET.get("widget", "")
    widget_id = next((pk for pk, _ in widgets if str(pk) == asked), None)
    overview = analytics_overview(days=days, tz=_tz(request.tenant.time_zone), widget_id=widget_id)
    base = reverse("chat:analytics")

    def link(**params: int) -> str:
        query: dict[str, int] = {"days": days, "widget": widget_id or 0, **params}
        return base + "?" + urlencode({k: v for k, v in query.items() if v})

    context = shell_context(
        request,
        overview=overview,
        chart=bar_chart(overview.daily_conversations, unit="conversations", unit_one="conversation"),
        ranges=[(link(days=n), f"Last {n} days", n == days) for n in RANGES],
        widgets=widgets,
        widget_id=widget_id,
        days=days,
        time_zone=request.tenant.time_zone,
    )
    return render(request, "tenants/analytics.html", context)
