"""Background work for tenancy. Tasks take ids, re-fetch, and call a service.

The layers: these tasks call the pool and hand-off services below them; provisioning,
above them, queues ``tenant_pool_refill``.
"""

import logging
from collections import Counter
from collections.abc import Callable, Mapping

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django_tenants.utils import schema_context

from saas.idempotency.store import idempotency_expire

from .models import Tenant
from .services.housekeeping import public_sessions_purge
from .services.platform_usage import platform_usage_compute as usage_compute
from .services.pool import tenant_pool_refill as pool_refill
from .services.pool import tenant_provisioning_reap
from .services.storage_reconcile import storage_reconcile
from .services.unverified import unverified_accounts_sweep as unverified_sweep

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


def each_workspace_counts(work: Callable[[], Mapping[str, int]], *, what: str) -> dict[str, int]:
    """``work`` in every active workspace's schema, its counts summed: for housekeeping jobs
    that commit a batch at a time themselves (no transaction around a workspace's turn). One
    workspace failing is logged and skipped, as in :func:`each_active_workspace`."""
    total: Counter[str] = Counter()
    for schema in Tenant.objects.filter(status=Tenant.Status.ACTIVE).values_list("schema_name", flat=True):
        try:
            with schema_context(schema):
                total.update(work())
        except Exception:
            logger.exception("%s failed in %s", what, schema)
    return dict(total)


def job_done(job: str, counts: Mapping[str, int]) -> dict[str, int]:
    """Log a housekeeping job's one line and return its counts (what the scheduler shows)."""
    logger.info("%s: %s", job, " ".join(f"{key}={value}" for key, value in counts.items()) or "nothing")
    return dict(counts)


@shared_task(acks_late=True, soft_time_limit=600, time_limit=660)
def tenant_pool_refill() -> int:
    """Top the spare-schema pool up to TENANT_POOL_SIZE and clear provisioning leftovers.

    Idempotent; safe to run anywhere, any number of times (beat runs it every minute).
    """
    tenant_provisioning_reap()
    return pool_refill()


@shared_task(acks_late=True, soft_time_limit=300, time_limit=330)
def tenants_housekeeping() -> dict[str, int]:
    """Hourly: clear provisioning leftovers; expired sessions, email confirmations,
    hand-off tokens, invitations and support grants (public schema); the API's expired
    Idempotency-Keys in every active workspace."""
    return job_done(
        "tenants-housekeeping",
        {
            "reaped_tenants": tenant_provisioning_reap(),
            **public_sessions_purge(),
            "expired_idempotency_keys": each_active_workspace(
                idempotency_expire, what="api: idempotency keys"
            ),
        },
    )


@shared_task(acks_late=True, soft_time_limit=1800, time_limit=1860)
def unverified_accounts_sweep() -> dict[str, int]:
    """Daily: warn, then remove, accounts never verified (tenants.services.unverified)."""
    return job_done("unverified-accounts", unverified_sweep())


# Below the visibility timeout like every task (tests/saas/test_celery.py); a run cut short
# is finished by the next (each prefix is reconciled on its own).
@shared_task(acks_late=True, soft_time_limit=1740, time_limit=1800)
def storage_reconcile_task() -> dict[str, int]:
    """Daily: stored files no row points to (a report only with STORAGE_RECONCILE_DRY_RUN)."""
    report = storage_reconcile(dry_run=settings.STORAGE_RECONCILE_DRY_RUN)
    return job_done("storage-reconcile", report.as_counts())


@shared_task(acks_late=True, soft_time_limit=1800, time_limit=1860)
def platform_usage_compute() -> dict[str, int]:
    """Daily, after midnight UTC: the platform's usage statistics of the days not computed yet."""
    return job_done("platform-usage", {"days_computed": usage_compute()})
