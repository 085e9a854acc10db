"""Writes for plans and subscriptions: plan changes (Stripe Checkout, in-place upgrades
and downgrades, demo billing, staff grants), the customer portal, and receiving webhook
events.

    checkout_start(tenant, plan, interval)  -> URL to Stripe Checkout, or None (applied)
    portal_start(tenant, return_url)        -> URL of the Stripe customer portal
    stripe_event_record(event)              -> stored once per event id; processed in a task
    stripe_event_process(pk)                -> the event's effect, once (``stripe_events``)
    subscription_apply(account, subscription) -> account + tenant plan from Stripe's
                                                 object (``stripe_sync``)

Preconditions: the public schema is active.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from saas.celery import enqueue_on_commit
from saas.errors import Conflict, ValidationFailed
from tenants.models import Membership, Tenant

from . import stripe_client
from .models import BillingAccount, BillingAuditEvent, StripeEvent
from .plans import BY_CODE, plan_get
from .stripe_events import HANDLED_EVENTS, stripe_event_process
from .stripe_sync import ENDED, INTERVALS, PLAN_IN_FORCE, plan_item, subscription_apply, tenant_plan_apply
from .tasks import stripe_event_process_task

logger = logging.getLogger(__name__)

__all__ = [
    "billing_account",
    "billing_start",
    "checkout_start",
    "portal_start",
    "staff_plan_grant",
    "stripe_event_process",
    "stripe_event_record",
]


def billing_account(tenant: Tenant) -> BillingAccount:
    account, _ = BillingAccount.objects.get_or_create(tenant=tenant)
    return account


def billing_start(tenant: Tenant) -> None:
    """A new workspace's billing: Free, or a trial of ``BILLING_TRIAL_PLAN``."""
    trial = BY_CODE.get(settings.BILLING_TRIAL_PLAN or "")
    account = billing_account(tenant)
    if trial and trial.code != "free" and account.status == BillingAccount.Status.NONE:
        ends = timezone.now() + timedelta(days=settings.BILLING_TRIAL_DAYS)
        account.status, account.trial_ends_at, account.source = (
            BillingAccount.Status.TRIALING,
            ends,
            "default",
        )
        account.save(update_fields=["status", "trial_ends_at", "source", "updated_at"])
        Tenant.objects.filter(pk=tenant.pk).update(plan=trial.code)


def _audit(tenant: Tenant, actor, action: str, **detail) -> None:
    BillingAuditEvent.objects.create(
        tenant=tenant, actor_email=getattr(actor, "email", "") or "", action=action, detail=detail
    )


def _plan(plan_code: str):
    plan = BY_CODE.get(plan_code)
    if plan is None:
        raise ValidationFailed(errors={"plan": [{"code": "invalid", "message": "Choose one of the plans."}]})
    return plan


def _choice(plan_code: str, interval: str):
    plan = _plan(plan_code)
    if interval not in INTERVALS:
        raise ValidationFailed(
            errors={"interval": [{"code": "invalid", "message": "Choose monthly or yearly billing."}]}
        )
    return plan


