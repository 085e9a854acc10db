"""Signals the tenancy layer sends to the apps above it.

:data:`workspace_action`: a workspace-visible change made by a tenants service (its
settings, its team, its API keys), sent inside the service's transaction, from the public
schema. The workspace audit log (``audit``, above tenants) connects to it in its
``AppConfig.ready()`` and records the event in the tenant's schema, so the event commits or
rolls back with the change. Tenants never imports the audit app.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Model
from django.dispatch import Signal
from django.http import HttpRequest
from rest_framework.request import Request

# Keyword arguments: tenant, action, request, actor, actor_kind, target, target_repr,
# metadata (see workspace_action_send).
workspace_action = Signal()


def workspace_action_send(
    *,
    tenant: Model,
    action: str,
    request: HttpRequest | Request | None = None,
    actor: Any = None,
    actor_kind: str = "",
    target: Model | None = None,
    target_repr: str = "",
    metadata: dict[str, Any] | None = None,
) -> None:
    """Tell the listeners that ``action`` (an ``audit.actions`` code) happened in ``tenant``.
    ``request`` names the actor (a member, an API key, staff); ``actor`` (a user) stands in
    when there is no request (a person accepting an invitation on the public host),
    ``actor_kind`` "staff" when that user is platform staff;
    ``target_repr`` names the target in words when its ``str()`` would not. The
    receivers run now, in the caller's transaction; a receiver's failure fails the change."""
    workspace_action.send(
        sender=type(tenant),
        tenant=tenant,
        action=action,
        request=request,
        actor=actor,
        actor_kind=actor_kind,
        target=target,
        target_repr=target_repr,
        metadata=metadata or {},
    )
