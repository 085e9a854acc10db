"""The fake Stripe server (tests/fakes/stripe_server.py) driven by the REAL stripe SDK.

These pin down what the SDK makes of the fake's wire data, which is what our billing code will
see: object classes, error classes and their code/param/status, idempotent replays, retries,
webhook signatures. No database, no Django.
"""

from __future__ import annotations

import json
import time

import pytest
import requests
import stripe

from tests.fakes.stripe_server import FakeStripeServer, NoSleepRequestsClient, decode_form

SECRET = "whsec_test_secret"


@pytest.fixture(scope="module")
def server():
    with FakeStripeServer() as fake:
        yield fake


@pytest.fixture
def fake(server):
    server.reset()
    server.clock = time.time
    server.period_fields_at_top_level = True
    yield server
    server.reset()


@pytest.fixture
def client(fake) -> stripe.StripeClient:
    # Exactly how production code would be pointed at the fake.
    return stripe.StripeClient(
        api_key="sk_test_fake",
        base_addresses={"api": fake.url},
        http_client=stripe.RequestsClient(),
        max_network_retries=0,
    )


def _customer(client, **params):
    return client.v1.customers.create(params={"email": "owner@example.com", "name": "Owner", **params})


def _checkout(client, fake, customer_id, price="price_pro", **extra):
    if price == "price_pro" and price not in fake.prices:
        fake.add_price(price, unit_amount=2900)
    return client.v1.checkout.sessions.create(
        params={
            "mode": "subscription",
            "customer": customer_id,
            "client_reference_id": "tenant-a",
            "metadata": {"tenant": "tenant-a"},
            "line_items": [{"price": price, "quantity": 1}],
            "success_url": "https://app.example/billing/ok?session={CHECKOUT_SESSION_ID}",
            "cancel_url": "https://app.example/billing/cancel",
            "subscription_data": {"metadata": {"tenant": "tenant-a", "plan": "pro"}},
            "allow_promotion_codes": True,
            **extra,
        }
    )


def _subscribed(client, fake):
    customer = _customer(client)
    session = _checkout(client, fake, customer.id)
    events = fake.checkout_complete(session.id)
    return customer, events[0]["data"]["object"]["id"]


def test_form_decoding_matches_the_sdk_encoding():
    pairs = [
        ("line_items[0][price]", "p1"),
        ("line_items[0][quantity]", "2"),
        ("line_items[1][price]", "p2"),
        ("metadata[k]", ""),
        ("expand[]", "a"),
        ("expand[]", "b"),
        ("email", "x@example.com"),
    ]
    assert decode_form(pairs) == {
        "line_items": [{"price": "p1", "quantity": "2"}, {"price": "p2"}],
        "metadata": {"k": ""},
        "expand": ["a", "b"],
        "email": "x@example.com",
    }


def test_customer_create_is_idempotent_and_retrievable(client, fake):
    params = {"email": "owner@example.com", "name": "Owner", "metadata": {"tenant": "tenant-a"}}
    first = client.v1.customers.create(params=params, options={"idempotency_key": "cust-tenant-a"})
    second = client.v1.customers.create(params=params, options={"idempotency_key": "cust-tenant-a"})

    assert isinstance(first, stripe.Customer)
    assert first.id == second.id and first.id.startswith("cus_")
    assert len(fake.customers) == 1
    assert first.livemode is False and first.metadata["tenant"] == "tenant-a"
    assert second.last_response.headers["Idempotent-Replayed"] == "true"
    assert fake.requests[-1].idempotency_key == "cust-tenant-a"
    assert fake.requests[-1].stripe_version == stripe.api_version

    fetched = client.v1.customers.retrieve(first.id)
    assert (fetched.email, fetched.name) == ("owner@example.com", "Owner")

    with pytest.raises(stripe.IdempotencyError):
        client.v1.customers.create(
            params={"email": "other@example.com"}, options={"idempotency_key": "cust-tenant-a"}
        )


