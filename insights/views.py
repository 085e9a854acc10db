"""The dashboard's Analytics section (tenant host): a date range of the workspace's widgets,
or of one, each figure beside the range before, with charts per day, the busiest hours,
ratings, cited sources and answer speed."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode

from tenants.dashboard import DashboardRequest, dashboard_page
from tenants.views import shell_context
from ui.charts import bar_chart, heat_map
from widget_builder.models import Widget

from .selectors import (
    PRESETS,
    WEEKDAYS,
    PeriodInvalid,
    analytics_summary,
    period_between,
    period_ending_today,
)


def _date(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if len(value) == 10 else None
    except ValueError:
        return None


@dashboard_page("analytics")
def analytics(request: DashboardRequest):
    time_zone = request.tenant.time_zone
    query = request.GET
    widgets = list(Widget.objects.order_by("name").values_list("pk", "name"))
    asked = query.get("widget", "")
    widget_id = next((pk for pk, _ in widgets if str(pk) == asked), None)
    days: int | None = int(query["days"]) if query.get("days") in {str(n) for n in PRESETS} else None
    period, error = period_ending_today(days or PRESETS[0], time_zone), ""
    custom = {"from": query.get("from", ""), "to": query.get("to", "")}
    if custom["from"] or custom["to"]:  # dates typed in win over the preset the form carries
        days = None
        first, last = _date(custom["from"]), _date(custom["to"])
        if first is None or last is None:
            error = "Enter both dates as YYYY-MM-DD."
        else:
            try:
                period = period_between(first, last)
            except PeriodInvalid as invalid:
                error = invalid.message
        if error:
            days, period = PRESETS[0], period_ending_today(PRESETS[0], time_zone)
    elif days is None:
        days = PRESETS[0]
    summary = analytics_summary(period=period, time_zone=time_zone, widget_id=widget_id)
    base = reverse("insights:analytics")

    def link(**params: Any) -> str:
        merged: dict[str, Any] = {**params, "widget": widget_id or 0}
        return base + "?" + urlencode({k: v for k, v in merged.items() if v})

    context = shell_context(
        request,
        summary=summary,
        figures=summary.figures,
        conversations_chart=bar_chart(summary.daily, unit="conversations", unit_one="conversation"),
        answers_chart=bar_chart(summary.daily_answers, unit="AI answers", unit_one="AI answer"),
        heat=heat_map(summary.heat, rows=WEEKDAYS, unit="visitor messages", unit_one="visitor message"),
        csat_peak=max((n for _, n in summary.csat), default=0),
        ranges=[(link(days=n), f"{n} days", n == days) for n in PRESETS],
        widgets=widgets,
        widget_id=widget_id,
        days=days,
        custom=custom if days is None or error else {"from": "", "to": ""},
        period_error=error,
        time_zone=time_zone,
    )
    return render(request, "insights/analytics.html", context)
