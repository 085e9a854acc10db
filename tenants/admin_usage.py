"""The platform's usage statistics in the platform admin: one row per UTC day (tenants,
active tenants, messages, AI answers; ``tenants.services.platform_usage`` writes them),
the last 30 days by default or the last 90, with the period's totals and a bar chart of
the messages above the list. Read-only: the daily job is their only writer. Registered
by ``tenants.admin``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import admin
from django.db.models import Max, QuerySet, Sum
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils import timezone
from unfold.admin import ModelAdmin

from .models import PlatformDailyUsage

PERIODS = {"30": 30, "90": 90}


class PeriodFilter(admin.SimpleListFilter):
    title = "period"
    parameter_name = "period"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("30", "Last 30 days"), ("90", "Last 90 days"), ("all", "Every day computed")]

    def choices(self, changelist: Any) -> Any:
        for choice in super().choices(changelist):
            if choice.get("display") == "All":
                continue  # no value means the last 30 days here, listed as such
            if self.value() is None and choice.get("query_string", "").endswith("period=30"):
                choice["selected"] = True
            yield choice

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[PlatformDailyUsage]
    ) -> QuerySet[PlatformDailyUsage]:
        value = self.value() or "30"
        if value not in PERIODS:
            return queryset
        return queryset.filter(day__gte=timezone.now().date() - timedelta(days=PERIODS[value]))


class PlatformDailyUsageAdmin(ModelAdmin):
    list_display = ("day", "tenants_shown", "active_shown", "messages_shown", "ai_answers_shown")
    list_filter = (PeriodFilter,)
    list_per_page = 100
    list_before_template = "admin/tenants/platformdailyusage/summary.html"
    readonly_fields = ("day", "tenants", "active_tenants", "messages", "ai_answers", "computed_at")

    @admin.display(description="Workspaces", ordering="tenants")
    def tenants_shown(self, obj: PlatformDailyUsage) -> str:
        return f"{obj.tenants:,}"

    @admin.display(description="Active workspaces", ordering="active_tenants")
    def active_shown(self, obj: PlatformDailyUsage) -> str:
        return f"{obj.active_tenants:,}"

    @admin.display(description="Messages", ordering="messages")
    def messages_shown(self, obj: PlatformDailyUsage) -> str:
        return f"{obj.messages:,}"

    @admin.display(description="AI answers", ordering="ai_answers")
    def ai_answers_shown(self, obj: PlatformDailyUsage) -> str:
        return f"{obj.ai_answers:,}"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: PlatformDailyUsage | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: PlatformDailyUsage | None = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        response = super().changelist_view(request, extra_context)
        if isinstance(response, TemplateResponse) and response.context_data is not None:
            changelist = response.context_data.get("cl")
            if changelist is not None:
                response.context_data["usage_summary"] = usage_summary(changelist.queryset)
        return response


def usage_summary(days: QuerySet[PlatformDailyUsage]) -> dict[str, Any]:
    """The period's totals, its peak of active tenants, and the bars of its messages (oldest
    first, as a share of the busiest day in steps of 5 %: the stylesheet's classes)."""
    totals = days.aggregate(
        messages=Sum("messages"), ai_answers=Sum("ai_answers"), peak_active=Max("active_tenants")
    )
    rows = list(days.order_by("day").values("day", "messages", "active_tenants", "tenants"))
    busiest = max((row["messages"] for row in rows), default=0) or 1
    return {
        "days": len(rows),
        "messages": totals["messages"] or 0,
        "ai_answers": totals["ai_answers"] or 0,
        "peak_active": totals["peak_active"] or 0,
        "tenants": rows[-1]["tenants"] if rows else 0,
        "first_day": rows[0]["day"] if rows else None,
        "last_day": rows[-1]["day"] if rows else None,
        "bars": [
            {
                "day": row["day"],
                "messages": row["messages"],
                "percent": 5 * round(20 * row["messages"] / busiest),
            }
            for row in rows
        ],
    }
