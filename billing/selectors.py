"""Reads for usage metering."""

from __future__ import annotations

from .models import QuotaNotice, UsageCounter
from .services import billing_period


def usage_value(*, tenant_id: int, metric: str) -> int:
    row = UsageCounter.objects.filter(tenant_id=tenant_id, period=billing_period(), metric=metric).first()
    return row.value if row else 0


def quota_reached(*, tenant_id: int, metric: str) -> bool:
    return QuotaNotice.objects.filter(tenant_id=tenant_id, period=billing_period(), metric=metric).exists()
