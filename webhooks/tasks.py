"""Background work of webhooks: one delivery's attempt (queued after the event commits, in
its workspace's schema), the beat sweep that sends the retries that are due, and the
hourly expiry of the delivery log."""

from __future__ import annotations

from celery import shared_task

from tenants.tasks import each_active_workspace, each_workspace_counts, job_done

from .services import deliveries_due_send, delivery_attempt, webhook_log_expire


@shared_task(acks_late=True, soft_time_limit=60, time_limit=90)
def webhook_deliver(delivery_id: int) -> str:
    """One attempt (nothing if it is not due: sent already, or being sent)."""
    delivery = delivery_attempt(delivery_id=delivery_id)
    return delivery.status if delivery is not None else "skipped"


@shared_task(acks_late=True, soft_time_limit=300, time_limit=330)
def webhooks_retry_due() -> int:
    """Every 15 s (beat): queue the deliveries whose next attempt is due, in every workspace."""
    return each_active_workspace(deliveries_due_send, what="webhooks: retries")


@shared_task(acks_late=True, soft_time_limit=600, time_limit=660)
def webhooks_expire() -> dict[str, int]:
    """Every hour (beat): the delivery log older than WEBHOOKS_LOG_DAYS goes, in every
    workspace, a batch per short transaction."""
    counts = each_workspace_counts(webhook_log_expire, what="webhooks: expiry")
    return job_done("webhooks-expire", counts)
