"""The task that sends billing emails to a workspace's owners.

It sits apart from ``billing.tasks`` because of the layers: the code that emails owners
(quota notices in ``services``, payment failures in ``stripe_events``) sits below the other
tasks, which call into it. ``billing.tasks`` re-exports it, and its name stays
``billing.tasks.owners_email_task`` so queued messages keep finding it.
"""

from __future__ import annotations

from celery import shared_task

from ui.emails import email_message


@shared_task(
    name="billing.tasks.owners_email_task", autoretry_for=(OSError,), retry_backoff=30, max_retries=5
)
def owners_email_task(subject: str, body: str, recipients: list[str], html: str = "") -> None:
    """Billing emails to a workspace's owners, sent outside the request (a mail server
    that fails never fails a visitor's answer or the change that caused the email): the
    text ``body`` and its ``html`` alternative (messages queued before it had one: text only)."""
    if recipients:
        email_message(subject=subject, text=body, html=html, to=recipients).send()
