"""billing.stripe_events: Stripe's subscription events applied in any order (the newest
state wins), a failed payment's grace period, the read-only workspace after it and the
recovery, and a cancellation back to Free."""

from __future__ import annotations

import random
from datetime import timedelta

from django.core import mail
from django.test import Client
from django.utils import timezone

from billing.models import BillingAccount
from billing.selectors import billing_restricted
from billing.services import billing_url
from tenants.models import Tenant
from tests.billing.scenarios import checkout, deliver, plan_of, run_queued
from tests.emails import assert_product_email


def test_updated_before_created_ends_in_the_right_state(tenant_a, stripe_on):
    events = checkout(tenant_a, stripe_on, "starter")
    subscription_id = next(iter(stripe_on.subscriptions))
    upgraded = stripe_on.subscription_update(subscription_id, price="price_business_m")
    created = next(e for e in events if e["type"] == "customer.subscription.created")
    # Stripe delivers in any order: the update first, then the creation (older state), then
    # the rest shuffled.
    rest = [e for e in events if e is not created]
    random.Random(3).shuffle(rest)
    for event in [upgraded, created, *rest]:
        deliver(stripe_on, event)
        run_queued(stripe_on)
    assert plan_of(tenant_a) == "business"
    assert BillingAccount.objects.get(tenant=tenant_a.tenant).status == "active"


def test_payment_failure_grace_restriction_and_recovery(
    tenant_a, stripe_on, settings, fake_widget_answer, django_capture_on_commit_callbacks
):
    settings.BILLING_GRACE_DAYS = 7
    for event in checkout(tenant_a, stripe_on, "pro"):
        deliver(stripe_on, event)
    run_queued(stripe_on)
    subscription_id = next(iter(stripe_on.subscriptions))
    owner = Client()
    owner.force_login(tenant_a.owner, host=tenant_a.host)

    mail.outbox.clear()
    for event in stripe_on.invoice_payment_failed(subscription_id):
        deliver(stripe_on, event)
    with django_capture_on_commit_callbacks(execute=True):
        run_queued(stripe_on)
    account = BillingAccount.objects.get(tenant=tenant_a.tenant)
    assert account.status == "past_due" and account.past_due_since is not None
    assert plan_of(tenant_a) == "pro" and not billing_restricted(tenant_a.tenant)  # grace
    assert [m.subject for m in mail.outbox] == [f"{tenant_a.tenant.name}: payment failed"]
    assert_product_email(mail.outbox[0], billing_url(tenant_a.tenant), "Update your card", "read-only")
    page = owner.get("/dashboard/billing/", HTTP_HOST=tenant_a.host).content.decode()
    assert "The last payment failed." in page and "Fix the payment" in page
    assert fake_widget_answer() != "OFFLINE TEXT"

    # The grace period ends: read-only dashboard (billing excepted), offline widget.
    BillingAccount.objects.filter(pk=account.pk).update(
        past_due_since=timezone.now() - timedelta(days=7, seconds=1)
    )
    assert billing_restricted(tenant_a.tenant)
    refused = owner.post("/dashboard/widgets/new", {"name": "X"}, HTTP_HOST=tenant_a.host)
    assert refused.status_code == 302 and refused["Location"] == "/dashboard/billing/"
    api = owner.post(
        "/dashboard/widgets/new", {"name": "X"}, HTTP_HOST=tenant_a.host, HTTP_ACCEPT="application/json"
    )
    assert api.status_code == 403 and api.json()["code"] == "billing_restricted"
    assert owner.get("/dashboard/widgets/", HTTP_HOST=tenant_a.host).status_code == 200  # reads stay
    page = owner.get("/dashboard/billing/", HTTP_HOST=tenant_a.host).content.decode()
    assert "This workspace is read-only." in page and "Update payment method" in page
    portal = owner.post("/dashboard/billing/portal", HTTP_HOST=tenant_a.host)  # billing still works
    assert portal.status_code == 302 and portal["Location"].startswith(stripe_on.url + "/portal/")
    assert fake_widget_answer() == "OFFLINE TEXT"
    assert Tenant.objects.filter(pk=tenant_a.tenant.pk, status="active").exists()  # never deleted

    # Paid: restored at once.
    for event in stripe_on.invoice_pay(subscription_id):
        deliver(stripe_on, event)
    run_queued(stripe_on)
    assert not billing_restricted(tenant_a.tenant)
    assert BillingAccount.objects.get(pk=account.pk).past_due_since is None
    assert owner.post("/dashboard/widgets/new", {"name": "X"}, HTTP_HOST=tenant_a.host)["Location"] != (
        "/dashboard/billing/"
    )
    assert fake_widget_answer() != "OFFLINE TEXT"


def test_cancellation_returns_to_free(tenant_a, stripe_on):
    for event in checkout(tenant_a, stripe_on, "pro"):
        deliver(stripe_on, event)
    run_queued(stripe_on)
    deliver(stripe_on, stripe_on.subscription_delete(next(iter(stripe_on.subscriptions))))
    run_queued(stripe_on)
    assert plan_of(tenant_a) == "free"
    assert BillingAccount.objects.get(tenant=tenant_a.tenant).status == "canceled"
