"""Writes for usage metering, and the owners' notices about it. Safe to call from any
schema (the tables are in public).

Below ``quotas`` (which enforces limits with ``quota_level_notify``) and the webhook's
``stripe_events`` (which tell owners about failed payments with ``owners_email``).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import cast

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from saas.celery import enqueue_on_commit
from tenants.models import Membership, Tenant
from ui.emails import email_render

from . import stripe_client
from .limits import quota_limit, tenant_plan
from .models import BillingAccount, MeterReport, QuotaNotice, UsageCounter
from .owner_emails import owners_email_task
from .periods import DAILY, PERIOD_SQL, billing_period, tenant_period
from .plans import QUOTAS, Plan, quota_words
from .workspace_log import workspace_audit

logger = logging.getLogger(__name__)

__all__ = [  # the usage periods are read from here too (billing.periods)
    "DAILY",
    "PERIOD_SQL",
    "answer_credit_take",
    "billing_period",
    "billing_url",
    "overage_report",
    "owners_email",
    "quota_level_notify",
    "tenant_period",
    "trials_expire",
    "usage_consume",
    "usage_refund",
    "usage_take",
    "warning_threshold",
]


def usage_consume(*, tenant_id: int, metric: str, limit: int | None) -> int | None:
    """Count one unit of ``metric`` for the tenant's current period if that stays within ``limit``
    (``None``: unlimited), and the same unit in the day's counter. One statement, exact
    under concurrency. Returns the period's new value, or None: over quota, nothing counted."""
    if limit is not None and limit <= 0:
        return None
    table = UsageCounter._meta.db_table
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH month AS (
                INSERT INTO public.{table} (tenant_id, period, metric, value)
                VALUES (%s, {PERIOD_SQL}, %s, 1)
                ON CONFLICT (tenant_id, period, metric) DO UPDATE
                   SET value = {table}.value + 1
                 WHERE %s::integer IS NULL OR {table}.value < %s::integer
                RETURNING value
            ), day AS (
                INSERT INTO public.{table} (tenant_id, period, metric, value)
                SELECT %s, %s, %s, 1 WHERE EXISTS (SELECT 1 FROM month)
                ON CONFLICT (tenant_id, period, metric) DO UPDATE SET value = {table}.value + 1
            )
            SELECT value FROM month
            """,  # noqa: S608 - the table name is ours, the values are parameters
            [
                tenant_id,
                tenant_id,
                now,
                now,
                metric,
                limit,
                limit,
                tenant_id,
                now.date(),
                DAILY.format(metric=metric),
            ],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def usage_refund(*, tenant_id: int, metric: str) -> None:
    """Give back one unit (the answer it paid for never reached the visitor)."""
    now = timezone.now()
    for period, name in ((tenant_period(tenant_id, now), metric), (now.date(), DAILY.format(metric=metric))):
        UsageCounter.objects.filter(tenant_id=tenant_id, period=period, metric=name, value__gt=0).update(
            value=F("value") - 1
        )


_READ = object()  # answer_credit_take's limit: read it (quota_limit)


def answer_credit_take(
    tenant: Tenant, *, own_key: bool, plan: Plan | None = None, limit: int | object | None = _READ
) -> str | None:
    """Count one AI answer before the provider is called. The tenant's own key: counted
    apart, unlimited. Platform credits: against the plan's monthly quota; past it, plans
    with overage count it as overage (billed through Stripe's meter), others refuse (the
    owners are told once a period). Owners are also told at 80%. Returns the metric
    counted, or None (no AI answer). ``plan`` and ``limit`` (the AI-answer limit, None:
    unlimited): the tenant's, if the caller has read them (billing.selectors.answer_terms)."""
    if own_key:
        usage_consume(tenant_id=tenant.pk, metric=UsageCounter.Metric.AI_ANSWERS_OWN_KEY, limit=None)
        return UsageCounter.Metric.AI_ANSWERS_OWN_KEY
    plan = plan or tenant_plan(tenant)
    cap = quota_limit(tenant, "ai_answers", plan) if limit is _READ else cast("int | None", limit)
    metric = UsageCounter.Metric.AI_ANSWERS
    value = usage_consume(tenant_id=tenant.pk, metric=metric, limit=cap)
    if value is not None:
        if cap and value == warning_threshold(cap):  # the answer that reaches 80%
            quota_level_notify(tenant=tenant, metric=metric, limit=cap, level=80)
        if cap and value == cap:  # the last one included (overage plans go on)
            quota_level_notify(tenant=tenant, metric=metric, limit=cap, level=100)
        return metric
    if plan.overage:
        usage_consume(tenant_id=tenant.pk, metric=UsageCounter.Metric.AI_ANSWERS_OVERAGE, limit=None)
        return UsageCounter.Metric.AI_ANSWERS_OVERAGE
    quota_level_notify(tenant=tenant, metric=metric, limit=cap or 0, level=100)
    return None


