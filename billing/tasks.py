"""Background work for billing (public schema): webhook events and metered overage."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from . import stripe_client, subscriptions
from .models import StripeEvent

logger = logging.getLogger(__name__)


# Worth retrying soon: Stripe unreachable, rate-limited or failing (5xx).
TRANSIENT = (
    stripe_client.stripe.APIConnectionError,
    stripe_client.stripe.RateLimitError,
    stripe_client.stripe.APIError,
)


@shared_task(
    acks_late=True,
    autoretry_for=TRANSIENT,
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
        except stripe_client.stripe.APIConnectionError:
            break  # Stripe is unreachable: the next run tries again
        except Exception:
            logger.warning("stripe event %s still failing", pk)
    return len(pending)


@shared_task
def overage_report_task() -> int:
    from .services import overage_report

    return overage_report()


@shared_task
def trials_expire_task() -> int:
    from .services import trials_expire

    return trials_expire()


@shared_task(autoretry_for=(OSError,), retry_backoff=30, max_retries=5)
def owners_email_task(subject: str, body: str, recipients: list[str]) -> None:
    """Billing emails to a workspace's owners, sent outside the request (a mail server
    that fails never fails a visitor's answer or the change that caused the email)."""
    from django.core.mail import send_mail

    if recipients:
        send_mail(subject, body, None, recipients)
