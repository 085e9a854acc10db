"""Writes to the workspace audit log (append-only: a trigger refuses UPDATE and DELETE).

Call :func:`audit_record` from the service that made the change, inside its transaction
(the event commits or rolls back with the change), in the workspace's schema.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from django.db.models import Model
from django.http import HttpRequest

from saas.ratelimit import client_address

from .models import AuditEvent


def _actor_of(request: HttpRequest | None) -> tuple[str, int | None, str]:
    user = getattr(request, "user", None)
    key = getattr(user, "key", None)  # tenants.api_base.ApiKeyPrincipal: an API call
    if key is not None:
        return AuditEvent.ActorKind.API_KEY, key.pk, f"{key.name} ({key.prefix})"[:254]
    if user is not None and user.is_authenticated:
        staff = getattr(request, "support_access", None) is not None
        return (AuditEvent.ActorKind.STAFF if staff else AuditEvent.ActorKind.MEMBER), user.pk, user.email
    return AuditEvent.ActorKind.SYSTEM, None, ""


def _address(request: HttpRequest | None) -> str | None:
    """The client's address, or None when the request has none that is an address (a test
    client's or a Unix socket's peer is "unknown" or empty): the column takes addresses only."""
    if request is None:
        return None
    address = client_address(request)
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return None
    return address


def audit_record(
    *,
    action: str,
    request: HttpRequest | None = None,
    actor: Any = None,
    target: Model | None = None,
    target_type: str = "",
    target_id: str = "",
    target_repr: str = "",
    metadata: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event. The actor is the request's (member, API key) unless ``actor`` (a
    user) is given; neither means the system (a scheduled job)."""
    kind, actor_id, label = _actor_of(request)
    if actor is not None:
        kind, actor_id, label = AuditEvent.ActorKind.MEMBER, actor.pk, actor.email
    if target is not None:
        target_type = target_type or str(target._meta.model_name)
        target_id = target_id or str(target.pk)
        target_repr = target_repr or str(target)
    return AuditEvent.objects.create(
        actor_kind=kind,
        actor_id=actor_id,
        actor_label=label,
        action=action,
        target_type=target_type,
        target_id=target_id,
        target_repr=target_repr[:255],
        metadata=metadata or {},
        ip_address=_address(request),
    )
