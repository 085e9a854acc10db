"""Writes for the platform audit log (append-only: a trigger refuses UPDATE and DELETE)."""

from __future__ import annotations

from typing import Any

from django.db.models import Model

from ..context import in_public_schema
from ..models import PlatformAuditEvent, User


@in_public_schema
def audit_event_record(
    *,
    actor: User | None,
    action: str,
    target: Model | None = None,
    target_type: str = "",
    target_id: str = "",
    target_repr: str = "",
    metadata: dict[str, Any] | None = None,
    ip: str | None = None,
) -> PlatformAuditEvent:
    """Append one event to the platform audit log (never updated afterwards). Actor and
    target are stored as values, so the event outlives them."""
    if target is not None:
        target_type = target_type or str(target._meta.model_name)
        target_id = target_id or str(target.pk)
        target_repr = target_repr or str(target)
    return PlatformAuditEvent.objects.create(
        actor_id=getattr(actor, "pk", None),
        actor_email=getattr(actor, "email", "") or "",
        action=action,
        target_type=target_type,
        target_id=target_id,
        target_repr=target_repr[:255],
        metadata=metadata or {},
        ip_address=ip,
    )
