"""Background work for billing (public schema): webhook events and metered overage."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from . import stripe_client, subscriptions
from .models import StripeEvent


@shared_task(
    acks_late=True,
    autoretry_for=(stripe_client.StripeError,),
    retry_backoff=5,
    retry_backoff_max=600,
    max_retries=8,
)
def stripe_event_process_task(event_pk: int) -> None:
    subscriptions.stripe_event_process(event_pk)


@shared_task
def stripe_events_pending() -> int:
    """Events whose task was lost (broker down, worker killed) or gave up: processed again
    (beat, every 10 minutes). Processing is idempotent."""
    stale = timezone.now() - timedelta(minutes=5)
    pending = list(
        StripeEvent.objects.filter(processed_at__isnull=True, received_at__lt=stale, attempts__lt=50)
        .order_by("created")
        .values_list("pk", flat=True)[:500]
    )
    for pk in pending:
        try:
            subscriptions.stripe_event_process(pk)
        except stripe_client.StripeError:
            break  # Stripe is unreachable: the next run tries again
    return len(pending)


@shared_task
def overage_report_task() -> int:
    from .services import overage_report

    return overage_report()


@shared_task
def trials_expire_task() -> int:
    from .services import trials_expire

    return trials_expire()
