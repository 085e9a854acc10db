"""Background work of the insights app: the daily rollups, kept up to date by beat."""

from __future__ import annotations

import logging

from celery import shared_task
from django_tenants.utils import schema_context

from tenants.models import Tenant

from .services import rollups_refresh

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, reject_on_worker_lost=True, soft_time_limit=1500, time_limit=1800)
def rollups_refresh_all() -> int:
    """Every few minutes (beat): every active workspace's rollups brought up to date, in its
    own schema and time zone. One failing (a schema being dropped) is logged and skipped.
    Idempotent, so a run handed out again after a lost worker does no harm."""
    total = 0
    for schema, time_zone in Tenant.objects.filter(status=Tenant.Status.ACTIVE).values_list(
        "schema_name", "time_zone"
    ):
        try:
            with schema_context(schema):
                total += rollups_refresh(time_zone=time_zone)
        except Exception:
            logger.exception("insights: rollup failed in %s", schema)
    return total
