"""billing.services: usage counted exactly (also under concurrency) in the billing period
(Stripe's, else the calendar month), AI answer credits at the quota's boundary and past it
as overage, metered overage sent to Stripe once per unit, and the owners told at 80% and
100%."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connections, transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from billing.models import MeterReport, QuotaNotice, UsageCounter
from billing.quotas import tenant_plan
from billing.selectors import usage_value
from billing.services import (
    answer_credit_take,
    billing_period,
    billing_url,
    overage_report,
    tenant_period,
    usage_consume,
)
from billing.subscriptions import billing_account
from saas.errors import QuotaExceeded
from tests.billing.factories import UsageCounterFactory
from tests.billing.scenarios import on_plan
from tests.emails import assert_product_email
from widget_builder.services import widget_create

pytestmark = pytest.mark.django_db


def overage(tenant, value: int) -> UsageCounter:
    return UsageCounterFactory(tenant=tenant, metric=UsageCounter.Metric.AI_ANSWERS_OVERAGE, value=value)


def test_business_answers_past_the_quota_are_counted_as_overage(tenant_a):
    on_plan(tenant_a.tenant, "business")
    UsageCounterFactory(tenant=tenant_a.tenant, metric="ai_answers", value=50_000)
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
    for message in mail.outbox:  # text and HTML on the layout, with the way to upgrade
        assert_product_email(message, billing_url(tenant_a.tenant), "Upgrade your plan", name)


def test_ai_answer_emails_at_80_and_100_percent(tenant_a, django_capture_on_commit_callbacks):
    limit = 100  # Free
    UsageCounterFactory(tenant=tenant_a.tenant, metric="ai_answers", value=78)
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(limit - 78 + 2):
            answer_credit_take(tenant_a.tenant, own_key=False)
    assert [m.subject for m in mail.outbox] == [
        f"{tenant_a.tenant.name}: 80% of this month's AI answers used",
        f"{tenant_a.tenant.name}: AI answers used up for this month",
    ]
    warning, used_up = mail.outbox
    assert_product_email(warning, billing_url(tenant_a.tenant), "80%", "fallback text")
    assert_product_email(used_up, billing_url(tenant_a.tenant), "restore AI answers")


def test_usage_follows_the_stripe_billing_period(tenant_a):
    """With a paid subscription, quotas reset (and overage is billed) with Stripe's period,
    not the calendar month."""
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


def test_usage_counting_is_exact_under_concurrency(tenant_a, django_db_blocker):
    results: list[bool] = []
    lock = threading.Lock()

    def worker():
        try:
            for _ in range(10):
                value = usage_consume(tenant_id=tenant_a.tenant.pk, metric="concurrency_probe", limit=35)
                ok = value is not None
                with lock:
                    results.append(ok)
        finally:
            connections.close_all()

    with django_db_blocker.unblock():
        threads = [threading.Thread(target=worker) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        try:
            assert results.count(True) == 35 and len(results) == 60
            counters = dict(
                UsageCounter.objects.filter(metric__startswith="concurrency_probe").values_list(
                    "metric", "value"
                )
            )
            assert counters == {"concurrency_probe": 35, "concurrency_probe:day": 35}  # the day's count too
        finally:
            cleanup = threading.Thread(
                target=lambda: (
                    UsageCounter.objects.filter(metric__startswith="concurrency_probe").delete(),
                    connections.close_all(),
                )
            )
            cleanup.start()
            cleanup.join()


def test_ai_answers_exactly_at_the_limit_then_one_over(tenant_a):
    limit = tenant_plan(tenant_a.tenant).ai_answers  # Free: 100 a month
    UsageCounterFactory(tenant=tenant_a.tenant, metric="ai_answers", value=limit - 1)
    assert answer_credit_take(tenant_a.tenant, own_key=False) == "ai_answers"  # the 100th of 100
    assert answer_credit_take(tenant_a.tenant, own_key=False) is None  # the 101st
    assert UsageCounter.objects.get(metric="ai_answers", tenant=tenant_a.tenant).value == limit
    # Answers with the workspace's own key are counted apart and never refused.
    assert answer_credit_take(tenant_a.tenant, own_key=True) == "ai_answers_own_key"
