"""Reads of the workspace's retention: the plan's bound, the policy in force (the stored
choice narrowed to the bound) and the purge history. Preconditions: the tenant's schema
is active; ``tenant`` is the Tenant (public) whose plan bounds it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from billing.limits import tenant_plan

from .models import PurgeRun, RetentionPolicy

KINDS = ("conversations", "attachments", "contacts")
FIELDS = tuple(f"{kind}_days" for kind in KINDS)


@dataclass(frozen=True)
class RetentionInForce:
    """The days each kind is kept (``None``: forever), the stored choice, and the plan."""

    policy: RetentionPolicy
    plan_code: str
    plan_name: str
    bound: int | None  # the plan's longest, None: unlimited
    days: dict[str, int | None]  # field -> days in force

    @property
    def beyond_plan(self) -> list[str]:
        """The stored fields the plan's bound narrows (the nightly purge persists it)."""
        return [field for field in FIELDS if self.days[field] != getattr(self.policy, field)]


def in_force(stored: int | None, bound: int | None) -> int | None:
    """The days kept: the stored choice within the bound (``None`` stored: the bound)."""
    if bound is None:
        return stored
    return bound if stored is None else min(stored, bound)


def retention_policy() -> RetentionPolicy:
    """The stored policy, or the unsaved default (every kind as long as the plan allows)."""
    return RetentionPolicy.objects.order_by("id").first() or RetentionPolicy()


def retention_in_force(*, tenant: Any) -> RetentionInForce:
    plan = tenant_plan(tenant)
    policy = retention_policy()
    days = {field: in_force(getattr(policy, field), plan.retention_days) for field in FIELDS}
    return RetentionInForce(
        policy=policy, plan_code=plan.code, plan_name=plan.name, bound=plan.retention_days, days=days
    )


def purge_runs_recent(*, limit: int = 10) -> list[PurgeRun]:
    return list(PurgeRun.objects.order_by("-started_at", "-id")[:limit])


def retention_summary(view: RetentionInForce) -> dict[str, Any]:
    """The policy as the API answers it."""
    return {
        **{field: view.days[field] for field in FIELDS},
        "plan": view.plan_code,
        "plan_max_days": view.bound,
        "narrowed": view.policy.narrowed or None,
        "updated_at": view.policy.updated_at if view.policy.pk else None,
    }
