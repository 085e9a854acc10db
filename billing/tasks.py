"""Background work for billing (public schema): webhook events, metered overage, trials,
and the owners' emails (``owner_emails``, re-exported here). Tasks take ids, re-fetch,
and call a service."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from tenants.tasks import job_done

from . import stripe_client
from .models import StripeEvent
from .owner_emails import owners_email_task
from .services import overage_report, trials_expire
from .stripe_events import stripe_event_process, stripe_events_expire

logger = logging.getLogger(__name__)

__all__ = [
    "overage_report_task",
    "owners_email_task",
    "stripe_event_process_task",
    "stripe_events_pending",
    "trials_expire_task",
]

# Worth retrying soon: Stripe unreachable, rate-limited or failing (5xx).
TRANSIENT = (stripe_client.ConnectionFailed, stripe_client.RateLimited, stripe_client.ServerFailed)


@shared_task(
    acks_late=True,
    autoretry_for=TRANSIENT,
    retry_backoff=5,
    retry_backoff_max=600,
    max_retries=8,
)
def stripe_event_process_task(event_pk: int) -> None:
    stripe_event_process(event_pk)


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
            stripe_event_process(pk)
        except stripe_client.ConnectionFailed:
            break  # Stripe is unreachable: the next run tries again
        except Exception:
            logger.warning("stripe event %s still failing", pk)
    return len(pending)


@shared_task
def overage_report_task() -> int:
    return overage_report()


@shared_task
def trials_expire_task() -> int:
    return trials_expire()


@shared_task(acks_late=True, soft_time_limit=600, time_limit=660)
def stripe_events_expire_task() -> dict[str, int]:
    """Daily (beat): processed Stripe events older than STRIPE_EVENTS_KEEP_DAYS."""
    return job_done("stripe-events-expire", {"expired_stripe_events": stripe_events_expire()})
