"""Writes to the workspace audit log (append-only: a trigger refuses UPDATE and DELETE).

Call :func:`audit_record` from the service that made the change, inside its transaction
(the event commits or rolls back with the change), in the workspace's schema.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from django.db.models import Model
from django.http import HttpRequest
from rest_framework.request import Request

from saas.ratelimit import client_address

from .models import AuditEvent

# What names the actor: a page's request, or an API view's (DRF wraps Django's).
Caller = HttpRequest | Request


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
    """The client's address, or None (no request; a test client or a socket without one
    reports "unknown", which is no address)."""
    if request is None:
        return None
    address = client_address(request)
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


def audit_record(
    *,
    action: str,
    request: Caller | None = None,
    actor: Any = None,
    actor_kind: str = "",
    target: Model | None = None,
    target_type: str = "",
    target_id: str = "",
    target_repr: str = "",
    metadata: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event. The actor is the request's (member, API key, staff in a support
    session) unless ``actor`` (a user: a member, or staff with ``actor_kind="staff"``) is
    given; neither means the system (a scheduled job). ``action`` is a code of the
    catalogue (``audit.actions``); ``metadata`` says what changed, never a secret."""
    if isinstance(request, Request):
        request = request._request  # DRF set the authenticated caller on it too
    kind, actor_id, label = _actor_of(request)
    if actor is not None:
        kind, actor_id, label = actor_kind or AuditEvent.ActorKind.MEMBER, actor.pk, actor.email
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


VALUE_MAX = 200  # characters of an old or new value kept in an event


def _shown(value: Any) -> Any:
    if isinstance(value, str):
        return value if len(value) <= VALUE_MAX else value[: VALUE_MAX - 1] + "…"
    if value is None or isinstance(value, bool | int | float):
        return value
    return str(value)[:VALUE_MAX]


def field_changes(
    before: Mapping[str, Any], after: Mapping[str, Any], *, shown: Iterable[str] = ()
) -> dict[str, Any]:
    """The metadata of a settings change: ``{"changed": [names], name: {"from", "to"}}``
    for the fields that differ, old and new values only for the ``shown`` ones (plain
    settings: never a secret, an image or a visitor's words), cut to ``VALUE_MAX``
    characters. Empty when nothing changed (record nothing then)."""
    changed = sorted(name for name in after if before.get(name) != after[name])
    if not changed:
        return {}
    metadata: dict[str, Any] = {"changed": changed}
    for name in set(shown) & set(changed):
        metadata[name] = {"from": _shown(before.get(name)), "to": _shown(after[name])}
    return metadata


def audit_log_export_record(*, request: Caller, filters: Mapping[str, str], rows: int) -> AuditEvent:
    """Note that the audit log itself was exported as CSV (``export.requested``, kind
    ``audit_log``, with the page's filters): who took a copy of the log is in the log."""
    return audit_record(
        action="export.requested",
        request=request,
        target_type="export",
        target_repr="Audit log",
        metadata={"kind": "audit_log", "filters": dict(filters), "rows": rows, "background": False},
    )
