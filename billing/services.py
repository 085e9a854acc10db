"""Writes for usage metering. Safe to call from any schema (the tables are in public)."""

from __future__ import annotations

import logging
from datetime import date

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from tenants.models import Membership, Tenant

from .models import QuotaNotice, UsageCounter

logger = logging.getLogger(__name__)


def billing_period(now=None) -> date:
    return (now or timezone.now()).date().replace(day=1)


def usage_consume(*, tenant_id: int, metric: str, limit: int | None) -> bool:
    """Count one unit of ``metric`` for the current period if that stays within ``limit``
    (``None``: unlimited). One statement, exact under concurrency; False means over quota
    and nothing was counted."""
    if limit is not None and limit <= 0:
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO public.{UsageCounter._meta.db_table} (tenant_id, period, metric, value)
            VALUES (%s, %s, %s, 1)
            ON CONFLICT (tenant_id, period, metric) DO UPDATE
               SET value = {UsageCounter._meta.db_table}.value + 1
             WHERE %s::integer IS NULL OR {UsageCounter._meta.db_table}.value < %s::integer
            RETURNING value
            """,  # noqa: S608 - the table name is ours, the values are parameters
            [tenant_id, billing_period(), metric, limit, limit],
        )
        return cursor.fetchone() is not None


def usage_refund(*, tenant_id: int, metric: str) -> None:
    """Give back one unit (the answer it paid for never reached the visitor)."""
    UsageCounter.objects.filter(
        tenant_id=tenant_id, period=billing_period(), metric=metric, value__gt=0
    ).update(value=F("value") - 1)


def quota_reached_notify(*, tenant: Tenant, metric: str, limit: int) -> bool:
    """Tell the workspace's owners, once per period, that a quota is used up. Returns
    whether this call sent the notice."""
    try:
        with transaction.atomic():
            QuotaNotice.objects.create(tenant=tenant, period=billing_period(), metric=metric, level=100)
    except IntegrityError:
        return False
    owners = list(
        Membership.objects.filter(tenant=tenant, role=Membership.Role.OWNER).values_list(
            "user__email", flat=True
        )
    )
    label = dict(UsageCounter.Metric.choices).get(metric, metric)
    body = (
        f"Your workspace {tenant.name} has used all {limit} {label.lower()} included in its plan "
        f"this month.\n\nVisitors now get your bot's fallback text and an offer to reach a person "
        f"instead of AI answers. Upgrade your plan to restore AI answers at once:\n"
        f"https://{tenant.slug}.{settings.BASE_DOMAIN}/dashboard/billing/\n"
    )
    transaction.on_commit(
        lambda: send_mail(f"{tenant.name}: AI answers used up for this month", body, None, owners)
    )
    logger.info("quota notice sent tenant=%s metric=%s", tenant.pk, metric)
    return True
