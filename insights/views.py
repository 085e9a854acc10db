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


WEEKLY_AFTER_DAYS = 92


def _weekly(series: list[tuple[date, int]]) -> list[tuple[date, int]]:
    """Each run of seven days from the first, as (its first day, its total)."""
    return [(series[i][0], sum(n for _, n in series[i : i + 7])) for i in range(0, len(series), 7)]


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

    # Past three months a bar a week (a bar a day would be too thin to read or point at).
    by_week = summary.period.days > WEEKLY_AFTER_DAYS
    per = "week" if by_week else "day"
    context = shell_context(
        request,
        summary=summary,
        figures=summary.figures,
        per=per,
        chart_note="Each bar a week, from the day it names." if by_week else "",
        conversations_chart=bar_chart(
            _weekly(summary.daily) if by_week else summary.daily,
            unit="conversations",
            unit_one="conversation",
            per=per,
        ),
        answers_chart=bar_chart(
            _weekly(summary.daily_answers) if by_week else summary.daily_answers,
            unit="AI answers",
            unit_one="AI answer",
            per=per,
        ),
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
