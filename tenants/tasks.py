"""Background work for tenancy. Tasks take ids, re-fetch, and call a service.

The layers: these tasks call the pool and hand-off services below them; provisioning,
above them, queues ``tenant_pool_refill``.
"""

from celery import shared_task

from .services.handoffs import login_handoff_purge
from .services.pool import tenant_pool_refill as pool_refill
from .services.pool import tenant_provisioning_reap


@shared_task(acks_late=True, soft_time_limit=600, time_limit=660)
def tenant_pool_refill() -> int:
    """Top the spare-schema pool up to TENANT_POOL_SIZE and clear provisioning leftovers.

    Idempotent; safe to run anywhere, any number of times (beat runs it every minute).
    """
    tenant_provisioning_reap()
    return pool_refill()


@shared_task(acks_late=True, soft_time_limit=300, time_limit=330)
def tenants_housekeeping() -> dict[str, int]:
    """Hourly: clear provisioning leftovers and hand-off tokens nobody can use any more."""
    return {
        "reaped_tenants": tenant_provisioning_reap(),
        "purged_handoffs": login_handoff_purge(),
    }
