"""The tenant lifecycle, by subdomain (this module keeps the names importable from here):

* ``schemas``       creating and dropping tenant schemas
* ``pool``          the spare-schema pool and provisioning leftovers
* ``provisioning``  creating a workspace
* ``status``        suspend, reactivate, delete
* ``handoffs``      moving a signed-in user between hosts
* ``audit``         the platform audit log

The public services enter the public schema themselves (``tenants.context.in_public_schema``:
they manage schemas; they do not live in one), so a caller that is still inside a tenant's
schema cannot misplace their rows.
"""

from __future__ import annotations

from ..context import in_public_schema
from .audit import audit_event_record
from .handoffs import (
    login_handoff_consume,
    login_handoff_create,
    login_handoff_link_session,
    login_handoff_purge,
    login_handoff_start,
    sessions_end_linked,
)
from .pool import POOL_REFILL_LOCK, spare_schema_claim, tenant_pool_refill, tenant_provisioning_reap
from .provisioning import tenant_provision
from .schemas import schema_create_migrated, schema_drop
from .status import tenant_delete, tenant_reactivate, tenant_suspend

__all__ = [
    "POOL_REFILL_LOCK",
    "audit_event_record",
    "in_public_schema",
    "login_handoff_consume",
    "login_handoff_create",
    "login_handoff_link_session",
    "login_handoff_purge",
    "login_handoff_start",
    "schema_create_migrated",
    "schema_drop",
    "sessions_end_linked",
    "spare_schema_claim",
    "tenant_delete",
    "tenant_pool_refill",
    "tenant_provision",
    "tenant_provisioning_reap",
    "tenant_reactivate",
    "tenant_suspend",
]
