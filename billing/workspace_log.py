"""Billing's changes in the workspace's own audit log (``audit``, docs/audit-log.md).
Billing runs in the public schema; the log lives in the tenant's: the event is written
there on the same connection, inside the caller's transaction (it commits or rolls back
with the change)."""

from __future__ import annotations

from typing import Any

from django_tenants.utils import schema_context

from audit.services import audit_record
from tenants.models import Tenant


def workspace_audit(tenant: Tenant, *, action: str, metadata: dict[str, Any], **actor: Any) -> None:
    """Record ``action`` on ``tenant`` in its log; ``actor``: ``request``, or ``actor`` and
    ``actor_kind`` (none: the system). Nothing for a workspace being deleted (Stripe's news
    may arrive after its schema is gone) or not yet provisioned."""
    status = Tenant.objects.filter(pk=tenant.pk).values_list("status", flat=True).first()
    if status not in (Tenant.Status.ACTIVE, Tenant.Status.SUSPENDED):
        return
    with schema_context(tenant.schema_name):
        audit_record(action=action, target=tenant, target_repr=tenant.name, metadata=metadata, **actor)
