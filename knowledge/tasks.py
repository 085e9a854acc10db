"""Background work for knowledge. Tasks take ids, re-fetch, and call a service; they run in
the schema they were sent from (saas.celery).

A source's ingestion carries its run number (``knowledge.runs``): a worker killed
mid-ingest leaves the run's heartbeat to go stale, and the reaper (every minute) queues a
new run within minutes, exactly once, without waiting for the broker's visibility timeout;
a late delivery of the old run does nothing. A killed pool process's message is handed out
again at once (``acks_late`` with ``reject_on_worker_lost``) and its run resumes. The
re-embedding works in slices of at most ``REEMBED_SLICE`` seconds, each queueing the
next, so no task outlives the visibility timeout (settings)."""

import logging
import time
from typing import Any

from celery import shared_task
from django.conf import settings
from django.utils import timezone
from django_tenants.utils import schema_context

from saas.celery import enqueue_on_commit
from tenants.models import Tenant

from . import ingestion, runs
from .models import Source

logger = logging.getLogger(__name__)

INGEST_SOFT_LIMIT = settings.KNOWLEDGE_INGEST_TIME_LIMIT
REEMBED_SLICE = 600


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=INGEST_SOFT_LIMIT,
    time_limit=INGEST_SOFT_LIMIT + 60,
)
def source_ingest_task(source_id: int, run: int | None = None) -> dict[str, Any]:
    return ingestion.source_ingest(source_id, run)


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=REEMBED_SLICE + 300,
    time_limit=REEMBED_SLICE + 360,
)
def knowledge_base_reembed_task(kb_id: int) -> int:
    """Re-embed for about ``REEMBED_SLICE`` seconds, then queue the rest as a new task."""
    deadline = time.monotonic() + REEMBED_SLICE
    done, finished = ingestion.knowledge_base_reembed(kb_id, until=deadline)
    if not finished:
        enqueue_on_commit(knowledge_base_reembed_task, kb_id)
    return done


def _active_schemas() -> list[str]:
    return list(Tenant.objects.filter(status=Tenant.Status.ACTIVE).values_list("schema_name", flat=True))


@shared_task(acks_late=True, soft_time_limit=300, time_limit=330)
def sources_sync_due() -> int:
    """Hourly (beat): queue the re-sync of every web source whose schedule is due, in
    every active workspace."""
    queued = 0
    for schema in _active_schemas():
        with schema_context(schema):
            due = list(
                Source.objects.filter(
                    next_sync_at__lte=timezone.now(),
                    status__in=[Source.Status.READY, Source.Status.FAILED],
                ).values_list("pk", flat=True)
            )
            for source_id in due:
                Source.objects.filter(pk=source_id).update(next_sync_at=None)
                enqueue_on_commit(source_ingest_task, source_id, run=runs.run_issue(source_id))
                queued += 1
    return queued


def _reap_here() -> int:
    requeued = 0
    for source_id, run, attempts in runs.runs_stale():
        new_run = runs.run_reap(source_id, run, attempts)
        if new_run is None:
            logger.warning("ingestion gave up or was taken over source=%s run=%s", source_id, run)
            continue
        logger.warning(
            "ingestion re-queued source=%s run=%s (its worker stopped beating)", source_id, new_run
        )
        enqueue_on_commit(source_ingest_task, source_id, run=new_run)
        requeued += 1
    for source_id, run in runs.runs_queued_resend():
        logger.warning("ingestion sent again source=%s run=%s (queued too long)", source_id, run)
        enqueue_on_commit(source_ingest_task, source_id, run=run)
        requeued += 1
    for kb_id in runs.reembeds_stale():
        logger.warning("re-embedding re-queued knowledge_base=%s (it stopped beating)", kb_id)
        enqueue_on_commit(knowledge_base_reembed_task, kb_id)
        requeued += 1
    return requeued


@shared_task(acks_late=True, soft_time_limit=50, time_limit=60)
def sources_reap_stale() -> int:
    """Every minute (beat): in every active workspace, queue again the ingestions whose
    worker vanished (heartbeat older than ``KNOWLEDGE_INGEST_STALE_SECONDS``), or fail
    them after ``KNOWLEDGE_INGEST_MAX_ATTEMPTS`` runs; send again those queued too long
    (``KNOWLEDGE_INGEST_QUEUED_RESEND_SECONDS``) and the re-embeddings that stopped
    beating. Returns how many were queued."""
    requeued = 0
    for schema in _active_schemas():
        try:
            with schema_context(schema):
                requeued += _reap_here()
        except Exception:
            logger.exception("knowledge: reaping stale ingestions failed in %s", schema)
    return requeued
