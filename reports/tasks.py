"""Background work of the reports app: the reports due, sent by beat every quarter hour."""

from __future__ import annotations

import logging

from celery import shared_task
from django_tenants.utils import schema_context

from tenants.models import Tenant

from .services import reports_send_due

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, soft_time_limit=1500, time_limit=1560)
def reports_send_all() -> int:
    """Every active workspace's reports due now (each person's period is sent once: a run
    handed out again sends nothing twice). One workspace failing is logged and skipped."""
    total = 0
    for tenant in Tenant.objects.filter(status=Tenant.Status.ACTIVE).order_by("pk"):
        try:
            with schema_context(tenant.schema_name):
                total += reports_send_due(tenant=tenant)
        except Exception:
            logger.exception("reports: sending failed in %s", tenant.schema_name)
    return total
