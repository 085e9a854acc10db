"""The files of CSV export jobs: written by the job's task (the rows a chunk at a time, to
the default storage under the tenant's prefix), the link emailed to whoever asked, and
deleted when they expire (the beat's ``exports_expire_task``). Writes; called by
``exports.tasks``. Preconditions: the tenant's schema is active (tasks enter it).

Above ``EXPORTS_BACKGROUND_ROWS`` rows (10,000 by default) an export is a job rather than
a streamed download (``exports.views``), so no request holds a connection and a web worker
for minutes; its file stays downloadable, by its requester or the workspace's owners and
admins, for ``EXPORTS_FILE_HOURS`` (72 by default).
"""

from __future__ import annotations

import logging
import tempfile
from datetime import datetime, timedelta
from typing import IO, Final

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from chat.notifications import current_tenant, workspace_url
from saas.csv_stream import csv_lines
from tenants.models import Tenant
from ui.emails import email_send

from .archives import workspace_archive_write
from .datasets import dataset_for, workspace_tz
from .models import ExportJob

logger = logging.getLogger(__name__)

DEFAULT_BACKGROUND_ROWS: Final = 10_000
DEFAULT_FILE_HOURS: Final = 72


def background_rows() -> int:
    """Exports with more rows than this run as a job."""
    return int(getattr(settings, "EXPORTS_BACKGROUND_ROWS", DEFAULT_BACKGROUND_ROWS))


def file_lifetime() -> timedelta:
    return timedelta(hours=int(getattr(settings, "EXPORTS_FILE_HOURS", DEFAULT_FILE_HOURS)))


def file_extension(job: ExportJob) -> str:
    return "zip" if job.kind == ExportJob.Kind.WORKSPACE else "csv"


def _file_name(job: ExportJob) -> str:
    # Under the tenant's prefix (saas.storage); the random id makes it unguessable.
    return f"exports/{job.public_id}.{file_extension(job)}"


def _store(job: ExportJob, spool: IO[bytes]) -> str:
    spool.seek(0)
    if default_storage.exists(_file_name(job)):  # a run again after a crash
        default_storage.delete(_file_name(job))
    return default_storage.save(_file_name(job), File(spool, name=f"{job.public_id}.{file_extension(job)}"))


def _write(job: ExportJob, tenant: Tenant) -> tuple[str, int]:
    if job.kind == ExportJob.Kind.WORKSPACE:
        # Built in a temporary file (never whole in memory), then handed to the storage.
        with tempfile.TemporaryFile() as spool:
            rows = workspace_archive_write(tenant, spool)
            return _store(job, spool), rows
    dataset = dataset_for(
        job.kind,
        job.filters if isinstance(job.filters, dict) else {},
        user_id=job.requested_by_user_id,
        role=job.requested_by_role,
        tenant=tenant,
    )
    counted: list[int] = []
    # Written to a temporary file a chunk at a time, then handed to the storage: memory
    # stays flat whatever the size (S3 uploads it in parts).
    with tempfile.TemporaryFile() as spool:
        for piece in csv_lines(
            dataset.header, dataset.queryset, dataset.row, tz=workspace_tz(tenant), counted=counted
        ):
            spool.write(piece.encode())
        name = _store(job, spool)
    return name, sum(counted)


def export_job_run(*, job_id: int) -> ExportJob | None:
    """Write the job's file and email its link; a job already done is left alone (the task
    may run twice). A failure is recorded on the job and told to its requester."""
    with transaction.atomic():
        job = ExportJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status not in (ExportJob.Status.QUEUED, ExportJob.Status.RUNNING):
            return job
        job.status, job.started_at = ExportJob.Status.RUNNING, timezone.now()
        job.save(update_fields=["status", "started_at"])
    tenant = current_tenant()
    try:
        name, rows = _write(job, tenant)
    except Exception:
        logger.exception("export failed job=%s", job.public_id)
        job.status, job.error = ExportJob.Status.FAILED, "The file could not be written."
        job.finished_at = timezone.now()
        job.save(update_fields=["status", "error", "finished_at"])
        _email(job, tenant)
        return job
    now = timezone.now()
    job.status, job.file_name, job.rows = ExportJob.Status.READY, name, rows
    job.finished_at, job.expires_at = now, now + file_lifetime()
    job.save(update_fields=["status", "file_name", "rows", "finished_at", "expires_at"])
    logger.info("export ready job=%s rows=%s", job.public_id, rows)
    _email(job, tenant)
    return job


# The page each kind of export is asked for on (its emails and the unavailable page link it).
PAGES: Final = {
    ExportJob.Kind.CONTACTS: "chat:contacts",
    ExportJob.Kind.CONVERSATIONS: "chat:conversations",
    ExportJob.Kind.WORKSPACE: "tenants:settings",
}


def _email(job: ExportJob, tenant: Tenant) -> int:
    ready = job.status == ExportJob.Status.READY
    kind = job.get_kind_display().lower()
    return email_send(
        subject=f"Your {kind} export is ready" if ready else f"Your {kind} export failed",
        template="exports/email/ready" if ready else "exports/email/failed",
        context={
            "job": job,
            "kind": kind,
            "tenant": tenant,
            "url": workspace_url(tenant, reverse("exports:download", args=[job.public_id])),
            "page_url": workspace_url(tenant, reverse(PAGES[ExportJob.Kind(job.kind)])),
            "expires_at": timezone.localtime(job.expires_at, workspace_tz(tenant))
            if job.expires_at
            else None,
        },
        to=[job.requested_by_email],
    )


def exports_expire(*, now: datetime | None = None) -> int:
    """Delete the files of exports past their expiry and mark them expired (the download
    link answers 410 from then on). Returns how many were expired."""
    now = now or timezone.now()
    expired = 0
    for job in ExportJob.objects.filter(status=ExportJob.Status.READY, expires_at__lte=now):
        if job.file_name:
            default_storage.delete(job.file_name)
        job.status, job.file_name = ExportJob.Status.EXPIRED, ""
        job.save(update_fields=["status", "file_name"])
        expired += 1
    return expired
