"""Stripe's view of a subscription, applied to our billing account and the tenant's plan.

Shared by the webhook's events (``stripe_events``) and the in-place plan changes of
``subscriptions``. Preconditions: the public schema is active; the account's row is locked.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.utils import timezone

from audit.services import Caller
from tenants.models import Tenant

from .models import BillingAccount
from .plans import BY_CODE
from .workspace_log import workspace_audit

logger = logging.getLogger(__name__)

INTERVALS = ("monthly", "yearly")
# Statuses in which the subscription's plan is in force (past_due: during the grace period).
PLAN_IN_FORCE = {"active", "trialing", "past_due"}
ENDED = ("none", "canceled", "incomplete_expired")
# What a sync writes on the account (everything Stripe tells us about the subscription).
SYNCED_FIELDS = [
    "stripe_subscription_id",
    "stripe_customer_id",
    "status",
    "source",
    "interval",
    "current_period_start",
    "current_period_end",
    "cancel_at_period_end",
    "trial_ends_at",
    "past_due_since",
    "synced_at",
    "updated_at",
]


def tenant_plan_apply(
    *,
    tenant: Tenant,
    code: str,
    request: Caller | None = None,
    actor: Any = None,
    actor_kind: str = "",
    why: str = "",
) -> None:
    """Put the tenant on plan ``code`` (the plan in force; the account records why). A
    change is recorded in the workspace's audit log (``billing.plan_changed``, in the
    tenant's schema, within the caller's transaction): by ``request``'s member, ``actor``
    (staff with ``actor_kind="staff"``), or the system (Stripe's news)."""
    before = Tenant.objects.filter(pk=tenant.pk).values_list("plan", flat=True).first()
    Tenant.objects.filter(pk=tenant.pk).update(plan=code, updated_at=timezone.now())
    tenant.plan = code
    if before != code:
        workspace_audit(
            tenant,
            action="billing.plan_changed",
            request=request,
            actor=actor,
            actor_kind=actor_kind,
            metadata={"plan": {"from": before, "to": code}, **({"why": why} if why else {})},
        )


def stripe_id(value: str | dict[str, Any]) -> str:
    """The id of a Stripe object given expanded or as its id."""
    return value["id"] if isinstance(value, dict) else str(value)


def price_plan(price_id: str) -> tuple[str, str] | None:
    """The (plan code, interval) a Stripe price sells, from ``STRIPE_PRICES``."""
    for key, value in (getattr(settings, "STRIPE_PRICES", {}) or {}).items():
        if value == price_id and "_" in key:
            code, interval = key.rsplit("_", 1)
            if code in BY_CODE and interval in INTERVALS:
                return code, interval
    return None


def plan_item(subscription: dict[str, Any]) -> dict[str, Any]:
    """The item carrying the plan's price (the metered overage item is another)."""
    items = (subscription.get("items") or {}).get("data") or []
    return next((i for i in items if price_plan((i.get("price") or {}).get("id", ""))), {})


def stripe_time(value: int | str | None) -> datetime | None:
    return datetime.fromtimestamp(int(value), tz=UTC) if value else None


def _cancellation_audit(account: BillingAccount, *, was: tuple[str, bool]) -> None:
    """``billing.subscription_canceled`` when Stripe reports the subscription set to end at
    the period's end, or ended (each once: on the change)."""
    scheduled = account.cancel_at_period_end and not was[1]
    ended = account.status == "canceled" and was[0] != "canceled"
    if scheduled or ended:
        end = account.current_period_end.isoformat() if account.current_period_end else None
        metadata = {"at_period_end": not ended, "period_end": end, "status": account.status}
        workspace_audit(account.tenant, action="billing.subscription_canceled", metadata=metadata)


def subscription_apply(
    *, account: BillingAccount, subscription: dict[str, Any], request: Caller | None = None
) -> BillingAccount:
    """Apply Stripe's current view of a subscription to its (locked) account and tenant:
    status, plan, period, grace. News of a subscription other than the account's current
    one changes nothing until the current one has ended. ``request``: the member whose plan
    change this applies (none: Stripe's news, the system's)."""
    status = str(subscription.get("status") or "")
    current = account.stripe_subscription_id
    if current and current != subscription["id"] and account.status not in ENDED:
        # Another subscription's news while the current one lives (an old one's late
        # events, or a second checkout, which checkout.session.completed settles).
        return account
    item = plan_item(subscription)
    chosen = price_plan((item.get("price") or {}).get("id", ""))
    if chosen is None:
        logger.error("stripe subscription %s has no price we sell: the plan stays", subscription.get("id"))
        return account
    plan = BY_CODE[chosen[0]]
    now = timezone.now()
    previous_status, previous_cancel_at_end = account.status, account.cancel_at_period_end
    account.stripe_subscription_id = subscription["id"]
    if subscription.get("customer") and not account.stripe_customer_id:
        account.stripe_customer_id = stripe_id(subscription["customer"])
    account.status = status if status in BillingAccount.Status.values else BillingAccount.Status.INCOMPLETE
    account.source = BillingAccount.Source.STRIPE
    account.interval = chosen[1]
    # The billing period sits on the items (API 2025-03 on), on the subscription before.
    period = {k: item.get(k) or subscription.get(k) for k in ("current_period_start", "current_period_end")}
    account.current_period_start = stripe_time(period["current_period_start"])
    account.current_period_end = stripe_time(period["current_period_end"])
    account.cancel_at_period_end = bool(subscription.get("cancel_at_period_end"))
    account.trial_ends_at = stripe_time(subscription.get("trial_end"))
    if status in ("past_due", "unpaid"):
        account.past_due_since = account.past_due_since or now
    else:
        account.past_due_since = None
    account.synced_at = now
    _cancellation_audit(account, was=(previous_status, previous_cancel_at_end))
    account.save(update_fields=SYNCED_FIELDS)
    in_force = status in PLAN_IN_FORCE or status == "unpaid"
    tenant_plan_apply(
        tenant=account.tenant, code=plan.code if in_force else "free", request=request, why="stripe"
    )
    logger.info("subscription synced tenant=%s status=%s plan=%s", account.tenant_id, status, plan.code)
    return account
