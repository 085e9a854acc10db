"""billing.views: the Stripe webhook (signature on the raw body, the event stored as
received, once, before any work; malformed requests answered as problem details) and the
billing page (owners only, usage per quota and answers per day)."""

from __future__ import annotations

import json
import time

import pytest
import stripe
from django.test import Client
from django.utils import timezone

from billing.models import StripeEvent
from billing.services import answer_credit_take
from tests.billing.scenarios import SECRET, WEBHOOK, checkout, deliver, plan_of
from tests.hosts import PUBLIC_HOST
from tests.tenants.factories import MembershipFactory


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


def test_agents_cannot_open_billing(tenant_a):
    agent = MembershipFactory(tenant=tenant_a.tenant, role="agent").user
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


def test_a_signed_body_nested_too_deep_is_refused_not_500(db, stripe_on):
    payload = '{"id": "evt_1", "object": "event", "data": ' + "[" * 5000 + "]" * 5000 + "}"
    header = stripe.WebhookSignature.generate_signature_header(payload, SECRET)
    response = Client().post(
        WEBHOOK,
        payload.encode(),
        content_type="application/json",
        HTTP_HOST=PUBLIC_HOST,
        HTTP_STRIPE_SIGNATURE=header,
    )
    assert response.status_code == 400 and response["Content-Type"] == "application/problem+json"
    assert not StripeEvent.objects.exists()


def test_billing_page_shows_usage_per_quota_and_answers_per_day(tenant_a, settings):

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
    chart = response.context["usage_chart"].chart
    last = chart.bars[-1]
    assert (last.day, last.value) == (today, 3) and chart.peak == 3  # today's bar is the tallest
    assert last.y == chart.top + chart.plot_height * (1 - 3 / 4)  # on a 0-4 axis
    page = response.content.decode()
    assert 'data-quota="ai_answers"' in page and "3% used" in page
    assert '<progress value="3" max="100"' in page
    label = f"{today.day} {today:%b}: 3 AI answers"
    # the value on hover (title) and for keyboards (a focusable column with its label)
    assert f'tabindex="0" role="img" aria-label="{label}"><title>{label}</title>' in page
    # the pace that uses the 100 answers of the Free plan over the period (a dashed line)
    pace = response.context["usage_chart"].pace
    assert 100 / 31 <= pace <= 100 / 28 and 'class="limit"' in page
    assert f"Pace that uses the whole quota: {pace:,.1f} a day" in page
