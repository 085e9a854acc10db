from celery import shared_task

from .services import outbox_resend as resend


@shared_task(acks_late=True, soft_time_limit=120, time_limit=150)
def outbox_resend() -> int:
    """Send the tasks the broker refused earlier (beat, every ``OUTBOX_RESEND_SECONDS``)."""
    return resend()