def test_checkout_complete_creates_subscription_invoice_and_events(client, fake):
    customer = _customer(client)
    session = _checkout(client, fake, customer.id)

    assert isinstance(session, stripe.checkout.Session)
    assert session.status == "open" and session.url.startswith(fake.url + "/pay/cs_test_")
    assert session.amount_total == 2900 and session.allow_promotion_codes is True
    sent = fake.requests[-1].params
    assert sent["line_items"] == [{"price": "price_pro", "quantity": "1"}]
    assert sent["subscription_data"] == {"metadata": {"tenant": "tenant-a", "plan": "pro"}}

    events = fake.checkout_complete(session.id)

    assert [e["type"] for e in events] == [
        "customer.subscription.created",
        "invoice.paid",
        "checkout.session.completed",
    ]
    assert all(e["object"] == "event" and e["livemode"] is False for e in events)
    assert all(e["api_version"] == stripe.api_version for e in events)
    completed = events[-1]["data"]["object"]
    sub_id = completed["subscription"]
    assert completed["status"] == "complete" and completed["client_reference_id"] == "tenant-a"
    assert completed["metadata"] == {"tenant": "tenant-a"}

    sub = client.v1.subscriptions.retrieve(sub_id, params={"expand": ["latest_invoice"]})
    assert isinstance(sub, stripe.Subscription)
    item = sub.items.data[0]  # StripeObject is not a dict in stripe 16: .items is the field
    assert (sub.status, sub.customer, item.price.id) == ("active", customer.id, "price_pro")
    assert sub.metadata.to_dict() == {"tenant": "tenant-a", "plan": "pro"}
    assert item.current_period_start <= time.time() < item.current_period_end
    assert sub.current_period_end == item.current_period_end
    assert isinstance(sub.latest_invoice, stripe.Invoice) and sub.latest_invoice.status == "paid"
    assert sub.latest_invoice.parent.subscription_details.subscription == sub_id

    again = client.v1.checkout.sessions.retrieve(session.id)
    assert (again.status, again.subscription, again.payment_status) == ("complete", sub_id, "paid")

    assert [e["id"] for e in fake.events] == [e["id"] for e in events]
    fetched = client.v1.events.retrieve(events[0]["id"])
    assert isinstance(fetched, stripe.Event) and fetched.type == "customer.subscription.created"
    assert fetched.data.object.id == sub_id
    with pytest.raises(ValueError):
        fake.checkout_complete(session.id)


def test_period_fields_only_on_items_like_current_api_versions(client, fake):
    fake.period_fields_at_top_level = False
    _, sub_id = _subscribed(client, fake)
    sub = client.v1.subscriptions.retrieve(sub_id)
    assert "current_period_end" not in sub
    assert sub.items.data[0].current_period_end > time.time()


def test_pay_page_completes_checkout_and_redirects(client, fake):
    session = _checkout(client, fake, _customer(client).id)
    cancelled = requests.get(session.url, params={"cancel": "1"}, allow_redirects=False, timeout=5)
    assert (
        cancelled.status_code == 303 and cancelled.headers["Location"] == "https://app.example/billing/cancel"
    )
    assert fake.checkout_sessions[session.id]["status"] == "open"

    paid = requests.get(session.url, allow_redirects=False, timeout=5)
    assert paid.status_code == 303
    assert paid.headers["Location"] == f"https://app.example/billing/ok?session={session.id}"
    assert fake.checkout_sessions[session.id]["status"] == "complete"
    assert fake.events[-1]["type"] == "checkout.session.completed"


def test_checkout_validation_errors(client, fake):
    fake.strict_prices = True
    try:
        with pytest.raises(stripe.InvalidRequestError) as missing_price:
            _checkout(client, fake, _customer(client).id, price="price_typo")
    finally:
        fake.strict_prices = False
    assert missing_price.value.code == "resource_missing"
    assert missing_price.value.param == "line_items[0][price]"

    with pytest.raises(stripe.InvalidRequestError) as missing_customer:
        _checkout(client, fake, "cus_nope")
    assert (missing_customer.value.http_status, missing_customer.value.param) == (400, "customer")

    with pytest.raises(stripe.InvalidRequestError) as unknown:
        # A RequestOptions key passed as a param is sent as one, and Stripe refuses it.
        _checkout(client, fake, _customer(client).id, idempotency_key="oops")
    assert (unknown.value.code, unknown.value.param) == ("parameter_unknown", "idempotency_key")


