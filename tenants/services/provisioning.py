"""Writes for creating a workspace: claim a spare schema from the pool (fast) or migrate a
new one (slow), with its domain, its owner and the apps' defaults."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from saas.celery import enqueue_on_commit

from .. import tasks
from ..context import in_public_schema
from ..errors import ProvisioningFailed, slug_taken
from ..initializers import workspace_initialize
from ..models import Domain, Membership, Tenant, User, new_schema_name
from ..selectors import slug_availability, tenant_host_cache_forget
from .pool import spare_schema_claim
from .schemas import schema_create_migrated

logger = logging.getLogger(__name__)


@in_public_schema
def tenant_provision(*, slug: str, name: str, owner: User) -> Tenant:
    """Create a workspace for ``owner`` at ``<slug>.<BASE_DOMAIN>`` and return it active.

    Fast path: claim a spare, migrated schema from the pool in one short transaction.
    Slow path (pool empty): reserve the slug with a ``provisioning`` tenant, migrate a new
    schema, then activate; on failure nothing is left behind. Either way the pool is
    refilled in the background afterwards.

    Raises ``SlugInvalid`` or ``SlugTaken`` (validation problems naming the ``slug`` field)
    and ``ProvisioningFailed``.
    """
    slug = slug_availability(slug)
    name = (name or "").strip()[:120] or slug
    domain = f"{slug}.{settings.BASE_DOMAIN}"

    try:
        with transaction.atomic():
            schema_name = spare_schema_claim()
            tenant = _tenant_rows_create(
                slug=slug,
                name=name,
                owner=owner,
                domain=domain,
                schema_name=schema_name or new_schema_name(),
                status=Tenant.Status.ACTIVE if schema_name else Tenant.Status.PROVISIONING,
            )
            if schema_name:
                workspace_initialize(tenant=tenant, owner=owner)
    except IntegrityError as exc:  # lost a race for the slug
        raise slug_taken() from exc

    if tenant.status == Tenant.Status.PROVISIONING:
        try:
            with transaction.atomic():
                schema_create_migrated(schema_name=tenant.schema_name)
                workspace_initialize(tenant=tenant, owner=owner)
                # Conditional: staff may have suspended it meanwhile; that decision stands.
                Tenant.objects.filter(pk=tenant.pk, status=Tenant.Status.PROVISIONING).update(
                    status=Tenant.Status.ACTIVE, updated_at=timezone.now()
                )
            tenant.refresh_from_db(fields=["status", "updated_at"])
        except Exception as exc:
            logger.exception("provisioning schema for tenant %s failed", tenant.pk)
            Tenant.objects.filter(pk=tenant.pk).delete()
            raise ProvisioningFailed("Please try again in a minute.") from exc

    tenant_host_cache_forget(domain)
    _pool_refill_soon()
    return tenant


def _tenant_rows_create(
    *, slug: str, name: str, owner: User, domain: str, schema_name: str, status: str
) -> Tenant:
    tenant = Tenant(schema_name=schema_name, slug=slug, name=name, status=status)
    tenant.save()
    Domain.objects.create(domain=domain, tenant=tenant, is_primary=True)
    Membership.objects.create(tenant=tenant, user=owner, role=Membership.Role.OWNER)
    return tenant


def _pool_refill_soon() -> None:
    if settings.TENANT_POOL_AUTO_REFILL:
        enqueue_on_commit(tasks.tenant_pool_refill)
