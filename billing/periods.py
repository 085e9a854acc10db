"""Usage periods: the days a workspace's quotas and usage counters run over.

A workspace with a Stripe subscription counts over the subscription's current period (so
quotas reset, and overage is billed, with Stripe's invoice); any other over the calendar
month. Kept as SQL too, so metering stays one statement (``billing.services``).
"""

from __future__ import annotations

from datetime import date, datetime

from django.db import connection
from django.utils import timezone

# Parameters: tenant id, now, now.
PERIOD_SQL = """
COALESCE(
    (SELECT (a.current_period_start AT TIME ZONE 'UTC')::date FROM public.billing_billingaccount a
      WHERE a.tenant_id = %s AND a.source = 'stripe'
        AND a.status IN ('active', 'trialing', 'past_due', 'unpaid')
        AND a.current_period_start <= %s),
    date_trunc('month', %s AT TIME ZONE 'UTC')::date
)"""

DAILY = "{metric}:day"  # the same count per day (the billing page's chart)


def billing_period(now: datetime | None = None) -> date:
    """The calendar month's first day: the period of workspaces without a paid subscription."""
    return (now or timezone.now()).date().replace(day=1)


def tenant_period(tenant_id: int, now: datetime | None = None) -> date:
    """The first day of the tenant's current usage period (see PERIOD_SQL)."""
    now = now or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {PERIOD_SQL}", [tenant_id, now, now])
        row = cursor.fetchone()
    period: date = row[0]
    return period
