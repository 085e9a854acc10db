"""Every call we make to Stripe, through the plain ``stripe`` SDK (docs/architecture.md, "Billing").

One ``StripeClient`` per process, built from settings (``STRIPE_API_BASE`` points it at
another Stripe-compatible API: the fake server in the tests). The SDK retries network
errors, 409s and 5xx twice with the same idempotency key; our own keys make the calls that
create things safe to repeat (the customer of a tenant is created once).

Stripe objects are not dicts: read them with ``obj["field"]`` or ``to_dict()``.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import stripe
from django.conf import settings

from saas.request_body import JsonTooDeep, json_loads_bounded

if TYPE_CHECKING:
    from stripe.params import SubscriptionUpdateParamsItem
    from stripe.params.checkout import SessionCreateParamsLineItem

StripeError = stripe.StripeError
SignatureError = stripe.SignatureVerificationError
# Failures worth retrying soon: Stripe unreachable, rate-limited or failing (5xx).
ConnectionFailed = stripe.APIConnectionError
RateLimited = stripe.RateLimitError
ServerFailed = stripe.APIError
WEBHOOK_TOLERANCE = 300  # seconds: older signatures are refused (replays)


def stripe_enabled() -> bool:
    return bool(settings.STRIPE_SECRET_KEY)


@functools.cache
def _client(api_key: str, api_base: str) -> stripe.StripeClient:
    return stripe.StripeClient(
        api_key=api_key, max_network_retries=2, base_addresses={"api": api_base} if api_base else None
    )


def client() -> stripe.StripeClient:
    return _client(settings.STRIPE_SECRET_KEY, settings.STRIPE_API_BASE)


def customer_create(*, tenant_id: int, email: str, name: str) -> str:
    """The tenant's Stripe customer id: created once whatever the retries (idempotency key
    per tenant; Stripe keeps keys 24 hours, the caller stores the id before that)."""
    customer = client().v1.customers.create(
        params={"email": email, "name": name, "metadata": {"tenant_id": str(tenant_id)}},
        options={"idempotency_key": f"customer-for-tenant-{tenant_id}"},
    )
    return customer["id"]


def checkout_session_create(
    *, tenant_id: int, customer_id: str, price_ids: list[str], plan: str, success_url: str, cancel_url: str
) -> str:
    """A Checkout Session (mode subscription) for the plan's price (and the metered
    overage price, without a quantity); returns the URL to send the owner to. The tenant id
    travels in ``client_reference_id`` and in the metadata of the session and of the
    subscription it creates."""
    metadata = {"tenant_id": str(tenant_id), "plan": plan}
    line_items: list[SessionCreateParamsLineItem] = [{"price": price_ids[0], "quantity": 1}]
    line_items += [{"price": p} for p in price_ids[1:]]
    session = client().v1.checkout.sessions.create(
        params={
            "mode": "subscription",
            "customer": customer_id,
            "client_reference_id": str(tenant_id),
            "metadata": metadata,
            "line_items": line_items,
            "subscription_data": {"metadata": metadata},
            "success_url": success_url,
            "cancel_url": cancel_url,
            "allow_promotion_codes": True,
        }
    )
    return session["url"]


def portal_session_create(*, customer_id: str, return_url: str) -> str:
    session = client().v1.billing_portal.sessions.create(
        params={"customer": customer_id, "return_url": return_url}
    )
    return session["url"]


def subscription_get(subscription_id: str) -> dict:
    return client().v1.subscriptions.retrieve(subscription_id).to_dict()


def subscription_plan_set(
    *, subscription: dict, plan_item_id: str, price_id: str, overage_price_id: str, plan: str
) -> dict:
    """Move a subscription to another plan's price in place (prorated), adding the metered
    overage item when the new plan has overage and removing it when it has not."""
    items: list[SubscriptionUpdateParamsItem] = [{"id": plan_item_id, "price": price_id}]
    overage_items = [
        i for i in subscription["items"]["data"] if i["id"] != plan_item_id and i["price"]["id"] != price_id
    ]
    if overage_price_id and not any(i["price"]["id"] == overage_price_id for i in overage_items):
        items.append({"price": overage_price_id})
    if not overage_price_id:
        items += [{"id": i["id"], "deleted": True} for i in overage_items]
    return (
        client()
        .v1.subscriptions.update(
            subscription["id"],
            params={"items": items, "proration_behavior": "create_prorations", "metadata": {"plan": plan}},
        )
        .to_dict()
    )


def subscription_cancel(subscription_id: str) -> dict:
    return client().v1.subscriptions.cancel(subscription_id).to_dict()


def invoices_list(*, customer_id: str, limit: int = 12) -> list[dict]:
    page = client().v1.invoices.list(params={"customer": customer_id, "limit": limit})
    return [invoice.to_dict() for invoice in page.data]


def meter_event_send(*, customer_id: str, value: int, identifier: str, timestamp: int) -> None:
    """One Billing Meter event. Stripe refuses a second event with the same ``identifier``
    (400): that means it already counted this one, which is success for us."""
    try:
        client().v1.billing.meter_events.create(
            params={
                "event_name": settings.STRIPE_METER_EVENT_NAME,
                "payload": {"stripe_customer_id": customer_id, "value": str(value)},
                "identifier": identifier,
                "timestamp": timestamp,
            }
        )
    except stripe.InvalidRequestError as error:
        if getattr(error, "param", None) == "identifier" or "already exists" in str(error.user_message or ""):
            return
        raise


def webhook_event(payload: bytes, signature: str) -> dict:
    """The event of a webhook request, verified on its raw body. Raises SignatureError
    (bad, missing or stale signature) or ValueError (not an event)."""
    if not settings.STRIPE_WEBHOOK_SECRET:
        raise SignatureError("No webhook secret is configured.", signature)
    if not signature.isascii():  # the SDK's constant-time compare takes ASCII only
        raise SignatureError("The signature header is not ASCII.", signature)
    stripe.WebhookSignature.verify_header(
        payload.decode("utf-8", "replace"), signature, settings.STRIPE_WEBHOOK_SECRET, WEBHOOK_TOLERANCE
    )
    try:
        event = json_loads_bounded(payload)
    except JsonTooDeep as error:
        raise ValueError("not a Stripe event") from error
    if not isinstance(event, dict) or event.get("object") != "event" or not event.get("id"):
        raise ValueError("not a Stripe event")
    return event
