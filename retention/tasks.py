"""The nightly purge (beat ``retention-purge``): every active workspace in turn, in its
own schema, through ``retention.services.retention_purge``. One workspace failing is
logged and the others still get their turn; the run stops starting workspaces at its time
budget (``RETENTION_PURGE_SECONDS``), and what is left goes the next night."""

from __future__ import annotations

import logging
import time

from celery import shared_task
from django.conf import settings
from django_tenants.utils import schema_context

from tenants.models import Tenant

from .services import retention_purge

logger = logging.getLogger(__name__)

COUNTED = ("conversations", "messages", "attachments", "contacts")


# Within the broker's visibility timeout (docs/deployment.md: the longest task's limit sets it).
@shared_task(acks_late=True, reject_on_worker_lost=True, soft_time_limit=1500, time_limit=1560)
def retention_purge_all() -> dict[str, int]:
    """Purge every active workspace; returns the counts (the scheduler page shows them):
    workspaces purged, failed, skipped (a run of theirs under way) and left for the next
    night (the time budget), and the rows removed of each kind."""
    deadline = time.monotonic() + settings.RETENTION_PURGE_SECONDS
    totals = dict.fromkeys(("workspaces", "failed", "skipped", "unfinished", *COUNTED), 0)
    for tenant in Tenant.objects.filter(status=Tenant.Status.ACTIVE).order_by("pk"):
        if time.monotonic() >= deadline:
            totals["unfinished"] += 1
            continue
        try:
            with schema_context(tenant.schema_name):
                outcome = retention_purge(tenant=tenant, deadline=deadline)
        except Exception:
            logger.exception("retention: the purge failed in %s", tenant.schema_name)
            totals["failed"] += 1
            continue
        if outcome.skipped:
            totals["skipped"] += 1
            continue
        totals["workspaces"] += 1
        totals["unfinished"] += 0 if outcome.finished else 1
        for name, count in outcome.counts().items():
            totals[name] += count
    return totals
