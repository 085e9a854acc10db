"""Processed Stripe events older than STRIPE_EVENTS_KEEP_DAYS are forgotten
(billing.stripe_events.stripe_events_expire, the daily beat job)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from billing.models import StripeEvent
from billing.stripe_events import stripe_events_expire
from billing.tasks import stripe_events_expire_task

SECOND = timedelta(seconds=1)


def _event(n: int, *, received_at, processed: bool = True) -> StripeEvent:
    event = StripeEvent.objects.create(
        event_id=f"evt_house_{n}", type="invoice.paid", created=received_at, payload={}
    )
    StripeEvent.objects.filter(pk=event.pk).update(
        received_at=received_at, processed_at=received_at if processed else None
    )
    return event


def test_processed_events_go_after_the_keep_period_unprocessed_ones_stay(db, settings):
    settings.STRIPE_EVENTS_KEEP_DAYS = 90
    now = timezone.now()
    limit = now - timedelta(days=90)
    old = _event(1, received_at=limit - SECOND)
    recent = _event(2, received_at=limit + SECOND)
    stuck = _event(3, received_at=limit - timedelta(days=10), processed=False)
    assert stripe_events_expire(now=now) == 1
    left = set(StripeEvent.objects.values_list("pk", flat=True))
    assert old.pk not in left and {recent.pk, stuck.pk} <= left
    assert stripe_events_expire(now=now) == 0


def test_the_task_returns_its_counts(db):
    _event(4, received_at=timezone.now() - timedelta(days=400))
    assert stripe_events_expire_task.apply().get() == {"expired_stripe_events": 1}
    assert stripe_events_expire_task.apply().get() == {"expired_stripe_events": 0}
