"""Writes for tenancy, by subdomain: ``lifecycle`` (provisioning, pool, suspend/delete,
host hand-off, audit), ``team`` (memberships and invitations), ``api_keys``."""

from .lifecycle import (
    audit_event_record,
    in_public_schema,
    login_handoff_consume,
    login_handoff_create,
    login_handoff_link_session,
    login_handoff_purge,
    schema_create_migrated,
    schema_drop,
    sessions_end_linked,
    tenant_delete,
    tenant_pool_refill,
    tenant_provision,
    tenant_provisioning_reap,
    tenant_reactivate,
    tenant_suspend,
)

__all__ = [
    "audit_event_record",
    "in_public_schema",
    "login_handoff_consume",
    "login_handoff_create",
    "login_handoff_link_session",
    "login_handoff_purge",
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
