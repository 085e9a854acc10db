"""Billing's changes in the workspace's own audit log (billing.workspace_log.workspace_audit):
billing runs in the public schema and records into the tenant's. A plan chosen by the owner
is theirs, one granted by staff is staff's, Stripe's news (a cancellation) the system's."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from audit.models import AuditEvent
from billing.models import BillingAccount
from billing.services import trials_expire
from billing.subscriptions import billing_start, staff_plan_grant
from billing.workspace_log import workspace_audit
from tenants.models import Tenant
from tests.billing.scenarios import checkout, deliver, run_queued
from tests.tenants.factories import StaffUserFactory

pytestmark = pytest.mark.django_db


def _events(tenant_a, mark: int) -> list[AuditEvent]:
    with tenant_context(tenant_a.tenant):
        return list(AuditEvent.objects.filter(pk__gt=mark, action__startswith="billing.").order_by("pk"))


@pytest.fixture
def mark(tenant_a) -> int:
    with tenant_context(tenant_a.tenant):
        return AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def test_a_demo_plan_change_is_the_owners(tenant_a, settings, mark):
    settings.STRIPE_SECRET_KEY = ""
    owner = Client()
    owner.force_login(tenant_a.owner, host=tenant_a.host)
    owner.post(
        "/dashboard/billing/checkout", {"plan": "starter", "interval": "monthly"}, HTTP_HOST=tenant_a.host
    )
    (event,) = _events(tenant_a, mark)
    assert event.action == "billing.plan_changed"
    assert event.metadata == {"plan": {"from": "free", "to": "starter"}, "why": "demo"}
    assert (event.actor_kind, event.actor_id) == ("member", tenant_a.owner.pk)
    assert (event.target_type, event.target_id) == ("tenant", str(tenant_a.tenant.pk))


def test_a_staff_grant_is_staffs(tenant_a, mark):
    staff = StaffUserFactory(email="billing-staff@example.com")
    staff_plan_grant(tenant=tenant_a.tenant, plan_code="business", by=staff, reason="Partner")
    (event,) = _events(tenant_a, mark)
    assert (event.actor_kind, event.actor_label) == ("staff", "billing-staff@example.com")
    assert event.metadata["plan"] == {"from": "free", "to": "business"}


def test_stripe_checkout_and_cancellation_are_recorded_by_the_system(tenant_a, stripe_on, mark):
    for event in checkout(tenant_a, stripe_on, "pro"):
        deliver(stripe_on, event)
    run_queued(stripe_on)
    deliver(stripe_on, stripe_on.subscription_delete(next(iter(stripe_on.subscriptions))))
    run_queued(stripe_on)
    events = _events(tenant_a, mark)
    assert [(e.action, e.metadata.get("plan")) for e in events] == [
        ("billing.plan_changed", {"from": "free", "to": "pro"}),
        ("billing.subscription_canceled", None),
        ("billing.plan_changed", {"from": "pro", "to": "free"}),
    ]
    assert {e.actor_kind for e in events} == {"system"}
    assert events[1].metadata["at_period_end"] is False and events[1].metadata["status"] == "canceled"


def test_a_trial_that_ends_is_recorded_by_the_system(tenant_a, settings, mark):
    settings.BILLING_TRIAL_PLAN, settings.BILLING_TRIAL_DAYS = "pro", 14
    BillingAccount.objects.filter(tenant=tenant_a.tenant).delete()
    billing_start(tenant_a.tenant)
    BillingAccount.objects.filter(tenant=tenant_a.tenant).update(
        trial_ends_at=timezone.now() - timedelta(seconds=1)
    )
    assert trials_expire() == 1
    (event,) = _events(tenant_a, mark)
    assert event.metadata == {"plan": {"from": "pro", "to": "free"}, "why": "trial ended"}
    assert event.actor_kind == "system"


def test_news_for_a_workspace_being_deleted_records_nothing(tenant_a, mark):
    Tenant.objects.filter(pk=tenant_a.tenant.pk).update(status=Tenant.Status.DELETING)
    workspace_audit(tenant_a.tenant, action="billing.subscription_canceled", metadata={})
    assert _events(tenant_a, mark) == []