def test_billing_portal_session(client, fake):
    customer = _customer(client)
    portal = client.v1.billing_portal.sessions.create(
        params={"customer": customer.id, "return_url": "https://app.example/billing"}
    )
    assert isinstance(portal, stripe.billing_portal.Session)
    assert portal.object == "billing_portal.session" and portal.customer == customer.id
    assert portal.url.startswith(fake.url + "/portal/bps_")
    redirect = requests.get(portal.url, allow_redirects=False, timeout=5)
    assert redirect.status_code == 303 and redirect.headers["Location"] == "https://app.example/billing"


def test_subscription_update_and_cancel_through_the_api(client, fake):
    _, sub_id = _subscribed(client, fake)
    fake.add_price("price_team", unit_amount=9900)
    item_id = client.v1.subscriptions.retrieve(sub_id).items.data[0].id

    updated = client.v1.subscriptions.update(
        sub_id,
        params={
            "items": [{"id": item_id, "price": "price_team"}],
            "proration_behavior": "create_prorations",
            "cancel_at_period_end": True,
            "metadata": {"plan": "team"},
        },
    )
    assert updated.items.data[0].id == item_id and updated.items.data[0].price.id == "price_team"
    assert updated.cancel_at_period_end is True
    assert updated.cancel_at == updated.items.data[0].current_period_end
    assert updated.metadata.to_dict() == {"tenant": "tenant-a", "plan": "team"}
    event = fake.events[-1]
    assert event["type"] == "customer.subscription.updated"
    assert event["data"]["previous_attributes"]["cancel_at_period_end"] is False
    assert event["request"]["idempotency_key"] == fake.requests[-1].idempotency_key

    with pytest.raises(stripe.InvalidRequestError) as bad_item:
        client.v1.subscriptions.update(sub_id, params={"items": [{"id": "si_nope", "price": "price_team"}]})
    assert (bad_item.value.code, bad_item.value.param) == ("resource_missing", "items[0][id]")

    canceled = client.v1.subscriptions.cancel(sub_id)
    assert canceled.status == "canceled" and canceled.ended_at is not None
    assert fake.events[-1]["type"] == "customer.subscription.deleted"
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.subscriptions.update(sub_id, params={"items": [{"id": item_id, "price": "price_pro"}]})


def test_lifecycle_helpers_produce_stripe_events(client, fake):
    _, sub_id = _subscribed(client, fake)
    invoices_before = len(fake.invoices)

    failed = fake.invoice_payment_failed(sub_id)
    assert [e["type"] for e in failed] == ["invoice.payment_failed", "customer.subscription.updated"]
    assert failed[0]["data"]["object"]["status"] == "open"
    assert failed[1]["data"]["object"]["status"] == "past_due"
    assert failed[1]["data"]["previous_attributes"]["status"] == "active"
    assert client.v1.subscriptions.retrieve(sub_id).status == "past_due"

    paid = fake.invoice_pay(sub_id)
    assert [e["type"] for e in paid] == ["invoice.paid", "customer.subscription.updated"]
    assert paid[0]["data"]["object"]["id"] == failed[0]["data"]["object"]["id"]  # the same invoice, now paid
    assert paid[1]["data"]["object"]["status"] == "active"
    assert len(fake.invoices) == invoices_before + 1

    fake.add_price("price_team", unit_amount=9900)
    changed = fake.subscription_update(sub_id, price="price_team", status="past_due")
    assert changed["type"] == "customer.subscription.updated"
    assert changed["data"]["object"]["items"]["data"][0]["price"]["id"] == "price_team"
    assert set(changed["data"]["previous_attributes"]) == {"items", "status"}

    deleted = fake.subscription_delete(sub_id)
    assert deleted["type"] == "customer.subscription.deleted"
    assert deleted["data"]["object"]["status"] == "canceled"
    assert fake.events[-1]["id"] == deleted["id"]


