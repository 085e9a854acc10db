"""Background work of exports: a job's file, and the hourly expiry of old files. Tasks take
ids, re-fetch and call ``exports.files``; a job's task runs in the schema it was sent from
(saas.celery), the expiry enters every active workspace's."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import transaction
from django_tenants.utils import schema_context

from tenants.models import Tenant

from .files import export_job_run, exports_expire

logger = logging.getLogger(__name__)


# Within the broker's visibility timeout (docs/deployment.md: the longest task's limit sets it).
@shared_task(acks_late=True, reject_on_worker_lost=True, soft_time_limit=1500, time_limit=1560)
def export_run(job_id: int) -> str:
    """Write an export job's file and email its link (nothing if it is done already)."""
    job = export_job_run(job_id=job_id)
    return job.status if job is not None else "missing"


@shared_task(acks_late=True, soft_time_limit=600, time_limit=660)
def exports_expire_task() -> int:
    """Every hour (beat): delete the files of expired exports, in every active workspace.
    One workspace failing is logged; the others still get their turn."""
    total = 0
    for schema in Tenant.objects.filter(status=Tenant.Status.ACTIVE).values_list("schema_name", flat=True):
        try:
            with transaction.atomic(), schema_context(schema):
                total += exports_expire()
        except Exception:
            logger.exception("exports: expiry failed in %s", schema)
    return total
