"""Billing through Stripe: the real stripe SDK against tests/fakes/stripe_server.py, webhooks
signed as Stripe signs them, and the demo billing path without keys."""

from __future__ import annotations

import json
import random
import threading
import time
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connections
from django.test import Client
from django.utils import timezone

from billing import stripe_events, subscriptions
from billing.models import BillingAccount, BillingAuditEvent, StripeEvent
from billing.selectors import billing_restricted
from tenants.models import Tenant
from tests.billing.conftest import SECRET
from tests.conftest import PUBLIC_HOST

WEBHOOK = "/billing/stripe/webhook"


@pytest.fixture
def fake_widget_answer(tenant_a):
    """Ask tenant A's widget a question as a visitor; the answer's text. The bot's text for
    when AI answers are unavailable is "OFFLINE TEXT"."""
    from tests.chat.visitors import make_visitor

    visitor = make_visitor(tenant_a)
    visitor.bot(unavailable_text="OFFLINE TEXT", provider="offline")
    sent = iter(range(1000))

    def ask() -> str:
        response = visitor.send(Client(), f"What are your opening hours? ({next(sent)})")
        assert response.status_code in (200, 201), response.content
        return response.json()["answer"]["message"]["text"]

    return ask


def deliver(server, event, *, secret=SECRET, timestamp=None, client=None):
    payload, header = server.sign(event, secret, timestamp)
    return (client or Client()).post(
        WEBHOOK, payload, content_type="application/json", HTTP_HOST=PUBLIC_HOST, HTTP_STRIPE_SIGNATURE=header
    )


def run_queued(server) -> None:
    while server.queued:
        subscriptions.stripe_event_process(server.queued.pop(0))


def checkout(tenant_a, server, plan="pro", interval="monthly") -> list[dict]:
    """The owner chooses a plan, pays on Stripe's page; the events Stripe sends."""
    owner = Client()
    owner.force_login(tenant_a.owner, host=tenant_a.host)
    response = owner.post(
        "/dashboard/billing/checkout", {"plan": plan, "interval": interval}, HTTP_HOST=tenant_a.host
    )
    assert response.status_code == 302 and response["Location"].startswith(server.url + "/pay/cs_")
    session_id = response["Location"].rsplit("/", 1)[1]
    session = server.checkout_sessions[session_id]
    assert session["client_reference_id"] == str(tenant_a.tenant.pk)
    assert session["metadata"] == {"tenant_id": str(tenant_a.tenant.pk), "plan": plan}
    return server.checkout_complete(session_id)


def plan_of(tenant_a) -> str:
    return Tenant.objects.get(pk=tenant_a.tenant.pk).plan


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
    assert "Current plan: Pro" in page and "Demo billing" not in page
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


@pytest.mark.parametrize(
    "tamper",
    ["missing", "wrong secret", "stale", "body changed", "not json"],
)
def test_bad_missing_or_stale_signatures_are_refused_and_change_nothing(tenant_a, stripe_on, tamper):
    event = checkout(tenant_a, stripe_on)[-1]
    payload, header = stripe_on.sign(event, SECRET)
    client = Client()
    if tamper == "missing":
        header = None
    elif tamper == "wrong secret":
        payload, header = stripe_on.sign(event, "whsec_other")
    elif tamper == "stale":
        payload, header = stripe_on.sign(event, SECRET, timestamp=int(time.time()) - 301)
    elif tamper == "body changed":
        payload = payload.replace(b'"checkout.session.completed"', b'"invoice.paid"')
    elif tamper == "not json":
        payload, header = b"not json", stripe_on.sign(event, SECRET)[1]
    extra = {"HTTP_STRIPE_SIGNATURE": header} if header else {}
    response = client.post(WEBHOOK, payload, content_type="application/json", HTTP_HOST=PUBLIC_HOST, **extra)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "invalid_signature"
    assert not StripeEvent.objects.exists() and stripe_on.queued == []
    assert plan_of(tenant_a) == "free"


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


def test_the_address_stripe_endpoints_were_registered_with_still_delivers(tenant_a, stripe_on):
    """Webhook paths lost their trailing slash (docs/architecture.md, URLs); endpoints
    registered in Stripe before that still deliver, and the same event is stored once."""
    event = checkout(tenant_a, stripe_on)[-1]
    payload, header = stripe_on.sign(event, SECRET)
    for path in (WEBHOOK + "/", WEBHOOK):
        response = Client().post(
            path,
            payload,
            content_type="application/json",
            HTTP_HOST=PUBLIC_HOST,
            HTTP_STRIPE_SIGNATURE=header,
        )
        assert response.status_code == 200, path
    assert StripeEvent.objects.filter(event_id=event["id"]).count() == 1


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
    assert "Demo billing." in page and "Current plan: Free" in page
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


def test_agents_cannot_open_billing(tenant_a):
    from tenants.models import Membership, User

    agent = User.objects.create_user(email="agent-billing@example.com", password="agent-password-1")
    Membership.objects.create(tenant=tenant_a.tenant, user=agent, role=Membership.Role.AGENT)
    client = Client()
    client.force_login(agent, host=tenant_a.host)
    assert client.get("/dashboard/billing/", HTTP_HOST=tenant_a.host).status_code == 403
    assert (
        client.post("/dashboard/billing/checkout", {"plan": "pro"}, HTTP_HOST=tenant_a.host).status_code
        == 403
    )


def test_event_payload_is_stored_as_received(tenant_a, stripe_on):
    event = checkout(tenant_a, stripe_on)[-1]
    deliver(stripe_on, event)
    stored = StripeEvent.objects.get(event_id=event["id"])
    assert stored.payload == json.loads(json.dumps(event)) and stored.type == event["type"]


@pytest.mark.parametrize(
    "headers",
    [{"HTTP_STRIPE_SIGNATURE": "t=1,v1=é"}, {"CONTENT_LENGTH": "abc"}, {"CONTENT_LENGTH": str(10**9)}],
)
def test_malformed_webhook_requests_get_problem_details_not_500(db, stripe_on, headers):
    response = Client().post(
        WEBHOOK,
        b'{"id": "evt_1", "object": "event"}',
        content_type="application/json",
        HTTP_HOST=PUBLIC_HOST,
        **headers,
    )
    assert response.status_code in (400, 413) and response["Content-Type"] == "application/problem+json"
    assert not StripeEvent.objects.exists()


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


def test_billing_page_shows_usage_per_quota_and_answers_per_day(tenant_a, settings):
    from billing.services import answer_credit_take

    settings.STRIPE_SECRET_KEY = ""
    for _ in range(3):
        answer_credit_take(tenant_a.tenant, own_key=False)
    owner = Client()
    owner.force_login(tenant_a.owner, host=tenant_a.host)
    response = owner.get("/dashboard/billing/", HTTP_HOST=tenant_a.host)
    uses = {use.quota: (use.used, use.limit, use.percent) for use in response.context["uses"]}
    assert uses["widgets"] == (1, 1, 100)
    assert uses["ai_answers"] == (3, 100, 3)
    assert uses["seats"] == (1, 1, 100)
    today = timezone.now().date()
    assert response.context["days"][-1] == (today, 3, 100)  # today's bar is the tallest
    page = response.content.decode()
    assert 'data-quota="ai_answers"' in page and "3%" in page
    assert f"{today:%b} {today.day}: 3" in page