def test_list_invoices(client, fake):
    customer, sub_id = _subscribed(client, fake)
    fake.invoice_pay(sub_id)  # a renewal: a second paid invoice for the next period

    page = client.v1.invoices.list(params={"customer": customer.id, "limit": 1})
    assert page.object == "list" and page.has_more is True and page.url == "/v1/invoices"
    newest = page.data[0]
    assert isinstance(newest, stripe.Invoice)
    assert newest.billing_reason == "subscription_cycle" and newest.number.endswith("-0002")
    assert (newest.status, newest.amount_due, newest.amount_paid) == ("paid", 2900, 2900)
    assert newest.currency == "usd"
    assert newest.hosted_invoice_url.startswith(fake.url) and newest.invoice_pdf.endswith("/pdf")
    assert newest.period_start < newest.period_end and newest.created

    every = list(client.v1.invoices.list(params={"customer": customer.id, "limit": 1}).auto_paging_iter())
    assert [inv.billing_reason for inv in every] == ["subscription_cycle", "subscription_create"]
    assert every[0].period_start == every[1].period_end
    assert client.v1.invoices.list(params={"customer": "cus_other"}).data == []
    pdf = requests.get(newest.invoice_pdf, timeout=5)
    assert pdf.headers["Content-Type"] == "application/pdf"


def test_meter_events_and_duplicate_identifier(client, fake):
    customer = _customer(client)
    params = {
        "event_name": "chat_messages",
        "payload": {"stripe_customer_id": customer.id, "value": "3"},
        "identifier": "tenant-a:2026-01-01T10",
        "timestamp": int(time.time()) - 60,
    }
    event = client.v1.billing.meter_events.create(params=params)
    assert isinstance(event, stripe.billing.MeterEvent)
    assert (event.identifier, event.payload["value"]) == ("tenant-a:2026-01-01T10", "3")
    assert event.livemode is False

    with pytest.raises(stripe.InvalidRequestError) as duplicate:
        client.v1.billing.meter_events.create(params=params)  # a fresh idempotency key, the same identifier
    error = duplicate.value
    assert (error.http_status, error.code, error.param) == (400, "resource_already_exists", "identifier")
    assert error.error.type == "invalid_request_error"
    assert "already exists" in error.user_message
    assert error.headers["Stripe-Should-Retry"] == "false"
    assert len(fake.meter_events) == 1

    without_identifier = client.v1.billing.meter_events.create(params={**params, "identifier": None})
    assert without_identifier.identifier and without_identifier.identifier != params["identifier"]

    with pytest.raises(stripe.InvalidRequestError) as stale:
        client.v1.billing.meter_events.create(
            params={**params, "identifier": "old", "timestamp": int(time.time()) - 40 * 86400}
        )
    assert stale.value.param == "timestamp"
    with pytest.raises(stripe.InvalidRequestError) as no_value:
        client.v1.billing.meter_events.create(params={**params, "identifier": "x", "payload": {"value": "1"}})
    assert no_value.value.param == "payload[stripe_customer_id]"
    assert len(fake.meter_events) == 2


def test_webhook_signature_verifies_with_the_sdk(client, fake):
    _, sub_id = _subscribed(client, fake)
    event = fake.events[-1]

    payload, header = fake.sign(event, SECRET)
    constructed = stripe.Webhook.construct_event(payload, header, SECRET)
    assert constructed.id == event["id"] and constructed.type == "checkout.session.completed"
    assert constructed.data.object.subscription == sub_id
    assert client.construct_event(payload, header, SECRET).id == event["id"]
    assert json.loads(payload) == event

    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload, header, "whsec_wrong")
    old_payload, old_header = fake.sign(event, SECRET, timestamp=int(time.time()) - 3600)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(old_payload, old_header, SECRET)


