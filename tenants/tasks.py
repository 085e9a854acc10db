"""Background work for tenancy. Tasks take ids, re-fetch, and call a service."""

from celery import shared_task

from . import services


@shared_task(acks_late=True, soft_time_limit=600, time_limit=660)
def tenant_pool_refill() -> int:
    """Top the spare-schema pool up to TENANT_POOL_SIZE and clear provisioning leftovers.

    Idempotent; safe to run anywhere, any number of times (beat runs it every minute).
    """
    services.tenant_provisioning_reap()
    return services.tenant_pool_refill()


@shared_task(acks_late=True, soft_time_limit=300, time_limit=330)
def tenants_housekeeping() -> dict:
    """Hourly: clear provisioning leftovers and hand-off tokens nobody can use any more."""
    return {
        "reaped_tenants": services.tenant_provisioning_reap(),
        "purged_handoffs": services.login_handoff_purge(),
    }
