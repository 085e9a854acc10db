"""billing.subscriptions: checkout (a Stripe Checkout Session, or the price changed in
place when a subscription exists; demo billing without keys), the Stripe events recorded
and processed once each, whatever the retries, and where a new workspace starts. The real
stripe SDK against tests/fakes/stripe_server.py."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connections
from django.test import Client
from django.utils import timezone

from billing import stripe_events, subscriptions
from billing.models import BillingAccount, BillingAuditEvent, StripeEvent
from billing.services import trials_expire
from billing.subscriptions import billing_start
from tenants.models import Tenant
from tests.billing.scenarios import SECRET, WEBHOOK, checkout, deliver, plan_of, run_queued
from tests.hosts import PUBLIC_HOST


def test_checkout_then_webhooks_make_the_plan_active(tenant_a, stripe_on):
    events = checkout(tenant_a, stripe_on, "pro", "yearly")
    assert plan_of(tenant_a) == "free"  # nothing changes before Stripe says so
    for event in events:
        response = deliver(stripe_on, event)
        assert response.status_code == 200 and response.json() == {"received": True, "duplicate": False}
    assert plan_of(tenant_a) == "free"  # the webhook answered before the work
    run_queued(stripe_on)
    account = BillingAccount.objects.get(tenant=tenant_a.tenant)
    assert plan_of(tenant_a) == "pro"
    assert (account.status, account.interval, account.source) == ("active", "yearly", "stripe")
    assert account.stripe_customer_id.startswith("cus_") and account.stripe_subscription_id.startswith("sub_")
    assert account.current_period_end > timezone.now() + timedelta(days=360)
    assert StripeEvent.objects.filter(processed_at__isnull=False).count() == len(events)

    # The customer was created once, with our key, whatever the retries.
    creates = [r for r in stripe_on.requests if r.method == "POST" and r.path == "/v1/customers"]
    assert len(creates) == 1 and creates[0].idempotency_key == f"customer-for-tenant-{tenant_a.tenant.pk}"
    # A second checkout reuses the customer.
    owner = Client()
    owner.force_login(tenant_a.owner, host=tenant_a.host)
    page = owner.get("/dashboard/billing/", HTTP_HOST=tenant_a.host).content.decode()
    assert '<p class="plan-name">Pro plan' in page and "Demo billing" not in page
    assert "Manage card, invoices and cancellation" in page and "99,000" not in page


def test_upgrade_with_a_subscription_changes_the_price_in_place(tenant_a, stripe_on):
    for event in checkout(tenant_a, stripe_on, "starter"):
        deliver(stripe_on, event)
    run_queued(stripe_on)
    owner = Client()
    owner.force_login(tenant_a.owner, host=tenant_a.host)
    response = owner.post(
        "/dashboard/billing/checkout", {"plan": "business", "interval": "monthly"}, HTTP_HOST=tenant_a.host
    )
    assert response.status_code == 302 and response["Location"].endswith("/dashboard/billing/")
    assert plan_of(tenant_a) == "business"
    subscription = next(iter(stripe_on.subscriptions.values()))
    assert subscription["items"]["data"][0]["price"]["id"] == "price_business_m"
    assert len(stripe_on.subscriptions) == 1  # no second subscription


def test_a_duplicate_event_has_one_effect(tenant_a, stripe_on):
    events = checkout(tenant_a, stripe_on)
    for event in events + events:
        deliver(stripe_on, event)
    assert deliver(stripe_on, events[0]).json()["duplicate"] is True
    assert StripeEvent.objects.count() == len(events) and len(stripe_on.queued) == len(events)
    queued = list(stripe_on.queued)
    run_queued(stripe_on)
    for pk in queued:  # a task delivered twice
        subscriptions.stripe_event_process(pk)
    assert set(StripeEvent.objects.values_list("attempts", flat=True)) == {1}
    assert plan_of(tenant_a) == "pro"


def test_concurrent_duplicate_deliveries_store_and_apply_one_event(tenant_a, stripe_on, django_db_blocker):
    """Eight deliveries of one event at once, on separate connections (committed): one row,
    one processing. (The checkout is made on Stripe's side only: this test's own
    transaction writes nothing the threads would wait for.)"""
    metadata = {"tenant_id": str(tenant_a.tenant.pk), "plan": "pro"}
    stripe = stripe_on.client()
    customer = stripe.v1.customers.create(params={"email": "owner@example.com"})
    session = stripe.v1.checkout.sessions.create(
        params={
            "mode": "subscription",
            "customer": customer["id"],
            "client_reference_id": str(tenant_a.tenant.pk),
            "metadata": metadata,
            "line_items": [{"price": "price_pro_m", "quantity": 1}],
            "subscription_data": {"metadata": metadata},
            "success_url": "https://example.com/ok",
        }
    )
    event = stripe_on.checkout_complete(session["id"])[-1]
    payload, header = stripe_on.sign(event, SECRET)
    answers: list[dict] = []
    barrier = threading.Barrier(8)

    def post():
        try:
            barrier.wait()
            answers.append(
                Client()
                .post(
                    WEBHOOK,
                    payload,
                    content_type="application/json",
                    HTTP_HOST=PUBLIC_HOST,
                    HTTP_STRIPE_SIGNATURE=header,
                )
                .json()
            )
        finally:
            connections.close_all()

    def process(pk):
        try:
            barrier.wait()
            subscriptions.stripe_event_process(pk)
        finally:
            connections.close_all()

    def cleanup():
        try:
            StripeEvent.objects.filter(event_id=event["id"]).delete()
            BillingAccount.objects.filter(tenant=tenant_a.tenant).delete()
            Tenant.objects.filter(pk=tenant_a.tenant.pk).update(plan="free")
        finally:
            connections.close_all()

    with django_db_blocker.unblock():
        try:
            threads = [threading.Thread(target=post) for _ in range(8)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert sorted(a["duplicate"] for a in answers) == [False] + [True] * 7
            assert len(stripe_on.queued) == 1
            pk = stripe_on.queued[0]
            threads = [threading.Thread(target=process, args=(pk,)) for _ in range(8)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            stored = StripeEvent.objects.get(pk=pk)
            assert stored.processed_at is not None and stored.attempts == 1
            assert Tenant.objects.get(pk=tenant_a.tenant.pk).plan == "pro"
        finally:
            thread = threading.Thread(target=cleanup)
            thread.start()
            thread.join()


def test_stripe_unreachable_leaves_the_event_for_a_retry(tenant_a, stripe_on):
    events = checkout(tenant_a, stripe_on)
    for event in events:
        deliver(stripe_on, event)
    stripe_on.fail_next("/v1/subscriptions", status=500, times=3)  # the call and the SDK's 2 retries
    pk = stripe_on.queued[0]
    from billing.stripe_client import StripeError

    with pytest.raises(StripeError):
        subscriptions.stripe_event_process(pk)
    stored = StripeEvent.objects.get(pk=pk)
    assert stored.processed_at is None and stored.attempts == 1 and stored.error
    run_queued(stripe_on)
    assert plan_of(tenant_a) == "pro"


def test_demo_billing_applies_plans_at_once_with_the_same_enforcement(tenant_a, settings):
    settings.STRIPE_SECRET_KEY = ""
    owner = Client()
    owner.force_login(tenant_a.owner, host=tenant_a.host)
    page = owner.get("/dashboard/billing/", HTTP_HOST=tenant_a.host).content.decode()
    assert "Demo billing." in page and '<p class="plan-name">Free plan' in page
    response = owner.post(
        "/dashboard/billing/checkout", {"plan": "starter", "interval": "monthly"}, HTTP_HOST=tenant_a.host
    )
    assert response["Location"] == "/dashboard/billing/"
    assert plan_of(tenant_a) == "starter"
    audit = BillingAuditEvent.objects.get(tenant=tenant_a.tenant)
    assert (audit.action, audit.actor_email, audit.detail["after"]) == (
        "demo_plan_change",
        tenant_a.owner.email,
        "starter",
    )
    # The same enforcement: Starter has 2 widgets, the third is refused.
    assert owner.post("/dashboard/widgets/new", {"name": "Two"}, HTTP_HOST=tenant_a.host).status_code == 302
    third = owner.post("/dashboard/widgets/new", {"name": "Three"}, HTTP_HOST=tenant_a.host, follow=True)
    assert "The Starter plan includes 2 widgets." in third.content.decode()
    bad = owner.post(
        "/dashboard/billing/checkout", {"plan": "platinum"}, HTTP_HOST=tenant_a.host, follow=True
    )
    assert "Choose one of the plans." in bad.content.decode() and plan_of(tenant_a) == "starter"


def test_a_second_paid_checkout_is_cancelled_not_charged_twice(tenant_a, stripe_on):
    first = checkout(tenant_a, stripe_on, "pro")
    second = checkout(tenant_a, stripe_on, "pro")  # another tab, before the first webhook
    for event in first:
        deliver(stripe_on, event)
    run_queued(stripe_on)
    current = BillingAccount.objects.get(tenant=tenant_a.tenant).stripe_subscription_id
    for event in second:
        deliver(stripe_on, event)
    run_queued(stripe_on)
    account = BillingAccount.objects.get(tenant=tenant_a.tenant)
    assert account.stripe_subscription_id == current and account.status == "active"
    statuses = sorted(s["status"] for s in stripe_on.subscriptions.values())
    assert statuses == ["active", "canceled"]
    # And with a subscription in force, the dashboard changes it in place, never a new checkout.
    owner = Client()
    owner.force_login(tenant_a.owner, host=tenant_a.host)
    response = owner.post(
        "/dashboard/billing/checkout", {"plan": "starter", "interval": "monthly"}, HTTP_HOST=tenant_a.host
    )
    assert response["Location"] == "/dashboard/billing/" and plan_of(tenant_a) == "starter"


def test_business_checkout_adds_the_metered_overage_price(tenant_a, stripe_on, settings):
    overage = stripe_on.add_price("price_overage", unit_amount=1, usage_type="metered", meter="mtr_1")["id"]
    settings.STRIPE_PRICES = {**settings.STRIPE_PRICES, "business_overage": overage}
    for event in checkout(tenant_a, stripe_on, "business"):
        deliver(stripe_on, event)
    run_queued(stripe_on)
    subscription = next(iter(stripe_on.subscriptions.values()))
    assert sorted(i["price"]["id"] for i in subscription["items"]["data"]) == ["price_business_m", overage]
    assert plan_of(tenant_a) == "business"
    # Down to Pro in place: the plan price changes, the metered item goes.
    owner = Client()
    owner.force_login(tenant_a.owner, host=tenant_a.host)
    owner.post("/dashboard/billing/checkout", {"plan": "pro", "interval": "monthly"}, HTTP_HOST=tenant_a.host)
    subscription = next(iter(stripe_on.subscriptions.values()))
    assert [i["price"]["id"] for i in subscription["items"]["data"]] == ["price_pro_m"]
    assert plan_of(tenant_a) == "pro"


def test_an_event_that_fails_for_another_reason_records_its_attempt(tenant_a, stripe_on, monkeypatch):
    events = checkout(tenant_a, stripe_on)
    for event in events:
        deliver(stripe_on, event)
    pk = stripe_on.queued[0]

    def broken(*args, **kwargs):
        raise KeyError("items")

    monkeypatch.setattr(stripe_events, "subscription_apply", broken)
    with pytest.raises(KeyError):
        subscriptions.stripe_event_process(pk)
    stored = StripeEvent.objects.get(pk=pk)
    assert stored.processed_at is None and stored.attempts == 1 and "KeyError" in stored.error
    monkeypatch.undo()


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
