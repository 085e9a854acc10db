"""Writes for tenancy, by subdomain: ``provisioning``, ``pool``, ``schemas``, ``status``
(suspend, reactivate, delete), ``handoffs`` (moving sessions between hosts), ``audit``,
``team`` (memberships and invitations), ``api_keys``, ``widget_routes``; the housekeeping jobs
``housekeeping``, ``unverified``, ``storage_reconcile``, ``platform_usage``. ``lifecycle``
gathers the first six under their old module name."""

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
from .pool import tenant_pool_refill, tenant_provisioning_reap
from .provisioning import tenant_provision
from .schemas import schema_create_migrated, schema_drop
from .status import tenant_delete, tenant_reactivate, tenant_suspend

__all__ = [
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
    "tenant_delete",
    "tenant_pool_refill",
    "tenant_provision",
    "tenant_provisioning_reap",
    "tenant_reactivate",
    "tenant_suspend",
]
