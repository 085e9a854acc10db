"""What every new workspace starts with, contributed by the tenant apps.

Each app declares its initializers in its ``Contributions`` (``tenants.contributions``: apps
import tenants, never the reverse). ``tenant_provision`` runs them inside the new tenant's
schema, in the same transaction that creates the tenant, so a workspace never exists
without its defaults.
"""

from __future__ import annotations

from django_tenants.utils import tenant_context

from .contributions import contributions
from .models import Tenant, User


def workspace_initialize(*, tenant: Tenant, owner: User) -> None:
    """Run every contributed initializer in ``tenant``'s schema (INSTALLED_APPS order).

    Precondition: inside the transaction that creates the tenant; each initializer is
    idempotent.
    """
    with tenant_context(tenant):
        for initializer in contributions().workspace_initializers.values():
            initializer(tenant=tenant, owner=owner)
