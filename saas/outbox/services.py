"""Storing a refused task, and sending the due ones again."""

from __future__ import annotations

import datetime
import logging
from typing import Any

from celery import current_app
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from .models import OutboxTask

logger = logging.getLogger(__name__)

RETRY_FIRST_SECONDS = 10
RETRY_MAX_SECONDS = 600
RESEND_BATCH = 200


def _error_text(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:300]


def outbox_store(
    *, task_name: str, args: list[Any], kwargs: dict[str, Any], schema_name: str, error: BaseException
) -> OutboxTask:
    """Keep a task the broker refused; due at once (the next beat run sends it)."""
    return OutboxTask.objects.create(
        task_name=task_name,
        args=args,
        kwargs=kwargs,
        schema_name=schema_name,
        next_attempt_at=timezone.now(),
        last_error=_error_text(error),
    )


def outbox_resend(*, limit: int = RESEND_BATCH) -> int:
    """Send the due tasks, oldest first; delete each once the broker took it. Stops at the
    first refusal (the broker is still down) and pushes that row back, doubling its wait.
    Rows locked by a concurrent run are skipped. Returns how many were sent."""
    sent = 0
    with transaction.atomic():
        due = list(
            OutboxTask.objects.select_for_update(skip_locked=True)
            .filter(next_attempt_at__lte=timezone.now())
            .order_by("id")[:limit]
        )
        for row in due:
            task = current_app.tasks.get(row.task_name)  # saas.celery's app (it imports us)
            if task is None:
                logger.error("outbox: unknown task %s dropped (id %s)", row.task_name, row.pk)
                row.delete()
                continue
            try:
                with schema_context(row.schema_name):
                    task.apply_async(
                        args=row.args,
                        kwargs=row.kwargs,
                        headers={"_schema_name": row.schema_name},
                        ignore_result=True,  # as saas.celery.publish sends it
                    )
            except Exception as error:  # the broker still refuses: try again later
                _postpone(row, error)
                break
            row.delete()
            sent += 1
    if sent:
        logger.info("outbox: %d task(s) sent", sent)
    return sent


def _postpone(row: OutboxTask, error: BaseException) -> None:
    row.attempts += 1
    wait = min(RETRY_MAX_SECONDS, RETRY_FIRST_SECONDS * 2 ** min(row.attempts - 1, 10))
    row.next_attempt_at = timezone.now() + datetime.timedelta(seconds=wait)
    row.last_error = _error_text(error)
    row.save(update_fields=["attempts", "next_attempt_at", "last_error"])
