"""The workspace's retention policy: how long conversations (with their messages),
attachments and contacts are kept, each "forever" (``None``, if the plan allows) or a
number of days within the plan's bound (``billing.plans.Plan.retention_days``).

A plan without room for the stored choice (a downgrade) narrows it: the pages and the
purge read the policy in force (``retention.selectors.retention_in_force``) at once, and
:func:`retention_policy_narrow` stores the narrowed days (the purge calls it first), noting
what they were so the settings page can say so. Every change is in the workspace's audit
log. Preconditions: the tenant's schema is active; ``tenant`` is its Tenant.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from audit.services import audit_record
from saas.errors import ValidationFailed

from ..models import RetentionPolicy
from ..selectors import FIELDS, retention_in_force

MAX_DAYS = 36_500  # a hundred years: "forever" is None, not a huge number
LABELS = {
    "conversations_days": "Conversations",
    "attachments_days": "Attachments",
    "contacts_days": "Contacts",
}


class RetentionBeyondPlan(ValidationFailed):
    """A retention longer than the plan allows; ``errors`` names each field."""

    code = "retention_beyond_plan"
    title = "Longer than the plan allows"


def _locked_policy() -> RetentionPolicy:
    policy = RetentionPolicy.objects.select_for_update().order_by("id").first()
    return policy or RetentionPolicy.objects.create()


def _validated(values: dict[str, int | None], bound: int | None, plan_name: str) -> None:
    invalid: dict[str, list[dict[str, str]]] = {}
    beyond: dict[str, list[dict[str, str]]] = {}
    for field, days in values.items():
        if days is not None and not 1 <= days <= MAX_DAYS:
            invalid[field] = [{"code": "invalid", "message": f"Choose between 1 and {MAX_DAYS:,} days."}]
        elif bound is not None and (days is None or days > bound):
            kept = "forever" if days is None else f"{days:,} days"
            beyond[field] = [
                {
                    "code": "retention_beyond_plan",
                    "message": f"The {plan_name} plan keeps data at most {bound:,} days, not {kept}.",
                }
            ]
    if invalid:
        raise ValidationFailed("Some retention periods are not valid.", errors={**invalid, **beyond})
    if beyond:
        raise RetentionBeyondPlan(
            f"The {plan_name} plan keeps data at most {bound:,} days.", errors=beyond, plan_max_days=bound
        )


def retention_policy_update(
    *,
    tenant: Any,
    request: HttpRequest | None,
    conversations_days: int | None,
    attachments_days: int | None,
    contacts_days: int | None,
) -> RetentionPolicy:
    """Store the policy (owners and admins: the caller checked the role). Raises
    ``RetentionBeyondPlan`` (422, per field) for a period longer than the plan allows,
    ``ValidationFailed`` for a number of days out of range. A change is audited as
    ``retention.updated`` (from, to); saving the same values changes nothing."""
    values = {
        "conversations_days": conversations_days,
        "attachments_days": attachments_days,
        "contacts_days": contacts_days,
    }
    view = retention_in_force(tenant=tenant)
    _validated(values, view.bound, view.plan_name)
    with transaction.atomic():
        policy = _locked_policy()
        changed = [field for field in FIELDS if getattr(policy, field) != values[field]]
        if not changed and not policy.narrowed:
            return policy
        metadata = {field: {"from": getattr(policy, field), "to": values[field]} for field in changed}
        for field in FIELDS:
            setattr(policy, field, values[field])
        policy.narrowed = {}
        policy.save(update_fields=[*FIELDS, "narrowed", "updated_at"])
        if changed:
            audit_record(action="retention.updated", request=request, target=policy, metadata=metadata)
    return policy


def retention_policy_narrow(*, tenant: Any) -> RetentionPolicy | None:
    """Store the plan's bound in place of any stored period longer than it (a downgrade),
    noting what it was; audited as ``retention.narrowed`` by the system. Returns the
    policy when it changed, else None. Idempotent."""
    view = retention_in_force(tenant=tenant)
    if view.bound is None or view.policy.pk is None:
        return None  # no bound, or nothing chosen: the plan's bound is in force already
    with transaction.atomic():
        policy = _locked_policy()
        wider = [field for field in FIELDS if (getattr(policy, field) or view.bound + 1) > view.bound]
        if not wider:
            return None
        before = {field: getattr(policy, field) for field in wider}
        for field in wider:
            setattr(policy, field, view.bound)
        policy.narrowed = {
            "plan": view.plan_name,
            "days": view.bound,
            "from": before,
            "at": timezone.now().isoformat(),
        }
        policy.save(update_fields=[*wider, "narrowed", "updated_at"])
        audit_record(
            action="retention.narrowed",
            target=policy,
            metadata={"plan": view.plan_code, "days": view.bound, "from": before},
        )
    return policy
