"""retention.services.policy: the workspace's choice within its plan's bound, audited."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from audit.models import AuditEvent
from retention.models import RetentionPolicy
from retention.selectors import retention_in_force
from retention.services import RetentionBeyondPlan, retention_policy_update
from saas.errors import ValidationFailed

from .conftest import plan_set

pytestmark = pytest.mark.django_db


def _update(tenant, **days):
    values = {"conversations_days": 30, "attachments_days": 30, "contacts_days": 30, **days}
    return retention_policy_update(tenant=tenant, request=None, **values)


def test_unsaved_the_plan_bound_is_in_force(tenant_a):
    with tenant_context(tenant_a.tenant):
        assert retention_in_force(tenant=tenant_a.tenant).days == dict.fromkeys(
            ("conversations_days", "attachments_days", "contacts_days"), 30
        )
        plan_set(tenant_a.tenant, "business")
        assert set(retention_in_force(tenant=tenant_a.tenant).days.values()) == {None}


def test_the_plan_bound_is_enforced(tenant_a):
    with tenant_context(tenant_a.tenant):
        with pytest.raises(RetentionBeyondPlan) as refused:
            _update(tenant_a.tenant, conversations_days=31, contacts_days=None)
        assert refused.value.status == 422 and refused.value.code == "retention_beyond_plan"
        assert set(refused.value.errors) == {"conversations_days", "contacts_days"}
        assert "at most 30 days" in refused.value.errors["contacts_days"][0]["message"]
        with pytest.raises(ValidationFailed) as invalid:
            _update(tenant_a.tenant, attachments_days=0)
        assert invalid.value.code == "validation_error" and "attachments_days" in invalid.value.errors
        assert not RetentionPolicy.objects.exists()
        assert not AuditEvent.objects.filter(action__startswith="retention.").exists()
        plan_set(tenant_a.tenant, "starter")
        assert _update(tenant_a.tenant, conversations_days=365).conversations_days == 365


def test_a_change_is_audited_once(tenant_a):
    with tenant_context(tenant_a.tenant):
        _update(tenant_a.tenant, attachments_days=7)
        _update(tenant_a.tenant, attachments_days=7)  # the same values: nothing to record
        (event,) = AuditEvent.objects.filter(action="retention.updated")
        assert event.metadata["attachments_days"] == {"from": None, "to": 7}
        assert event.target_type == "retentionpolicy"
        plan_set(tenant_a.tenant, "business")
        policy = _update(tenant_a.tenant, conversations_days=None, attachments_days=7, contacts_days=None)
        assert policy.conversations_days is None  # forever, on a plan without a limit
        assert AuditEvent.objects.filter(action="retention.updated").count() == 2