@transaction.atomic
def checkout_start(
    *, tenant: Tenant, plan_code: str, interval: str, by, success_url: str, cancel_url: str, request=None
) -> str | None:
    """Move ``tenant`` to a plan. Demo billing (no Stripe key) applies it at once and returns
    None; with Stripe, a workspace without a subscription gets a Checkout URL, one with a
    subscription is moved to the new price in place (prorated; the webhook confirms it).
    Free through Stripe means cancelling, which the customer portal does."""
    plan = _choice(plan_code, interval)
    account = BillingAccount.objects.select_for_update().get_or_create(tenant=tenant)[0]
    if not stripe_client.stripe_enabled():
        before = plan_get(Tenant.objects.filter(pk=tenant.pk).values_list("plan", flat=True).first())
        tenant_plan_apply(
            tenant=tenant, code=plan.code, request=request, actor=None if request else by, why="demo"
        )
        account.source, account.interval = BillingAccount.Source.DEMO, interval
        account.status = BillingAccount.Status.NONE if plan.is_free else BillingAccount.Status.ACTIVE
        account.past_due_since = None
        account.save(update_fields=["source", "interval", "status", "past_due_since", "updated_at"])
        _audit(tenant, by, "demo_plan_change", before=before.code, after=plan.code, interval=interval)
        return None
    if plan.is_free:
        raise Conflict("To move to Free, cancel your subscription in the billing portal.")
    price_id = plan.price_id(interval)
    if not price_id:
        raise Conflict(f"The {plan.name} plan cannot be bought online yet. Contact us.")
    if account.stripe_subscription_id and account.status in PLAN_IN_FORCE:
        subscription = stripe_client.subscription_get(account.stripe_subscription_id)
        updated = stripe_client.subscription_plan_set(
            subscription=subscription,
            plan_item_id=plan_item(subscription).get("id", ""),
            price_id=price_id,
            overage_price_id=_overage_price() if plan.overage else "",
            plan=plan.code,
        )
        subscription_apply(account=account, subscription=updated, request=request)
        _audit(tenant, by, "subscription_price_change", plan=plan.code, interval=interval)
        return None
    if account.stripe_subscription_id and account.status not in ENDED:
        # unpaid, incomplete, paused: a second subscription would charge twice.
        raise Conflict("Settle the current subscription in the billing portal first.")
    customer_id = _customer_ensure(tenant, account)
    return stripe_client.checkout_session_create(
        tenant_id=tenant.pk,
        customer_id=customer_id,
        price_ids=[price_id, *([_overage_price()] if plan.overage and _overage_price() else [])],
        plan=plan.code,
        success_url=success_url,
        cancel_url=cancel_url,
    )


def _overage_price() -> str:
    """The metered price of AI answers past the quota (Stripe Billing Meter), if set."""
    return (getattr(settings, "STRIPE_PRICES", {}) or {}).get("business_overage", "")


@transaction.atomic
def staff_plan_grant(*, tenant: Tenant, plan_code: str, by, reason: str = "") -> None:
    """Platform staff put a tenant on a plan by hand (audited)."""
    plan = _plan(plan_code)
    account = BillingAccount.objects.select_for_update().get_or_create(tenant=tenant)[0]
    before = Tenant.objects.filter(pk=tenant.pk).values_list("plan", flat=True).first()
    tenant_plan_apply(tenant=tenant, code=plan.code, actor=by, actor_kind="staff", why="staff grant")
    if account.source != BillingAccount.Source.STRIPE:
        account.source = BillingAccount.Source.STAFF
        account.save(update_fields=["source", "updated_at"])
    _audit(tenant, by, "staff_plan_grant", before=before, after=plan.code, reason=reason)


def _customer_ensure(tenant: Tenant, account: BillingAccount) -> str:
    if account.stripe_customer_id:
        return account.stripe_customer_id
    owner = (
        Membership.objects.filter(tenant=tenant, role=Membership.Role.OWNER)
        .select_related("user")
        .order_by("created_at")
        .first()
    )
    customer_id = stripe_client.customer_create(
        tenant_id=tenant.pk, email=owner.user.email if owner else "", name=tenant.name
    )
    # Stored at once, outside the caller's transaction: a failure after this (the Checkout
    # call) must not forget a customer Stripe has made.
    BillingAccount.objects.filter(pk=account.pk, stripe_customer_id__isnull=True).update(
        stripe_customer_id=customer_id
    )
    account.stripe_customer_id = customer_id
    return customer_id


def portal_start(*, tenant: Tenant, return_url: str) -> str:
    account = billing_account(tenant)
    if not stripe_client.stripe_enabled() or not account.stripe_customer_id:
        raise Conflict("There is no Stripe billing for this workspace yet: choose a plan first.")
    return stripe_client.portal_session_create(customer_id=account.stripe_customer_id, return_url=return_url)


# --- webhook events ----------------------------------------------------------------------------


def stripe_event_record(event: dict) -> bool:
    """Store a verified event once (a duplicate delivery stores nothing) and queue its
    processing after the commit. Returns whether it was new."""
    created = datetime.fromtimestamp(int(event.get("created") or 0), tz=UTC)
    try:
        with transaction.atomic():
            stored = StripeEvent.objects.create(
                event_id=event["id"], type=str(event.get("type", ""))[:100], created=created, payload=event
            )
    except IntegrityError:
        return False
    if stored.type in HANDLED_EVENTS:
        enqueue_on_commit(stripe_event_process_task, stored.pk)
    else:
        StripeEvent.objects.filter(pk=stored.pk).update(processed_at=timezone.now())
    return True
