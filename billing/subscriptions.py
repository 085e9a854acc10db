"""Writes for plans and subscriptions: plan changes (Stripe Checkout, in-place upgrades
and downgrades, demo billing, staff grants), the customer portal, webhook events, and
the subscription state they lead to.

    checkout_start(tenant, plan, interval)  -> URL to Stripe Checkout, or None (applied)
    portal_start(tenant, return_url)        -> URL of the Stripe customer portal
    stripe_event_record(event)              -> stored once per event id; processed in a task
    stripe_event_process(pk)                -> the event's effect, once (row lock + marker)
    _subscription_apply(account, sub)       -> account + tenant plan from Stripe's object

Webhooks are the source of truth, and they arrive twice and out of order: every event
about a subscription re-fetches the subscription and applies what Stripe says now, so the
last sync wins whichever event triggered it. Preconditions: the public schema is active.
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
from .selectors import grace_ends
from .services import billing_url, owners_email

logger = logging.getLogger(__name__)

INTERVALS = ("monthly", "yearly")
# Statuses in which the subscription's plan is in force (past_due: during the grace period).
PLAN_IN_FORCE = {"active", "trialing", "past_due"}
HANDLED_EVENTS = {
    "checkout.session.completed",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "invoice.paid",
    "invoice.payment_failed",
}


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


def _plan_apply(tenant: Tenant, code: str) -> None:
    Tenant.objects.filter(pk=tenant.pk).update(plan=code, updated_at=timezone.now())
    tenant.plan = code


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
    *, tenant: Tenant, plan_code: str, interval: str, by, success_url: str, cancel_url: str
) -> str | None:
    """Move ``tenant`` to a plan. Demo billing (no Stripe key) applies it at once and returns
    None; with Stripe, a workspace without a subscription gets a Checkout URL, one with a
    subscription is moved to the new price in place (prorated; the webhook confirms it).
    Free through Stripe means cancelling, which the customer portal does."""
    plan = _choice(plan_code, interval)
    account = BillingAccount.objects.select_for_update().get_or_create(tenant=tenant)[0]
    if not stripe_client.stripe_enabled():
        before = plan_get(Tenant.objects.filter(pk=tenant.pk).values_list("plan", flat=True).first())
        _plan_apply(tenant, plan.code)
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
            plan_item_id=_plan_item(subscription).get("id", ""),
            price_id=price_id,
            overage_price_id=_overage_price() if plan.overage else "",
            plan=plan.code,
        )
        _subscription_apply(account, updated)
        _audit(tenant, by, "subscription_price_change", plan=plan.code, interval=interval)
        return None
    if account.stripe_subscription_id and account.status not in ("none", "canceled", "incomplete_expired"):
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
    _plan_apply(tenant, plan.code)
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
        from .tasks import stripe_event_process_task

        enqueue_on_commit(stripe_event_process_task, stored.pk)
    else:
        StripeEvent.objects.filter(pk=stored.pk).update(processed_at=timezone.now())
    return True


def stripe_event_process(event_pk: int) -> None:
    """Apply one stored event's effect, once: under a lock on its row, and marked processed
    in the same transaction as the effect. A failure rolls the effect back (savepoint) but
    records the attempt and the error, then is raised for the task to retry."""
    failure: Exception | None = None
    with transaction.atomic():
        event = StripeEvent.objects.select_for_update().filter(pk=event_pk).first()
        if event is None or event.processed_at is not None:
            return
        event.attempts += 1
        try:
            with transaction.atomic():
                _apply(event.payload)
        except Exception as error:
            failure, event.error = error, f"{type(error).__name__}: {error}"[:2000]
            event.save(update_fields=["attempts", "error"])
        else:
            event.processed_at, event.error = timezone.now(), ""
            event.save(update_fields=["processed_at", "attempts", "error"])
    if failure is not None:
        if not isinstance(failure, stripe_client.StripeError):
            logger.error("stripe event %s failed: %s", event_pk, failure, exc_info=failure)
        raise failure


def _apply(event: dict) -> None:
    """The account is found from the event's object and locked first; the subscription is
    fetched from Stripe under that lock, so of two concurrent syncs the later fetch is the
    one that stays."""
    kind, obj = event.get("type"), (event.get("data") or {}).get("object") or {}
    if kind == "checkout.session.completed":
        account = _account_for(obj, tenant_id=obj.get("client_reference_id") or _meta(obj).get("tenant_id"))
        if account is None:
            logger.warning("stripe checkout for no known tenant: %s", obj.get("id"))
            return
        account = BillingAccount.objects.select_for_update().get(pk=account.pk)
        if obj.get("customer") and not account.stripe_customer_id:
            account.stripe_customer_id = _id(obj["customer"])
            account.save(update_fields=["stripe_customer_id", "updated_at"])
        if obj.get("subscription"):
            subscription = stripe_client.subscription_get(_id(obj["subscription"]))
            current = account.stripe_subscription_id
            if current and current != subscription["id"]:
                live = stripe_client.subscription_get(current)
                _subscription_apply(account, live)  # what Stripe says of the current one now
                if live.get("status") not in ENDED:
                    # A second checkout paid while a subscription is live (two tabs): the
                    # newer one is cancelled at once; staff refund its first invoice.
                    logger.error(
                        "tenant %s paid a second subscription %s (current %s): cancelled",
                        account.tenant_id,
                        subscription["id"],
                        current,
                    )
                    stripe_client.subscription_cancel(subscription["id"])
                    return
            _subscription_apply(account, subscription)
        return
    if kind and kind.startswith("customer.subscription."):
        subscription_id = obj.get("id", "")
    elif kind in ("invoice.paid", "invoice.payment_failed"):
        subscription_id = _invoice_subscription(obj)
    else:
        return
    account = _account_for(obj, tenant_id=_meta(obj).get("tenant_id"))
    if not subscription_id or account is None:
        logger.warning("stripe %s for no known tenant or subscription: %s", kind, obj.get("id"))
        return
    account = BillingAccount.objects.select_for_update().get(pk=account.pk)
    _subscription_apply(account, stripe_client.subscription_get(subscription_id))
    if kind == "invoice.payment_failed" and account.status in ("past_due", "unpaid"):
        _payment_failed_notify(account, obj)


def _id(value) -> str:
    return value["id"] if isinstance(value, dict) else str(value)


def _meta(obj: dict) -> dict:
    return obj.get("metadata") or {}


def _invoice_subscription(invoice: dict) -> str:
    details = ((invoice.get("parent") or {}).get("subscription_details") or {}).get("subscription")
    value = details or invoice.get("subscription")
    return _id(value) if value else ""


def _account_for(obj: dict, *, tenant_id=None) -> BillingAccount | None:
    """The account an object is about: by our tenant id (metadata), else by customer."""
    if tenant_id and str(tenant_id).isdigit():
        tenant = Tenant.objects.filter(pk=int(tenant_id)).first()
        if tenant is not None:
            account, _ = BillingAccount.objects.get_or_create(tenant=tenant)
            customer = obj.get("customer")
            if customer and account.stripe_customer_id not in (None, "", _id(customer)):
                logger.warning(
                    "stripe object %s names tenant %s with another customer", obj.get("id"), tenant_id
                )
                return None
            return account
    customer = obj.get("customer")
    return BillingAccount.objects.filter(stripe_customer_id=_id(customer)).first() if customer else None


def _price_plan(price_id: str) -> tuple[str, str] | None:
    for key, value in (getattr(settings, "STRIPE_PRICES", {}) or {}).items():
        if value == price_id and "_" in key:
            code, interval = key.rsplit("_", 1)
            if code in BY_CODE and interval in INTERVALS:
                return code, interval
    return None


def _plan_item(subscription: dict) -> dict:
    """The item carrying the plan's price (the metered overage item is another)."""
    items = (subscription.get("items") or {}).get("data") or []
    return next((i for i in items if _price_plan((i.get("price") or {}).get("id", ""))), {})


