"""Writes of CSV exports that a request makes: the job for an export too large to stream
(``exports.files`` writes its file in a task). Preconditions: the tenant's schema is
active."""

from __future__ import annotations

import logging

from django.db import transaction

from audit.services import Caller, audit_record
from saas.celery import enqueue_on_commit
from tenants.models import User

from . import tasks
from .models import ExportJob

logger = logging.getLogger(__name__)


def export_requested_record(
    *, kind: str, filters: dict[str, str], rows: int, request: Caller | None, background: bool = False
) -> None:
    """Note in the audit log that a CSV export of ``kind`` was asked for (``export.requested``:
    the list, the page's filters, how many rows, streamed or emailed)."""
    audit_record(
        action="export.requested",
        request=request,
        target_type="export",
        target_repr=str(kind).capitalize(),
        metadata={"kind": str(kind), "filters": dict(filters), "rows": rows, "background": background},
    )


def export_job_create(
    *, kind: str, filters: dict[str, str], user: User, role: str, rows: int = 0, request: Caller | None = None
) -> ExportJob:
    """Queue an export of ``kind`` with the page's ``filters`` for ``user`` (their role
    now bounds what the file holds); the task runs after the commit. Recorded as
    ``export.requested``."""
    with transaction.atomic():
        job = ExportJob.objects.create(
            kind=kind,
            filters=filters,
            requested_by_user_id=user.pk,
            requested_by_email=user.email,
            requested_by_role=role,
        )
        enqueue_on_commit(tasks.export_run, job.pk)
        export_requested_record(kind=kind, filters=filters, rows=rows, request=request, background=True)
    logger.info("export queued job=%s kind=%s by=%s", job.public_id, kind, user.pk)
    return job