def test_unknown_ids_are_404_invalid_request_errors(client, fake):
    for call in (
        lambda: client.v1.subscriptions.retrieve("sub_missing"),
        lambda: client.v1.customers.retrieve("cus_missing"),
        lambda: client.v1.checkout.sessions.retrieve("cs_test_missing"),
        lambda: client.v1.events.retrieve("evt_missing"),
    ):
        with pytest.raises(stripe.InvalidRequestError) as missing:
            call()
        error = missing.value
        assert (error.http_status, error.code, error.param) == (404, "resource_missing", "id")
        assert "No such" in error.user_message


def test_authentication(fake):
    bad = stripe.StripeClient(api_key="pk_test_publishable", base_addresses={"api": fake.url})
    with pytest.raises(stripe.AuthenticationError):
        bad.v1.customers.create(params={"email": "a@example.com"})
    raw = requests.post(fake.url + "/v1/customers", data={"email": "a@example.com"}, timeout=5)
    assert raw.status_code == 401 and raw.json()["error"]["type"] == "invalid_request_error"
    assert fake.customers == {}


def test_transient_failures_are_retried_with_the_same_idempotency_key(fake):
    retrying = stripe.StripeClient(
        api_key="sk_test_fake",
        base_addresses={"api": fake.url},
        http_client=NoSleepRequestsClient(),  # the stock client sleeps >= 0.5 s per retry
        max_network_retries=2,
    )
    fake.fail_next("/v1/customers", status=500, times=2)
    customer = retrying.v1.customers.create(params={"email": "a@example.com"})
    keys = [r.idempotency_key for r in fake.requests]
    assert len(keys) == 3 and len(set(keys)) == 1
    assert list(fake.customers) == [customer.id]

    fake.fail_next("/v1/customers", status=503)
    with pytest.raises(stripe.APIError):
        fake.client(max_network_retries=0).v1.customers.create(params={"email": "b@example.com"})

    # Stripe ran it but the reply was lost: the retry gets the stored result, nothing runs twice.
    fake.fail_next("/v1/billing/meter_events", status=500, lose_response=True)
    event = retrying.v1.billing.meter_events.create(
        params={"event_name": "chat_messages", "payload": {"stripe_customer_id": customer.id, "value": "1"}}
    )
    assert event.last_response.headers["Idempotent-Replayed"] == "true"
    assert len(fake.meter_events) == 1


def test_trial_with_a_metered_item_and_customer_deletion(client, fake):
    fake.add_price("price_base", unit_amount=1000)
    fake.add_price("price_messages", usage_type="metered", meter="mtr_messages", unit_amount=2)
    session = client.v1.checkout.sessions.create(
        params={
            "mode": "subscription",
            "customer_email": "new@example.com",
            "line_items": [{"price": "price_base", "quantity": 1}, {"price": "price_messages"}],
            "success_url": "https://app.example/ok",
            "subscription_data": {"trial_period_days": 14},
        }
    )
    events = fake.checkout_complete(session.id)

    assert events[0]["type"] == "customer.created"  # no customer given: Checkout made one
    completed = events[-1]["data"]["object"]
    assert completed["payment_status"] == "no_payment_required"
    sub = client.v1.subscriptions.retrieve(completed["subscription"])
    assert sub.status == "trialing" and sub.trial_end - sub.trial_start == 14 * 86400
    assert [(i.price.id, i.quantity) for i in sub.items.data] == [("price_base", 1), ("price_messages", None)]
    assert sub.items.data[1].price.recurring.usage_type == "metered"

    renewal = fake.invoice_pay(sub.id)  # the trial ends and the first real period is paid
    assert renewal[0]["data"]["object"]["amount_due"] == 1000
    assert renewal[1]["data"]["previous_attributes"]["status"] == "trialing"

    deleted = client.v1.customers.delete(sub.customer)
    assert deleted.deleted is True and client.v1.customers.retrieve(sub.customer).deleted is True
    assert client.v1.subscriptions.retrieve(sub.id).status == "canceled"
    assert fake.events[-1]["type"] == "customer.subscription.deleted"
