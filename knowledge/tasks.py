"""Background work for knowledge. Tasks take ids, re-fetch, and call a service; they run in
the schema they were sent from (saas.celery). ``acks_late`` with ``reject_on_worker_lost``
(settings): a worker killed mid-ingest leaves the task queued, and the re-run, idempotent by
content hashes, ends in the same state."""

from typing import Any

from celery import shared_task
from django.utils import timezone
from django_tenants.utils import schema_context

from saas.celery import enqueue_on_commit
from tenants.models import Tenant

from . import ingestion
from .models import Source

INGEST_SOFT_LIMIT = 1800


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=INGEST_SOFT_LIMIT,
    time_limit=INGEST_SOFT_LIMIT + 60,
)
def source_ingest_task(source_id: int) -> dict[str, Any]:
    return ingestion.source_ingest(source_id)


@shared_task(acks_late=True, reject_on_worker_lost=True, soft_time_limit=3600, time_limit=3660)
def knowledge_base_reembed_task(kb_id: int) -> int:
    return ingestion.knowledge_base_reembed(kb_id)


@shared_task(acks_late=True, soft_time_limit=300, time_limit=330)
def sources_sync_due() -> int:
    """Hourly (beat): queue the re-sync of every web source whose schedule is due, in
    every active workspace."""
    queued = 0
    for schema in Tenant.objects.filter(status=Tenant.Status.ACTIVE).values_list("schema_name", flat=True):
        with schema_context(schema):
            due = list(
                Source.objects.filter(
                    next_sync_at__lte=timezone.now(),
                    status__in=[Source.Status.READY, Source.Status.FAILED],
                ).values_list("pk", flat=True)
            )
            for source_id in due:
                Source.objects.filter(pk=source_id).update(status=Source.Status.QUEUED, next_sync_at=None)
                enqueue_on_commit(source_ingest_task, source_id)
                queued += 1
    return queued
