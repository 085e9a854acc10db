"""chat.widget_api.sessions: visitor sessions (started, renewed), the prechat form and
identify, through the public widget API."""

from __future__ import annotations

import pytest
from django.core import signing
from django_tenants.utils import tenant_context

from chat.models import Contact
from chat.visitor_tokens import SALT
from chat.widget_api import identity_hash
from tests.chat.widget_api.api_calls import (
    GOOD,
    ORIGIN,
    conversations_get,
    identify,
    messages_url,
    published_widget,
    session_start,
    widget_post,
)
from tests.hosts import PUBLIC_HOST
from widget_builder.models import Widget
from widget_builder.services import widget_publish

pytestmark = pytest.mark.django_db


def test_session_then_prechat_stores_the_contact(client, tenant_a):
    widget = published_widget(tenant_a, consent="I agree to be contacted.")
    session = session_start(client, widget)
    assert session["prechat_required"] is True and session["token"] not in session["visitor_id"]

    response = widget_post(
        client,
        widget,
        "prechat",
        {"answers": GOOD, "consent": True, "elapsed_ms": 9000},
        token=session["token"],
    )
    assert response.status_code == 201, response.content
    with tenant_context(tenant_a.tenant):
        contact = Contact.objects.get(public_id=session["visitor_id"])
    assert (contact.name, contact.email, contact.phone, contact.country) == (
        "Ada",
        "ada@example.com",
        "+49301234567",
        "DE",
    )
    assert contact.answers == {"message": "Do you ship to Berlin?", "plan": "Pro", "newsletter": True}
    assert contact.page_url == "https://customer.example/pricing" and contact.locale == "de"
    assert contact.user_agent == "Mozilla/5.0 test"
    assert (
        contact.consent_given_at
        and contact.consent_text == "I agree to be contacted."
        and contact.consent_version == 2
    )
    assert contact.flagged_as_bot is False


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"email": "not-an-email"}, "email", "invalid_email"),
        ({"email": ""}, "email", "required"),
        ({"phone": "030 1234567"}, "phone", "invalid_phone"),
        ({"country": "XX"}, "country", "invalid_country"),
        ({"plan": "Enterprise"}, "plan", "invalid_choice"),
        ({"name": "x" * 500}, "name", "too_long"),
        ({"favourite_colour": "blue"}, "__all__", "unknown_field"),
    ],
)
def test_prechat_validation_errors_per_field(client, tenant_a, change, field, code):
    widget = published_widget(tenant_a)
    session = session_start(client, widget)
    response = widget_post(
        client, widget, "prechat", {"answers": {**GOOD, **change}, "elapsed_ms": 9000}, token=session["token"]
    )
    assert response.status_code == 422 and response["Content-Type"] == "application/problem+json"
    assert response.json()["errors"][field][0]["code"] == code
    with tenant_context(tenant_a.tenant):
        assert Contact.objects.get(public_id=session["visitor_id"]).prechat_submitted_at is None


def test_consent_is_required_when_the_form_has_it(client, tenant_a):
    widget = published_widget(tenant_a, consent="I agree.")
    session = session_start(client, widget)
    response = widget_post(
        client, widget, "prechat", {"answers": GOOD, "elapsed_ms": 9000}, token=session["token"]
    )
    assert response.status_code == 422 and response.json()["errors"]["consent"][0]["code"] == "required"


@pytest.mark.parametrize("bot", [{"website": "http://spam.example", "elapsed_ms": 9000}, {"elapsed_ms": 200}])
def test_bots_are_flagged_without_telling_them(client, tenant_a, bot):
    widget = published_widget(tenant_a)
    session = session_start(client, widget)
    response = widget_post(client, widget, "prechat", {"answers": GOOD, **bot}, token=session["token"])
    assert response.status_code == 201 and "bot" not in response.content.decode()
    with tenant_context(tenant_a.tenant):
        assert Contact.objects.get(public_id=session["visitor_id"]).flagged_as_bot


def test_tokens_tampered_foreign_expired_or_in_urls_are_refused(client, tenant_a, tenant_b, monkeypatch):
    widget_a, widget_b = published_widget(tenant_a), published_widget(tenant_b)
    token_a = session_start(client, widget_a)["token"]
    for token in (token_a[:-2] + "xx", "garbage", ""):
        response = widget_post(client, widget_a, "session/renew", token=token)
        assert response.status_code == 401 and response.json()["code"] == "visitor_token_invalid"
    on_b = widget_post(client, widget_b, "session/renew", token=token_a)
    assert on_b.status_code == 401 and on_b.json()["code"] == "visitor_token_invalid"
    in_url = client.post(
        f"/api/widget/v1/{widget_a.key}/session/renew?token={token_a}",
        HTTP_HOST=PUBLIC_HOST,
        HTTP_ORIGIN=ORIGIN,
    )
    assert in_url.status_code == 401

    real_loads = signing.loads
    monkeypatch.setattr(signing, "loads", lambda *a, **k: real_loads(*a, **{**k, "max_age": -1}))
    expired = widget_post(client, widget_a, "session/renew", token=token_a)
    assert expired.status_code == 401 and expired.json()["code"] == "visitor_token_expired"


