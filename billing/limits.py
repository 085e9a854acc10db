"""A tenant's plan and its limits (reads): the plan's quota plus what staff granted.

Below everything that enforces or reports them (``quotas``, ``services``, ``selectors``).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, Sum
from django.utils import timezone

from tenants.contributions import PlanSummary
from tenants.models import Tenant

from .models import QuotaGrant
from .plans import PLANS, Plan, plan_get


def tenant_identity(tenant: Any) -> dict[str, Any]:
    """A Tenant, or the stand-in django-tenants puts on a connection entered by schema name."""
    pk = getattr(tenant, "pk", None)
    return {"pk": pk} if pk is not None else {"schema_name": tenant.schema_name}


def tenant_plan(tenant: Tenant) -> Plan:
    """The tenant's plan, read fresh (a request's tenant may come from a cache and predate
    an upgrade)."""
    code = Tenant.objects.filter(**tenant_identity(tenant)).values_list("plan", flat=True).first()
    return plan_get(code)


def plan_summary(tenant: Tenant) -> PlanSummary:
    """The plan named in the dashboard's sidebar, and whether a bigger one exists."""
    plan = tenant_plan(tenant)
    return PlanSummary(name=plan.name, upgradable=plan.code != PLANS[-1].code)


def quota_limit(tenant: Tenant, quota: str, plan: Plan | None = None) -> int | None:
    """The tenant's limit for ``quota``: the plan's plus staff grants (``None``: unlimited)."""
    limit = (plan or tenant_plan(tenant)).quota(quota)
    if limit is None:
        return None
    grants = QuotaGrant.objects.filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()),
        quota=quota,
        **{f"tenant__{key}": value for key, value in tenant_identity(tenant).items()},
    )
    extra: int = grants.aggregate(total=Sum("extra"))["total"] or 0
    return limit + extra
