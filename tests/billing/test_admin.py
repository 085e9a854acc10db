"""billing.admin: platform staff see every account's plan, status and MRR, and grant plans
and extra quota (audited)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from billing.models import BillingAuditEvent, QuotaGrant
from billing.quotas import quota_limit
from billing.subscriptions import billing_account
from saas.errors import QuotaExceeded
from tenants.models import PlatformAuditEvent, Tenant
from tests.billing.scenarios import on_plan
from widget_builder.models import Widget
from widget_builder.services import widget_create


def test_staff_see_plans_status_and_mrr(staff_client, tenant_a, tenant_b):
    for seeded, plan, interval in ((tenant_a, "pro", "monthly"), (tenant_b, "business", "yearly")):
        on_plan(seeded.tenant, plan)
        account = billing_account(seeded.tenant)
        account.source, account.status, account.interval = "stripe", "active", interval
        account.save()
    page = staff_client.get("/admin/billing/billingaccount/").content.decode()
    assert "MRR $431.50" in page  # 99 + 3,990 / 12
    assert "Pro" in page and "Business" in page and "332.50" in page


def test_staff_grant_a_plan_and_extra_quota_audited(staff_client, staff_user, tenant_a):
    account = billing_account(tenant_a.tenant)
    response = staff_client.post(
        f"/admin/billing/billingaccount/{account.pk}/change/", {"plan": "business", "reason": "Partner deal"}
    )
    assert response.status_code == 302
    assert Tenant.objects.get(pk=tenant_a.tenant.pk).plan == "business"
    audit = BillingAuditEvent.objects.get(tenant=tenant_a.tenant, action="staff_plan_grant")
    assert audit.actor_email == staff_user.email and audit.detail == {
        "before": "free",
        "after": "business",
        "reason": "Partner deal",
    }
    assert PlatformAuditEvent.objects.filter(target_id=str(account.pk), action__contains="change").exists()

    on_plan(tenant_a.tenant, "free")
    response = staff_client.post(
        "/admin/billing/quotagrant/add/",
        {"tenant": tenant_a.tenant.pk, "quota": "widgets", "extra": 2, "reason": "Launch week"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    grant = QuotaGrant.objects.get(tenant=tenant_a.tenant)
    assert grant.granted_by == staff_user.email
    assert BillingAuditEvent.objects.filter(tenant=tenant_a.tenant, action="quota_grant").exists()
    assert quota_limit(tenant_a.tenant, "widgets") == 3
    with tenant_context(tenant_a.tenant):
        widget_create(tenant=tenant_a.tenant, name="Granted 1")
        widget_create(tenant=tenant_a.tenant, name="Granted 2")
        with pytest.raises(QuotaExceeded) as refused, transaction.atomic():
            widget_create(tenant=tenant_a.tenant, name="Over")
        assert Widget.objects.count() == 3
    assert "This workspace's limit is 3 widgets (the Free plan plus extra granted)." in str(refused.value)
    QuotaGrant.objects.filter(pk=grant.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert quota_limit(tenant_a.tenant, "widgets") == 1  # an expired grant counts no more
