"""Plan limits for code below billing (the apps' layers: billing builds on tenants).

Billing contributes its check (``Contributions.quota_check``, ``tenants.contributions``);
the tenants app calls ``quota_require`` where it adds something a plan limits (members).
Without billing installed nothing is limited.
"""

from __future__ import annotations

from collections.abc import Callable

from .contributions import contributions
from .models import Tenant


def quota_require(tenant: Tenant, quota: str, *, used: Callable[[], int], adding: int = 1) -> None:
    """Refuse (QuotaExceeded) when ``used() + adding`` passes the plan's ``quota``; call it
    inside the transaction that stores the new thing."""
    check = contributions().quota_check
    if check is not None:
        check(tenant, quota, used=used, adding=adding)
