"""Writes for a tenant's status: suspend, reactivate, and delete for good. Each is audited
and forgets every cached way of reaching the tenant, at once and again on commit."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from django.core.files.storage import default_storage
from django.db import transaction

from saas.tenant_cache import cache_forget_naming, cache_forget_schema

from ..context import in_public_schema
from ..models import Tenant, User
from ..selectors import tenant_routes_cache_forget
from .audit import audit_event_record
from .schemas import schema_drop

if TYPE_CHECKING:
    from saas.storage import TenantStorage


@in_public_schema
def tenant_suspend(*, tenant: Tenant, by: User | None, reason: str = "", ip: str | None = None) -> Tenant:
    """Stop serving the tenant's dashboard and widgets. Nothing is deleted."""
    with transaction.atomic():
        tenant.status = Tenant.Status.SUSPENDED
        tenant.suspended_reason = reason[:255]
        tenant.save(update_fields=["status", "suspended_reason", "updated_at"])
        audit_event_record(
            actor=by, action="tenant.suspend", target=tenant, metadata={"reason": reason}, ip=ip
        )
    tenant_routes_cache_forget(tenant)
    return tenant


@in_public_schema
def tenant_reactivate(*, tenant: Tenant, by: User | None, ip: str | None = None) -> Tenant:
    with transaction.atomic():
        tenant.status = Tenant.Status.ACTIVE
        tenant.suspended_reason = ""
        tenant.save(update_fields=["status", "suspended_reason", "updated_at"])
        audit_event_record(actor=by, action="tenant.reactivate", target=tenant, ip=ip)
    tenant_routes_cache_forget(tenant)
    return tenant


@in_public_schema
def tenant_delete(*, tenant: Tenant, by: User | None, ip: str | None = None) -> None:
    """Delete the tenant for good: its schema, stored files, cache entries (its own, and the
    lookups and counters elsewhere that name its hosts and widget keys) and public rows.

    The tenant first turns ``deleting`` (committed), so it stops serving at once even if
    a later step fails; running this again finishes the job. Users survive.
    """
    with transaction.atomic():
        tenant.status = Tenant.Status.DELETING
        tenant.save(update_fields=["status", "updated_at"])
        # Recorded with the status change, so a delete that fails half-way still has a trace.
        audit_event_record(actor=by, action="tenant.delete_requested", target=tenant, ip=ip)
    tenant_routes_cache_forget(tenant)
    schema_name, pk, label = tenant.schema_name, tenant.pk, str(tenant)
    # What names it outside its own keyspace: host and widget-key lookups cached in public,
    # rate-limit counters per widget key.
    names = [
        *tenant.domains.values_list("domain", flat=True),
        *tenant.widget_routes.values_list("key", flat=True),
    ]

    cast("TenantStorage", default_storage).delete_tenant_files(schema_name)  # saas.storage's
    cache_forget_schema(schema_name)
    cache_forget_naming(names)
    with transaction.atomic():
        schema_drop(schema_name=schema_name)
        Tenant.objects.filter(pk=pk).delete()  # cascades to domains and memberships
        audit_event_record(
            actor=by,
            action="tenant.delete",
            target_type="tenant",
            target_id=str(pk),
            target_repr=label,
            metadata={"schema_name": schema_name},
            ip=ip,
        )