def test_renewal_keeps_the_same_visitor(client, tenant_a):
    widget = published_widget(tenant_a)
    session = session_start(client, widget)
    renewed = widget_post(client, widget, "session/renew", token=session["token"])
    assert renewed.status_code == 200 and renewed.json()["visitor_id"] == session["visitor_id"]
    assert signing.loads(renewed.json()["token"], salt=SALT)["c"] == session["visitor_id"]


def test_prechat_on_a_widget_without_a_form_is_a_conflict(client, tenant_a):
    widget = published_widget(tenant_a, prechat=False)
    with tenant_context(tenant_a.tenant):
        Widget.objects.filter(pk=widget.pk).update(prechat_enabled=False)
        widget_publish(widget=Widget.objects.get(pk=widget.pk))
    session = session_start(client, widget)
    response = widget_post(client, widget, "prechat", {"answers": {}}, token=session["token"])
    assert response.status_code == 409 and response.json()["code"] == "prechat_disabled"


def test_verified_identify_continues_the_known_visitor(client, known_user):
    widget, contact, conversation = known_user
    other_device = session_start(client, widget)
    response = identify(
        client,
        widget,
        other_device["token"],
        id="u-1",
        user_hash=identity_hash(widget.identity_secret, "u-1").upper(),
    )
    assert response.status_code == 200 and response.json()["visitor_id"] == str(contact.public_id)
    listed = conversations_get(client, widget, response.json()["token"]).json()["conversations"]
    assert [c["id"] for c in listed] == [conversation.pk]


def test_unsigned_identify_never_joins_someone_elses_history(client, known_user):
    widget, contact, _ = known_user
    impostor = session_start(client, widget)
    response = identify(client, widget, impostor["token"], id="u-1")
    assert response.status_code == 200 and response.json()["verified"] is False
    assert response.json()["visitor_id"] == impostor["visitor_id"] != str(contact.public_id)
    assert conversations_get(client, widget, response.json()["token"]).json()["conversations"] == []


def test_wrong_hash_or_missing_hash_when_enforced_is_refused(client, known_user, tenant_a):
    widget, contact, _ = known_user
    visitor = session_start(client, widget)
    wrong = identify(client, widget, visitor["token"], id="u-1", user_hash="0" * 64)
    assert wrong.status_code == 401 and wrong.json()["code"] == "identity_invalid"
    assert str(contact.public_id) not in wrong.content.decode()
    with tenant_context(tenant_a.tenant):
        Widget.objects.filter(pk=widget.pk).update(identity_enforced=True)
    unsigned = identify(client, widget, visitor["token"], id="u-1")
    assert unsigned.status_code == 401 and unsigned.json()["code"] == "identity_invalid"


def test_session_follows_the_published_form_not_the_draft(client, tenant_a):
    widget = published_widget(tenant_a)  # published with prechat on
    with tenant_context(tenant_a.tenant):
        Widget.objects.filter(pk=widget.pk).update(prechat_enabled=False)  # draft only
    assert session_start(client, widget)["prechat_required"] is True


def test_odd_input_is_refused_cleanly(client, tenant_a, known_user):
    widget, _, conversation = known_user
    visitor = session_start(client, widget)
    assert identify(client, widget, visitor["token"], id="u-1", user_hash="é" * 64).status_code == 401
    ok = client.get(
        messages_url(widget, conversation.pk) + "?after=²",
        HTTP_HOST=PUBLIC_HOST,
        HTTP_ORIGIN=ORIGIN,
        HTTP_AUTHORIZATION=f"Bearer {visitor['token']}",
    )
    assert ok.status_code == 404  # not this visitor's conversation, and no 500

    form_widget = published_widget(tenant_a)
    session = session_start(client, form_widget)
    bad = widget_post(
        client,
        form_widget,
        "prechat",
        {"answers": {**GOOD, "name": "Ada\u0000"}, "elapsed_ms": 9000},
        token=session["token"],
    )
    assert bad.status_code == 422 and bad.json()["errors"]["name"][0]["code"] == "invalid"


def test_preflight_still_answers_when_the_widget_is_offline(client, tenant_a):
    widget = published_widget(tenant_a, prechat=False)
    with tenant_context(tenant_a.tenant):
        Widget.objects.filter(pk=widget.pk).update(is_enabled=False)
    response = client.options(
        f"/api/widget/v1/{widget.key}/session", HTTP_HOST=PUBLIC_HOST, HTTP_ORIGIN=ORIGIN
    )
    assert response.status_code == 204 and response["Access-Control-Allow-Origin"] == ORIGIN
    assert widget_post(client, widget, "session").json()["code"] == "widget_unavailable"


def test_an_unsigned_identify_does_not_replace_the_prechat_address(client, visitor):
    client.post(
        f"/api/widget/v1/{visitor.widget.key}/identify",
        {"id": "x", "email": "victim@example.org"},
        content_type="application/json",
        **visitor.headers(),
    )
    with tenant_context(visitor.tenant):
        visitor.contact.refresh_from_db()
    assert visitor.contact.email == "ada@example.com"