def usage_take(tenant: Tenant, quota: str) -> bool:
    """Count one unit of a monthly metered ``quota`` (a QUOTAS name also used as the
    counter's metric: ``action_calls``) if the tenant's limit allows it; refused past it
    (nothing counted). The owners are told at 80% and when it is used up, once a period."""
    cap = quota_limit(tenant, quota)
    value = usage_consume(tenant_id=tenant.pk, metric=quota, limit=cap)
    if value is None:
        quota_level_notify(tenant=tenant, metric=quota, limit=cap or 0, level=100)
        return False
    if cap and cap > 1 and value == warning_threshold(cap):
        quota_level_notify(tenant=tenant, metric=quota, limit=cap, level=80)
    if cap and value == cap:
        quota_level_notify(tenant=tenant, metric=quota, limit=cap, level=100)
    return True


def warning_threshold(limit: int) -> int:
    """The use at which owners are warned: 80% of ``limit``, rounded up."""
    return -(-limit * 8 // 10)


def billing_url(tenant: Tenant) -> str:
    return f"https://{tenant.slug}.{settings.BASE_DOMAIN}/dashboard/billing/"


def owners_email(
    *,
    tenant: Tenant,
    subject: str,
    heading: str,
    paragraphs: list[str],
    action_url: str = "",
    action_label: str = "",
    level: str = "warning",
) -> None:
    """Email the workspace's owners once the transaction commits, from a task (a failing
    mail server never fails the change that caused the email). The notice is rendered
    here, as text and as HTML on the emails' layout (templates/billing/email/notice.*)."""
    owners = Membership.objects.filter(tenant=tenant, role=Membership.Role.OWNER)
    context = {
        "tenant": tenant,
        "heading": heading,
        "paragraphs": paragraphs,
        "action_url": action_url,
        "action_label": action_label,
        "level": level,
    }
    text, html = email_render("billing/email/notice", context)
    recipients = list(owners.values_list("user__email", flat=True))
    enqueue_on_commit(owners_email_task, subject, text, recipients, html=html)


def quota_level_notify(*, tenant: Tenant, metric: str, limit: int, level: int) -> bool:
    """Tell the workspace's owners, once per period and level (80, 100), how much of a
    quota is used. Returns whether this call sent the notice."""
    try:
        with transaction.atomic():
            QuotaNotice.objects.create(
                tenant=tenant, period=tenant_period(tenant.pk), metric=metric, level=level
            )
    except IntegrityError:
        return False
    url = billing_url(tenant)
    if metric in QUOTAS and metric not in UsageCounter.Metric.values:
        words = quota_words(metric, limit)
        subject = f"{tenant.name}: {level}% of your plan's {QUOTAS[metric][1]} used"
        heading = f"{level}% of your plan's {QUOTAS[metric][1]} used"
        paragraphs = [f"Your workspace {tenant.name} uses {level}% of the {words} included in its plan."]
        if metric == "action_calls" and level >= 100:
            paragraphs.append(
                "Until the month ends the bot calls no AI action; it tells visitors it cannot do it now."
            )
        action = "Upgrade your plan to add more"
    elif level < 100:
        subject = f"{tenant.name}: {level}% of this month's AI answers used"
        heading = f"{level}% of this month's AI answers used"
        paragraphs = [
            f"Your workspace {tenant.name} has used {level}% of the {limit:,} AI answers included in "
            f"its plan this month.",
            "When they are used up, visitors get your bot's fallback text instead of AI answers "
            "until the month ends.",
        ]
        action = "Upgrade your plan for more"
    else:
        subject = f"{tenant.name}: AI answers used up for this month"
        heading = "AI answers used up for this month"
        paragraphs = [
            f"Your workspace {tenant.name} has used all {limit:,} AI answers included in its plan "
            f"this month.",
            "Visitors now get your bot's fallback text and an offer to reach a person instead of AI answers.",
        ]
        action = "Upgrade your plan to restore AI answers at once"
    owners_email(
        tenant=tenant,
        subject=subject,
        heading=heading,
        paragraphs=paragraphs,
        action_url=url,
        action_label=action,
        level="danger" if level >= 100 else "warning",
    )
    logger.info("quota notice sent tenant=%s metric=%s", tenant.pk, metric)
    return True


def overage_report() -> int:
    """Send metered overage to Stripe (beat, hourly): each counter's units not yet
    reported become one MeterReport row (written first, so a retry repeats the same
    ``identifier`` and Stripe counts it once), then every unsent report is sent. Returns
    the number sent."""
    if not stripe_client.stripe_enabled():
        return 0
    counters = UsageCounter.objects.filter(metric=UsageCounter.Metric.AI_ANSWERS_OVERAGE, value__gt=0)
    for pk in counters.filter(period__gte=billing_period() - timedelta(days=40)).values_list("pk", flat=True):
        with transaction.atomic():  # locked: two overlapping runs cannot report the same units
            counter = UsageCounter.objects.select_for_update().get(pk=pk)
            reported = (
                counter.meter_reports.order_by("-value_to").values_list("value_to", flat=True).first() or 0
            )
            if counter.value > reported:
                MeterReport.objects.get_or_create(
                    counter=counter, value_to=counter.value, defaults={"value_from": reported}
                )
    sent = 0
    pending = MeterReport.objects.filter(sent_at__isnull=True, attempts__lt=20).select_related("counter")
    for report in pending.order_by("created_at"):
        customer = (
            BillingAccount.objects.filter(tenant_id=report.counter.tenant_id)
            .values_list("stripe_customer_id", flat=True)
            .first()
        )
        report.attempts += 1
        if not customer:
            report.error = "The workspace has no Stripe customer."
            report.save(update_fields=["attempts", "error"])
            continue
        try:
            stripe_client.meter_event_send(
                customer_id=customer,
                value=report.units,
                identifier=report.identifier,
                timestamp=int(report.created_at.timestamp()),
            )
        except stripe_client.StripeError as error:
            report.error = str(error)[:2000]
            report.save(update_fields=["attempts", "error"])
            logger.warning("meter report %s not sent: %s", report.identifier, error)
            continue
        report.sent_at, report.error = timezone.now(), ""
        report.save(update_fields=["sent_at", "attempts", "error"])
        sent += 1
    return sent


def trials_expire() -> int:
    """Trials that ended without a subscription go back to Free (beat, hourly)."""
    ended = BillingAccount.objects.filter(
        status=BillingAccount.Status.TRIALING,
        source=BillingAccount.Source.DEFAULT,
        trial_ends_at__lt=timezone.now(),
    ).select_related("tenant")
    count = 0
    for account in ended:
        with transaction.atomic():
            # Only if still an unpaid trial: a checkout completed meanwhile wins.
            changed = BillingAccount.objects.filter(
                pk=account.pk, status=BillingAccount.Status.TRIALING, source=BillingAccount.Source.DEFAULT
            ).update(status=BillingAccount.Status.NONE, trial_ends_at=None, updated_at=timezone.now())
            if changed:
                before = Tenant.objects.filter(pk=account.tenant_id).values_list("plan", flat=True).first()
                Tenant.objects.filter(pk=account.tenant_id).update(plan="free")
                if before != "free":
                    metadata = {"plan": {"from": before, "to": "free"}, "why": "trial ended"}
                    workspace_audit(account.tenant, action="billing.plan_changed", metadata=metadata)
                count += 1
    return count