def _when(value) -> datetime | None:
    return datetime.fromtimestamp(int(value), tz=UTC) if value else None


ENDED = ("none", "canceled", "incomplete_expired")


def _subscription_apply(account: BillingAccount, subscription: dict) -> BillingAccount:
    """Apply Stripe's current view of a subscription to its (locked) account and tenant:
    status, plan, period, grace. News of a subscription other than the account's current
    one changes nothing until the current one has ended."""
    status = str(subscription.get("status") or "")
    current = account.stripe_subscription_id
    if current and current != subscription["id"] and account.status not in ENDED:
        # Another subscription's news while the current one lives (an old one's late
        # events, or a second checkout, which checkout.session.completed settles).
        return account
    item = _plan_item(subscription)
    chosen = _price_plan((item.get("price") or {}).get("id", ""))
    if chosen is None:
        logger.error("stripe subscription %s has no price we sell: the plan stays", subscription.get("id"))
        return account
    plan = BY_CODE[chosen[0]]
    now = timezone.now()
    account.stripe_subscription_id = subscription["id"]
    if subscription.get("customer") and not account.stripe_customer_id:
        account.stripe_customer_id = _id(subscription["customer"])
    account.status = status if status in BillingAccount.Status.values else BillingAccount.Status.INCOMPLETE
    account.source = BillingAccount.Source.STRIPE
    account.interval = chosen[1]
    # The billing period sits on the items (API 2025-03 on), on the subscription before.
    period = {k: item.get(k) or subscription.get(k) for k in ("current_period_start", "current_period_end")}
    account.current_period_start = _when(period["current_period_start"])
    account.current_period_end = _when(period["current_period_end"])
    account.cancel_at_period_end = bool(subscription.get("cancel_at_period_end"))
    account.trial_ends_at = _when(subscription.get("trial_end"))
    if status in ("past_due", "unpaid"):
        account.past_due_since = account.past_due_since or now
    else:
        account.past_due_since = None
    account.synced_at = now
    account.save()
    _plan_apply(account.tenant, plan.code if status in PLAN_IN_FORCE or status == "unpaid" else "free")
    logger.info("subscription synced tenant=%s status=%s plan=%s", account.tenant_id, status, plan.code)
    return account


def _payment_failed_notify(account: BillingAccount, invoice: dict) -> None:
    tenant = account.tenant
    body = (
        f"The payment for your workspace {tenant.name} failed.\n\n"
        f"Everything keeps working until {grace_ends(account):%d %B %Y}; after that your widgets "
        f"answer with their offline text and the dashboard is read-only until the payment goes "
        f"through. Update your card here:\n{billing_url(tenant)}\n"
    )
    owners_email(tenant=tenant, subject=f"{tenant.name}: payment failed", body=body)
