"""Reads for billing: usage, the billing page's overview, and whether a workspace is
restricted for an unpaid subscription."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.utils import timezone

from tenants.contributions import contributions
from tenants.models import Tenant
from tenants.services.team import seats_taken

from .limits import quota_limit
from .models import BillingAccount, QuotaNotice, UsageCounter
from .periods import DAILY, tenant_period
from .plans import QUOTAS, Plan


def usage_value(*, tenant_id: int, metric: str) -> int:
    row = UsageCounter.objects.filter(
        tenant_id=tenant_id, period=tenant_period(tenant_id), metric=metric
    ).first()
    return row.value if row else 0


def quota_reached(*, tenant_id: int, metric: str) -> bool:
    return QuotaNotice.objects.filter(
        tenant_id=tenant_id, period=tenant_period(tenant_id), metric=metric, level=100
    ).exists()


def grace_ends(account: BillingAccount) -> datetime | None:
    if account.past_due_since is None:
        return None
    return account.past_due_since + timedelta(days=settings.BILLING_GRACE_DAYS)


def billing_restricted(tenant: Tenant) -> bool:
    """Unpaid past the grace period: widgets answer with their offline text and the
    dashboard is read-only except billing. Never deleted."""
    account = BillingAccount.objects.filter(tenant_id=tenant.pk).first()
    if account is None or account.status not in ("past_due", "unpaid"):
        return False
    ends = grace_ends(account)
    return account.status == "unpaid" or (ends is not None and timezone.now() >= ends)


@dataclass(frozen=True)
class QuotaUse:
    quota: str
    label: str
    used: int
    limit: int | None

    @property
    def percent(self) -> int:
        if not self.limit:
            return 0 if self.limit is None else 100
        return min(100, round(100 * self.used / self.limit))


def quota_uses(tenant: Tenant, plan: Plan) -> list[QuotaUse]:
    """Each quota's use now (measured in the tenant's schema; the caller enters it). The
    apps above billing contribute how they count theirs (``tenants.contributions``)."""
    used = {
        "ai_answers": usage_value(tenant_id=tenant.pk, metric=UsageCounter.Metric.AI_ANSWERS),
        "seats": seats_taken(tenant),
    }
    for quota, measure in contributions().usage_measures.items():
        used[quota] = measure()
    return [QuotaUse(q, QUOTAS[q][1], used.get(q, 0), quota_limit(tenant, q, plan)) for q in QUOTAS]


def daily_answers(tenant: Tenant, *, today: date | None = None) -> list[tuple[date, int]]:
    """AI answers per day of the tenant's current period, every day up to today (zeros
    included)."""
    today = today or timezone.now().date()
    start = tenant_period(tenant.pk)
    rows = dict(
        UsageCounter.objects.filter(
            tenant=tenant,
            metric=DAILY.format(metric=UsageCounter.Metric.AI_ANSWERS),
            period__gte=start,
            period__lte=today,
        ).values_list("period", "value")
    )
    return [
        (start + timedelta(days=n), rows.get(start + timedelta(days=n), 0))
        for n in range((today - start).days + 1)
    ]
