"""Background work of exports: a job's file, and the hourly expiry of old files. Tasks take
ids, re-fetch and call ``exports.files``; a job's task runs in the schema it was sent from
(saas.celery), the expiry enters every active workspace's."""

from __future__ import annotations

from celery import shared_task

from tenants.tasks import each_active_workspace

from .files import export_job_run, exports_expire


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
    return each_active_workspace(exports_expire, what="exports: expiry")
