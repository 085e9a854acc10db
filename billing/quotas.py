"""Quota enforcement: the one check every quota-limited action calls before it stores
anything.

    quota_require(tenant, "widgets", used=Widget.objects.count)   # raises QuotaExceeded

Callers call it inside the transaction that will store the new thing, with a function
that counts their usage: ``quota_require`` locks the tenant's row first and counts after,
so two concurrent requests of one tenant cannot both take the last unit (the second waits
for the first's commit, then counts its row).
The error names the quota, the limit, and the cheapest plan that allows more.

AI answers are metered instead (``billing.services.usage_consume``: one SQL statement).
The plan and its limits are read in ``billing.limits`` (re-exported here).
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction

from saas.errors import QuotaExceeded
from tenants.models import Tenant

from .limits import quota_limit, tenant_identity, tenant_plan
from .plans import QUOTAS, Plan, plan_get, plan_upgrade_for, quota_words
from .services import billing_url, quota_level_notify, warning_threshold

__all__ = ["quota_exceeded", "quota_limit", "quota_require", "tenant_plan"]


def quota_require(tenant: Tenant, quota: str, *, used: Callable[[], int], adding: int = 1) -> None:
    """Refuse (QuotaExceeded) when ``used() + adding`` would pass the tenant's ``quota``.
    Precondition: inside the transaction that stores what is added (the tenant's row is
    locked until it commits; ``used`` is called once the lock is held)."""
    if quota not in QUOTAS:
        raise ValueError(f"unknown quota {quota!r}")
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("quota_require runs inside the transaction that stores the new object")
    locked = Tenant.objects.select_for_update().get(**tenant_identity(tenant))
    plan = plan_get(locked.plan)
    limit = quota_limit(locked, quota, plan)
    if limit is None:
        return
    needed = used() + adding
    if needed > limit:
        raise quota_exceeded(locked, plan, quota, needed=needed, limit=limit)
    # 80% reached, or the limit: the owners are told once a period. A quota of one (Free's one
    # widget, one seat) is full from the start, which is no news.
    if limit > 1 and needed >= warning_threshold(limit):
        level = 100 if needed == limit else 80
        quota_level_notify(tenant=locked, metric=quota, limit=limit, level=level)


def quota_exceeded(
    tenant: Tenant, plan: Plan, quota: str, *, needed: int, limit: int | None
) -> QuotaExceeded:
    upgrade = plan_upgrade_for(plan, quota, needed)
    if limit == plan.quota(quota):
        what = f"The {plan.name} plan includes {quota_words(quota, limit)}."
    else:  # staff granted extra
        words = quota_words(quota, limit)
        what = f"This workspace's limit is {words} (the {plan.name} plan plus extra granted)."
    advice = (
        f"Upgrade to {upgrade.name} for {quota_words(quota, upgrade.quota(quota))}."
        if upgrade
        else "Contact us for a larger plan."
    )
    return QuotaExceeded(
        f"{what} {advice}",
        limit=quota,
        allowed=limit,
        plan=plan.code,
        upgrade_plan=upgrade.code if upgrade else None,
        upgrade_url=billing_url(tenant),
    )
