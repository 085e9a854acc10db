"""The spare-schema pool: fully migrated schemas waiting for a signup to claim them, and
the clean-up of provisioning that a crashed process left half done."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from ..context import in_public_schema
from ..models import SpareSchema, Tenant, new_schema_name
from ..selectors import tenant_routes_cache_forget
from .schemas import schema_create_migrated, schema_drop

logger = logging.getLogger(__name__)

POOL_REFILL_LOCK = "tenants:pool-refill-lock"


@in_public_schema
def tenant_pool_refill(*, size: int | None = None) -> int:
    """Create spare schemas until the pool holds ``size`` (default ``TENANT_POOL_SIZE``).

    Each spare is created and recorded in one transaction, so a crash mid-way leaves
    nothing to clean up. A cache lock keeps concurrent refills from overshooting; an
    overshoot would only cost an extra spare. Returns how many spares were created.
    """
    target = settings.TENANT_POOL_SIZE if size is None else size
    if not cache.add(POOL_REFILL_LOCK, "1", timeout=600):
        return 0
    created = 0
    try:
        while SpareSchema.objects.count() < target:
            schema_name = new_schema_name()
            with transaction.atomic():
                schema_create_migrated(schema_name=schema_name)
                SpareSchema.objects.create(schema_name=schema_name)
            created += 1
    finally:
        cache.delete(POOL_REFILL_LOCK)
    if created:
        logger.info("tenant pool refilled with %d spare schema(s)", created)
    return created


@in_public_schema
def tenant_provisioning_reap(*, older_than_s: int = 600) -> int:
    """Delete tenants stuck in ``provisioning`` (their process died mid-way).

    A healthy slow-path provisioning takes about a second, so anything older than
    ``older_than_s`` is dead: its half-created schema is dropped and the slug freed.
    """
    cutoff = timezone.now() - timedelta(seconds=older_than_s)
    stuck = list(Tenant.objects.filter(status=Tenant.Status.PROVISIONING, created_at__lt=cutoff))
    for tenant in stuck:
        logger.warning("reaping tenant %s stuck in provisioning since %s", tenant.pk, tenant.created_at)
        with transaction.atomic():
            schema_drop(schema_name=tenant.schema_name)
            Tenant.objects.filter(pk=tenant.pk, status=Tenant.Status.PROVISIONING).delete()
        tenant_routes_cache_forget(tenant)
    return len(stuck)


def spare_schema_claim() -> str | None:
    """Take one spare schema, or None if the pool is empty.

    Precondition: inside the caller's transaction (the spare's row is locked, skipping
    rows other claims hold, and deleted; a rollback gives it back).
    """
    spare = SpareSchema.objects.select_for_update(skip_locked=True).order_by("id").first()
    if spare is None:
        return None
    spare.delete()
    return spare.schema_name
