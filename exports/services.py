"""Writes of CSV exports that a request makes: the job for an export too large to stream
(``exports.files`` writes its file in a task). Preconditions: the tenant's schema is
active."""

from __future__ import annotations

import logging

from django.db import transaction

from saas.celery import enqueue_on_commit
from tenants.models import User

from . import tasks
from .models import ExportJob

logger = logging.getLogger(__name__)


def export_job_create(*, kind: str, filters: dict[str, str], user: User, role: str) -> ExportJob:
    """Queue an export of ``kind`` with the page's ``filters`` for ``user`` (their role
    now bounds what the file holds); the task runs after the commit."""
    with transaction.atomic():
        job = ExportJob.objects.create(
            kind=kind,
            filters=filters,
            requested_by_user_id=user.pk,
            requested_by_email=user.email,
            requested_by_role=role,
        )
        enqueue_on_commit(tasks.export_run, job.pk)
    logger.info("export queued job=%s kind=%s by=%s", job.public_id, kind, user.pk)
    return job
