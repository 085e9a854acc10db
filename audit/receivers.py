"""The tenancy layer's changes, recorded: ``tenants.signals.workspace_action`` (settings,
team, API keys, staff support sessions) is sent by tenants services inside their
transaction, in the public schema; the event goes into the tenant's schema on the same
connection, so it commits or rolls back with the change. Connected in ``AuditConfig.ready``.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Model
from django.http import HttpRequest
from django_tenants.utils import schema_context

from tenants.signals import workspace_action

from .services import audit_record


def workspace_action_record(
    sender: Any,
    *,
    tenant: Any,
    action: str,
    request: HttpRequest | None,
    actor: Any,
    actor_kind: str,
    target: Model | None,
    target_repr: str,
    metadata: dict[str, Any],
    **kwargs: Any,
) -> None:
    with schema_context(tenant.schema_name):
        audit_record(
            action=action,
            request=request,
            actor=actor,
            actor_kind=actor_kind,
            target=target,
            target_repr=target_repr,
            metadata=metadata,
        )


def connect() -> None:
    workspace_action.connect(workspace_action_record, dispatch_uid="audit-workspace-action")
