"""Metered overage through Stripe Billing Meter events (idempotent, retried), usage emails
at 80% and 100%, trials, and platform staff: plans, MRR, grants (audited)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from billing.models import (
    BillingAccount,
    BillingAuditEvent,
    MeterReport,
    QuotaGrant,
    QuotaNotice,
    UsageCounter,
)
from billing.quotas import quota_limit
from billing.services import answer_credit_take, billing_period, overage_report, trials_expire
from billing.subscriptions import billing_account, billing_start
from saas.errors import QuotaExceeded
from tenants.models import PlatformAuditEvent, Tenant
from widget_builder.models import Widget
from widget_builder.services import widget_create


def on_plan(tenant, code: str) -> None:
    Tenant.objects.filter(pk=tenant.pk).update(plan=code)


def overage(tenant, value: int) -> UsageCounter:
    counter, _ = UsageCounter.objects.update_or_create(
        tenant=tenant,
        period=billing_period(),
        metric=UsageCounter.Metric.AI_ANSWERS_OVERAGE,
        defaults={"value": value},
    )
    return counter


def test_business_answers_past_the_quota_are_counted_as_overage(tenant_a):
    on_plan(tenant_a.tenant, "business")
    UsageCounter.objects.create(
        tenant=tenant_a.tenant, period=billing_period(), metric="ai_answers", value=50_000
    )
    assert answer_credit_take(tenant_a.tenant, own_key=False) == "ai_answers_overage"
    on_plan(tenant_a.tenant, "pro")  # no overage: refused
    UsageCounter.objects.filter(metric="ai_answers").update(value=10_000)
    assert answer_credit_take(tenant_a.tenant, own_key=False) is None


def test_overage_goes_to_stripe_once_per_unit_even_when_a_response_is_lost(tenant_a, stripe_on):
    account = billing_account(tenant_a.tenant)
    account.stripe_customer_id = "cus_overage"
    account.save()
    counter = overage(tenant_a.tenant, 120)

    # The first send reaches Stripe but its answer is lost: the report stays unsent...
    stripe_on.fail_next("/v1/billing/meter_events", status=500, times=3, lose_response=True)
    assert overage_report() == 0
    report = MeterReport.objects.get(counter=counter)
    assert (report.value_from, report.value_to, report.sent_at) == (0, 120, None)
    assert report.identifier == f"usage-{counter.pk}-120"
    # ... and the retry sends the same identifier: Stripe counted it once, we mark it sent.
    assert overage_report() == 1
    assert [(e["identifier"], e["payload"]["value"]) for e in stripe_on.meter_events] == [
        (f"usage-{counter.pk}-120", "120")
    ]
    assert overage_report() == 0  # nothing new: nothing sent

    counter.value = 150
    counter.save()
    assert overage_report() == 1
    assert [e["payload"]["value"] for e in stripe_on.meter_events] == ["120", "30"]
    assert all(e["payload"]["stripe_customer_id"] == "cus_overage" for e in stripe_on.meter_events)
    assert MeterReport.objects.filter(sent_at__isnull=True).count() == 0


def test_owners_are_told_at_80_and_100_percent_once_per_period(tenant_a, django_capture_on_commit_callbacks):
    on_plan(tenant_a.tenant, "pro")  # 5 widgets; A has 1
    levels = []
    with tenant_context(tenant_a.tenant), django_capture_on_commit_callbacks(execute=True):
        for n in range(4):
            widget_create(tenant=tenant_a.tenant, name=f"W{n}")
            notices = QuotaNotice.objects.filter(tenant=tenant_a.tenant, metric="widgets")
            levels.append(sorted(notices.values_list("level", flat=True)))
        with pytest.raises(QuotaExceeded), transaction.atomic():
            widget_create(tenant=tenant_a.tenant, name="Over")
    assert levels == [[], [], [80], [80, 100]]  # 2, 3, 4 (80%) and 5 (100%) of 5
    name = tenant_a.tenant.name
    assert [m.subject for m in mail.outbox] == [
        f"{name}: 80% of your plan's widgets used",
        f"{name}: 100% of your plan's widgets used",
    ]
    assert mail.outbox[0].to == [tenant_a.owner.email]
    assert "/dashboard/billing/" in mail.outbox[0].body


def test_ai_answer_emails_at_80_and_100_percent(tenant_a, django_capture_on_commit_callbacks):
    limit = 100  # Free
    UsageCounter.objects.create(
        tenant=tenant_a.tenant, period=billing_period(), metric="ai_answers", value=78
    )
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(limit - 78 + 2):
            answer_credit_take(tenant_a.tenant, own_key=False)
    assert [m.subject for m in mail.outbox] == [
        f"{tenant_a.tenant.name}: 80% of this month's AI answers used",
        f"{tenant_a.tenant.name}: AI answers used up for this month",
    ]


def test_new_workspaces_start_on_free_or_a_configured_trial(tenant_a, settings):
    settings.BILLING_TRIAL_PLAN = ""
    BillingAccount.objects.filter(tenant=tenant_a.tenant).delete()
    billing_start(tenant_a.tenant)
    assert Tenant.objects.get(pk=tenant_a.tenant.pk).plan == "free"

    settings.BILLING_TRIAL_PLAN, settings.BILLING_TRIAL_DAYS = "pro", 14
    BillingAccount.objects.filter(tenant=tenant_a.tenant).delete()
    billing_start(tenant_a.tenant)
    account = BillingAccount.objects.get(tenant=tenant_a.tenant)
    assert Tenant.objects.get(pk=tenant_a.tenant.pk).plan == "pro" and account.status == "trialing"
    assert timedelta(days=13) < account.trial_ends_at - timezone.now() <= timedelta(days=14)

    assert trials_expire() == 0
    BillingAccount.objects.filter(pk=account.pk).update(trial_ends_at=timezone.now() - timedelta(seconds=1))
    assert trials_expire() == 1
    assert Tenant.objects.get(pk=tenant_a.tenant.pk).plan == "free"


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


def test_usage_follows_the_stripe_billing_period(tenant_a):
    """With a paid subscription, quotas reset (and overage is billed) with Stripe's period,
    not the calendar month."""
    from billing.selectors import usage_value
    from billing.services import tenant_period, usage_consume

    now = timezone.now()
    start = now - timedelta(days=3)
    account = billing_account(tenant_a.tenant)
    account.source, account.status = "stripe", "active"
    account.current_period_start, account.current_period_end = start, start + timedelta(days=30)
    account.save()
    assert tenant_period(tenant_a.tenant.pk) == start.date()
    assert usage_consume(tenant_id=tenant_a.tenant.pk, metric="ai_answers", limit=2) == 1
    assert UsageCounter.objects.get(tenant=tenant_a.tenant, metric="ai_answers").period == start.date()
    assert usage_value(tenant_id=tenant_a.tenant.pk, metric="ai_answers") == 1

    # Stripe renews: a new period, a fresh quota.
    account.current_period_start = now - timedelta(seconds=1)
    account.save()
    assert usage_consume(tenant_id=tenant_a.tenant.pk, metric="ai_answers", limit=1) == 1
    assert usage_value(tenant_id=tenant_a.tenant.pk, metric="ai_answers") == 1

    # Cancelled: back to the calendar month.
    account.status = "canceled"
    account.save()
    assert tenant_period(tenant_a.tenant.pk) == billing_period()
