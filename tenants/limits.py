"""Plan limits for code below billing (the apps' layers: billing builds on tenants).

Billing installs its check when it loads (``billing.apps``); the tenants app calls
``quota_require`` where it adds something a plan limits (members). Without billing
installed nothing is limited.
"""

from __future__ import annotations

from collections.abc import Callable

_check: Callable[..., None] | None = None


def quota_check_install(check: Callable[..., None]) -> None:
    """``check(tenant, quota, *, used, adding)`` raises QuotaExceeded to refuse."""
    global _check
    _check = check


def quota_require(tenant, quota: str, *, used: Callable[[], int], adding: int = 1) -> None:
    """Refuse (QuotaExceeded) when ``used() + adding`` passes the plan's ``quota``; call it
    inside the transaction that stores the new thing."""
    if _check is not None:
        _check(tenant, quota, used=used, adding=adding)
