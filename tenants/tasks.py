"""Background work for tenancy. Tasks take ids, re-fetch, and call a service.

The layers: these tasks call the pool and hand-off services below them; provisioning,
above them, queues ``tenant_pool_refill``.
"""

import logging
from collections.abc import Callable

from celery import shared_task
from django.db import transaction
from django_tenants.utils import schema_context

from saas.idempotency.store import idempotency_expire

from .models import Tenant
from .services.handoffs import login_handoff_purge
from .services.pool import tenant_pool_refill as pool_refill
from .services.pool import tenant_provisioning_reap

logger = logging.getLogger(__name__)


def each_active_workspace(work: Callable[[], int], *, what: str) -> int:
    """``work`` in every active workspace's schema, each in a transaction, summed (periodic
    jobs of the apps). One workspace failing (a schema being dropped, a bad row) is logged
    as ``what`` and skipped: the others still get their turn."""
    total = 0
    for schema in Tenant.objects.filter(status=Tenant.Status.ACTIVE).values_list("schema_name", flat=True):
        try:
            with transaction.atomic(), schema_context(schema):
                total += work()
        except Exception:
            logger.exception("%s failed in %s", what, schema)
    return total


@shared_task(acks_late=True, soft_time_limit=600, time_limit=660)
def tenant_pool_refill() -> int:
    """Top the spare-schema pool up to TENANT_POOL_SIZE and clear provisioning leftovers.

    Idempotent; safe to run anywhere, any number of times (beat runs it every minute).
    """
    tenant_provisioning_reap()
    return pool_refill()


@shared_task(acks_late=True, soft_time_limit=300, time_limit=330)
def tenants_housekeeping() -> dict[str, int]:
    """Hourly: clear provisioning leftovers, hand-off tokens nobody can use any more, and
    the API's expired Idempotency-Keys in every active workspace."""
    return {
        "reaped_tenants": tenant_provisioning_reap(),
        "purged_handoffs": login_handoff_purge(),
        "expired_idempotency_keys": each_active_workspace(idempotency_expire, what="api: idempotency keys"),
    }
