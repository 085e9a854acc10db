"""The platform's daily usage statistics (``PlatformDailyUsage``), for staff.

For each complete UTC day not computed yet (from the day after the last one computed, or
PLATFORM_USAGE_BACKFILL_DAYS back on the first run, never before the first workspace), a
chunk of days at a time: the workspaces that existed at the day's end (``tenants``), those
with at least one message that day (``active_tenants``), and the apps' daily counts summed
over every workspace (``Contributions.daily_counts``: chat's ``messages`` and
``ai_answers``), one query per workspace and figure for the whole chunk. Each chunk's rows
are written in one transaction and never changed, so a run stopped half-way keeps its
chunks and the next run starts after them; running it again the same day writes nothing.
Workspaces deleted since are not counted (their rows are gone).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Min
from django.utils import timezone
from django_tenants.utils import schema_context

from ..context import in_public_schema
from ..contributions import contributions
from ..models import PlatformDailyUsage, Tenant

CHUNK_DAYS = 7


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _first_day(today: date) -> date | None:
    last: date | None = PlatformDailyUsage.objects.aggregate(last=Max("day"))["last"]
    if last is not None:
        return last + timedelta(days=1)
    first_tenant: datetime | None = Tenant.objects.aggregate(first=Min("created_at"))["first"]
    if first_tenant is None:
        return None
    backfill = today - timedelta(days=settings.PLATFORM_USAGE_BACKFILL_DAYS)
    return max(first_tenant.astimezone(UTC).date(), backfill)


def _rows(days: list[date]) -> list[PlatformDailyUsage]:
    start, end = _start_of(days[0]), _start_of(days[-1] + timedelta(days=1))
    measures = contributions().daily_counts
    totals: dict[str, Counter[date]] = {name: Counter() for name in measures}
    active: Counter[date] = Counter()
    serving = (Tenant.Status.ACTIVE, Tenant.Status.SUSPENDED)
    tenants = list(Tenant.objects.filter(status__in=serving, created_at__lt=end).order_by("pk"))
    for tenant in tenants:
        with schema_context(tenant.schema_name):
            for name, count in measures.items():
                per_day = count(start=start, end=end)
                totals[name].update(per_day)
                if name == "messages":
                    active.update(day for day, n in per_day.items() if n)
    return [
        PlatformDailyUsage(
            day=day,
            tenants=sum(1 for t in tenants if t.created_at < _start_of(day + timedelta(days=1))),
            active_tenants=active[day],
            messages=totals.get("messages", Counter())[day],
            ai_answers=totals.get("ai_answers", Counter())[day],
        )
        for day in days
    ]


@in_public_schema
def platform_usage_compute(*, now: datetime | None = None) -> int:
    """Compute the complete days not computed yet; returns how many days were written."""
    today = (now or timezone.now()).astimezone(UTC).date()
    first = _first_day(today)
    if first is None:
        return 0
    days = [first + timedelta(days=i) for i in range((today - first).days)]
    written = 0
    for i in range(0, len(days), CHUNK_DAYS):
        rows = _rows(days[i : i + CHUNK_DAYS])
        with transaction.atomic():
            # A concurrent run may have written them meanwhile: the unique day keeps one.
            written += len(PlatformDailyUsage.objects.bulk_create(rows, ignore_conflicts=True))
    return written
