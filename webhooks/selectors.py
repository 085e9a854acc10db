"""Reads of the webhooks app: endpoints, their secrets, deliveries. Preconditions: the
tenant's schema is active."""

from __future__ import annotations

from django.core.cache import cache
from django.db.models import QuerySet
from django.utils import timezone

from saas.crypto import secret_decrypt

from .models import Delivery, Endpoint

LOG_LIMIT = 100
# The event types some enabled endpoint of the workspace wants (the cache key carries the
# schema): every chat event asks, so most of them cost no query. Forgotten when endpoints
# change (``webhooks.services``); the timeout bounds a read racing a change.
SUBSCRIBED_KEY = "webhooks:subscribed"
SUBSCRIBED_SECONDS = 60


def event_types_subscribed() -> frozenset[str]:
    cached = cache.get(SUBSCRIBED_KEY)
    if cached is None:
        rows = Endpoint.objects.filter(is_enabled=True).values_list("event_types", flat=True)
        cached = sorted({t for types in rows for t in types})
        cache.set(SUBSCRIBED_KEY, cached, SUBSCRIBED_SECONDS)
    return frozenset(cached)


def endpoints_all() -> QuerySet[Endpoint]:
    return Endpoint.objects.order_by("created_at", "pk")


def endpoint_by_public_id(public_id: str) -> Endpoint | None:
    return Endpoint.objects.filter(public_id=public_id).first()


def endpoint_secret(endpoint: Endpoint) -> str:
    return secret_decrypt(endpoint.secret)


def endpoint_secrets_valid(endpoint: Endpoint) -> list[str]:
    """The secrets requests are signed with: the current one, and the one it replaced until
    that one expires (24 h after the rotation)."""
    valid = [secret_decrypt(endpoint.secret)]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires and expires > timezone.now():
        valid.append(secret_decrypt(endpoint.previous_secret))
    return valid


def deliveries_of(endpoint: Endpoint, *, limit: int = LOG_LIMIT) -> list[Delivery]:
    """The endpoint's latest deliveries, newest first, with their events."""
    return list(endpoint.deliveries.select_related("event").order_by("-created_at", "-pk")[:limit])


def deliveries_filtered(
    endpoint: Endpoint, *, status: str | None = None, event_type: str | None = None
) -> QuerySet[Delivery]:
    """The endpoint's deliveries with their events, of one status or event type if given."""
    rows = endpoint.deliveries.select_related("event")
    if status:
        rows = rows.filter(status=status)
    if event_type:
        rows = rows.filter(event__type=event_type)
    return rows


def delivery_of(endpoint: Endpoint, delivery_id: int) -> Delivery | None:
    return endpoint.deliveries.select_related("event").filter(pk=delivery_id).first()
