"""Reads for billing: usage, the billing page's overview, and whether a workspace is
restricted for an unpaid subscription."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db.models import OuterRef, Q, Subquery, Sum
from django.utils import timezone

from tenants.contributions import contributions
from tenants.models import Tenant
from tenants.services.team import seats_taken
from ui.charts import BarChart, bar_chart

from .limits import quota_limit, tenant_identity
from .models import BillingAccount, QuotaGrant, QuotaNotice, UsageCounter
from .periods import DAILY, tenant_period
from .plans import QUOTAS, Plan, plan_get


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
    return account is not None and _restricted(account.status, account.past_due_since)


def _restricted(status: str | None, past_due_since: datetime | None) -> bool:
    """``billing_restricted``'s rule on the account's status (None: no account)."""
    if status not in ("past_due", "unpaid"):
        return False
    if status == "unpaid":
        return True
    ends = past_due_since + timedelta(days=settings.BILLING_GRACE_DAYS) if past_due_since else None
    return ends is not None and timezone.now() >= ends


@dataclass(frozen=True)
class AnswerTerms:
    """What answering a visitor needs of billing: the plan in force (read fresh), whether
    the workspace is restricted for an unpaid subscription, and the AI-answer limit (the
    plan's plus staff grants; None: unlimited)."""

    plan: Plan
    restricted: bool
    ai_answers_limit: int | None


def answer_terms(tenant: Tenant) -> AnswerTerms:
    """``tenant_plan``, ``billing_restricted`` and ``quota_limit(.., "ai_answers")`` in one
    query (the tenant's row, its billing account and its live grants)."""
    grants = (
        QuotaGrant.objects.filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()),
            tenant_id=OuterRef("pk"),
            quota="ai_answers",
        )
        .order_by()
        .values("tenant_id")
        .annotate(total=Sum("extra"))
        .values("total")
    )
    row = (
        Tenant.objects.filter(**tenant_identity(tenant))
        .annotate(extra=Subquery(grants))
        .values_list("plan", "billing__status", "billing__past_due_since", "extra")
        .first()
    )
    code, status, past_due_since, extra = row or (None, None, None, None)
    plan = plan_get(code)
    limit = plan.quota("ai_answers")
    return AnswerTerms(
        plan=plan,
        restricted=_restricted(status, past_due_since),
        ai_answers_limit=None if limit is None else limit + (extra or 0),
    )


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

    @property
    def level(self) -> str:
        """ "full" at the limit, "high" from 80 %, else "" (the meter's colour)."""
        if self.limit is None:
            return ""
        return "full" if self.percent >= 100 else "high" if self.percent >= 80 else ""


def quota_uses(tenant: Tenant, plan: Plan) -> list[QuotaUse]:
    """Each quota's use now (measured in the tenant's schema; the caller enters it). The
    apps above billing contribute how they count theirs (``tenants.contributions``)."""
    used = {
        "ai_answers": usage_value(tenant_id=tenant.pk, metric=UsageCounter.Metric.AI_ANSWERS),
        "seats": seats_taken(tenant),
        "action_calls": usage_value(tenant_id=tenant.pk, metric="action_calls"),
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


def period_days(start: date, account: BillingAccount | None) -> int:
    """How many days the usage period starting ``start`` has: the subscription's, else the
    calendar month's."""
    if account is not None and account.current_period_end and account.current_period_start:
        return max(1, (account.current_period_end.date() - start).days)
    return calendar.monthrange(start.year, start.month)[1]


# Below this share of the daily pace the pace line would flatten the bars to nothing: the
# legend says "well within" instead.
PACE_LINE_MIN_SHARE = 0.2


@dataclass(frozen=True)
class UsageChart:
    chart: BarChart
    pace: float | None  # AI answers a day that use exactly the quota over the period
    pace_shown: bool


def answers_chart(tenant: Tenant, *, limit: int | None, account: BillingAccount | None) -> UsageChart:
    """The billing page's chart: AI answers per day of the period, with the daily pace that
    would use exactly the plan's quota over the period (a dashed line, when the bars come
    near enough to it for the line to say something)."""
    days = daily_answers(tenant)
    pace = limit / period_days(days[0][0], account) if limit and days else None
    peak = max((n for _, n in days), default=0)
    shown = pace is not None and peak >= pace * PACE_LINE_MIN_SHARE
    label = f"Pace that uses the whole quota: {pace:,.1f} a day" if pace is not None else ""
    chart = bar_chart(
        days,
        unit="AI answers",
        unit_one="AI answer",
        limit=pace if shown else None,
        limit_label=label,
    )
    return UsageChart(chart=chart, pace=pace, pace_shown=shown)
