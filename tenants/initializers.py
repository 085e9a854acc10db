"""What every new workspace starts with, contributed by the tenant apps.

Tenant apps register a callable in ``AppConfig.ready()`` (the registry keeps the
dependency direction: apps import tenants, never the reverse). ``tenant_provision`` runs
them inside the new tenant's schema, in the same transaction that creates the tenant, so
a workspace never exists without its defaults.
"""

from __future__ import annotations

from collections.abc import Callable

WorkspaceInitializer = Callable[..., None]

INITIALIZERS: dict[str, WorkspaceInitializer] = {}


def workspace_initializer_register(name: str, initializer: WorkspaceInitializer) -> None:
    """``initializer(*, tenant, owner)`` runs in the tenant's schema; it must be idempotent."""
    INITIALIZERS[name] = initializer


def workspace_initialize(*, tenant, owner) -> None:
    from django_tenants.utils import tenant_context

    with tenant_context(tenant):
        for initializer in INITIALIZERS.values():
            initializer(tenant=tenant, owner=owner)
