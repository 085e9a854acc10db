"""Stripe webhook events: each stored event's effect, applied once.

Webhooks are the source of truth, and they arrive twice and out of order: every event
about a subscription re-fetches the subscription and applies what Stripe says now, so the
last sync wins whichever event triggered it. Events are stored by
``subscriptions.stripe_event_record`` and processed here by ``billing.tasks``.
Preconditions: the public schema is active.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from tenants.batches import batched_delete
from tenants.models import Tenant

from . import stripe_client
from .models import BillingAccount, StripeEvent
from .selectors import grace_ends
from .services import billing_url, owners_email
from .stripe_sync import ENDED, stripe_id, subscription_apply

logger = logging.getLogger(__name__)

HANDLED_EVENTS = {
    "checkout.session.completed",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "invoice.paid",
    "invoice.payment_failed",
}


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


def _apply(event: dict[str, Any]) -> None:
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
            account.stripe_customer_id = stripe_id(obj["customer"])
            account.save(update_fields=["stripe_customer_id", "updated_at"])
        if obj.get("subscription"):
            subscription = stripe_client.subscription_get(stripe_id(obj["subscription"]))
            current = account.stripe_subscription_id
            if current and current != subscription["id"]:
                live = stripe_client.subscription_get(current)
                # What Stripe says of the current one now.
                subscription_apply(account=account, subscription=live)
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
            subscription_apply(account=account, subscription=subscription)
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
    subscription_apply(account=account, subscription=stripe_client.subscription_get(subscription_id))
    if kind == "invoice.payment_failed" and account.status in ("past_due", "unpaid"):
        _payment_failed_notify(account, obj)


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("metadata") or {}


def _invoice_subscription(invoice: dict[str, Any]) -> str:
    details = ((invoice.get("parent") or {}).get("subscription_details") or {}).get("subscription")
    value = details or invoice.get("subscription")
    return stripe_id(value) if value else ""


def _account_for(obj: dict[str, Any], *, tenant_id: object = None) -> BillingAccount | None:
    """The account an object is about: by our tenant id (metadata), else by customer."""
    if tenant_id and str(tenant_id).isdigit():
        tenant = Tenant.objects.filter(pk=int(str(tenant_id))).first()
        if tenant is not None:
            account, _ = BillingAccount.objects.get_or_create(tenant=tenant)
            customer = obj.get("customer")
            if customer and account.stripe_customer_id not in (None, "", stripe_id(customer)):
                logger.warning(
                    "stripe object %s names tenant %s with another customer", obj.get("id"), tenant_id
                )
                return None
            return account
    customer = obj.get("customer")
    return BillingAccount.objects.filter(stripe_customer_id=stripe_id(customer)).first() if customer else None


def _payment_failed_notify(account: BillingAccount, invoice: dict[str, Any]) -> None:
    tenant = account.tenant
    owners_email(
        tenant=tenant,
        subject=f"{tenant.name}: payment failed",
        heading="Your payment failed",
        paragraphs=[
            f"The payment for your workspace {tenant.name} failed.",
            f"Everything keeps working until {grace_ends(account):%d %B %Y}; after that your widgets "
            f"answer with their offline text and the dashboard is read-only until the payment goes "
            f"through.",
        ],
        action_url=billing_url(tenant),
        action_label="Update your card",
        level="danger",
    )


def stripe_events_expire(*, now: datetime | None = None) -> int:
    """Forget processed Stripe events received more than STRIPE_EVENTS_KEEP_DAYS ago (Stripe
    redelivers an event for 3 days at most, so their ids no longer guard against a
    duplicate); unprocessed ones stay for the retry job. A batch per short transaction."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.STRIPE_EVENTS_KEEP_DAYS)
    processed = StripeEvent.objects.filter(processed_at__isnull=False, received_at__lt=cutoff)
    return batched_delete(processed, what="billing: Stripe events")
