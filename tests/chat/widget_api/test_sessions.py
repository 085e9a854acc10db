"""Visitor sessions and the prechat form through the public widget API."""

from __future__ import annotations

import pytest
from django.core import signing
from django_tenants.utils import tenant_context

from chat.models import Contact
from chat.visitor_tokens import SALT
from tests.conftest import PUBLIC_HOST
from widget_builder.models import Widget
from widget_builder.services import widget_prechat_set, widget_publish

pytestmark = pytest.mark.django_db
ORIGIN = "https://customer.example"

FIELDS = [
    {"kind": "name", "label": "Name", "required": True},
    {"kind": "email", "label": "Email", "required": True},
    {"kind": "phone", "label": "Phone"},
    {"kind": "country", "label": "Country"},
    {"kind": "message", "label": "How can we help?"},
    {"key": "plan", "kind": "select", "label": "Plan", "options": ["Free", "Pro"], "required": True},
    {"key": "newsletter", "kind": "checkbox", "label": "Newsletter"},
]


def _widget(seeded_tenant, *, prechat: bool = True, consent: str = "") -> Widget:
    with tenant_context(seeded_tenant.tenant):
        widget = Widget.objects.order_by("id").first()
        if prechat:
            widget_prechat_set(
                widget=widget,
                enabled=True,
                fields=FIELDS,
                consent_text=consent,
                consent_url="https://customer.example/privacy",
            )
        return widget_publish(widget=widget)


def _post(client, widget, path, body=None, token=None, **extra):
    headers = {"HTTP_HOST": PUBLIC_HOST, "HTTP_ORIGIN": ORIGIN, **extra}
    if token:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client.post(
        f"/api/widget/v1/{widget.key}/{path}", body or {}, content_type="application/json", **headers
    )


def _session(client, widget) -> dict:
    response = _post(
        client,
        widget,
        "session",
        {"page_url": "https://customer.example/pricing", "locale": "de"},
        HTTP_USER_AGENT="Mozilla/5.0 test",
    )
    assert response.status_code == 201, response.content
    return response.json()


GOOD = {
    "name": "Ada",
    "email": "Ada@Example.com",
    "phone": "+49 30 1234567",
    "country": "de",
    "message": "Do you ship to Berlin?",
    "plan": "Pro",
    "newsletter": True,
}


def test_session_then_prechat_stores_the_contact(client, tenant_a):
    widget = _widget(tenant_a, consent="I agree to be contacted.")
    session = _session(client, widget)
    assert session["prechat_required"] is True and session["token"] not in session["visitor_id"]

    response = _post(
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
    widget = _widget(tenant_a)
    session = _session(client, widget)
    response = _post(
        client, widget, "prechat", {"answers": {**GOOD, **change}, "elapsed_ms": 9000}, token=session["token"]
    )
    assert response.status_code == 422 and response["Content-Type"] == "application/problem+json"
    assert response.json()["errors"][field][0]["code"] == code
    with tenant_context(tenant_a.tenant):
        assert Contact.objects.get(public_id=session["visitor_id"]).prechat_submitted_at is None


def test_consent_is_required_when_the_form_has_it(client, tenant_a):
    widget = _widget(tenant_a, consent="I agree.")
    session = _session(client, widget)
    response = _post(client, widget, "prechat", {"answers": GOOD, "elapsed_ms": 9000}, token=session["token"])
    assert response.status_code == 422 and response.json()["errors"]["consent"][0]["code"] == "required"


@pytest.mark.parametrize("bot", [{"website": "http://spam.example", "elapsed_ms": 9000}, {"elapsed_ms": 200}])
def test_bots_are_flagged_without_telling_them(client, tenant_a, bot):
    widget = _widget(tenant_a)
    session = _session(client, widget)
    response = _post(client, widget, "prechat", {"answers": GOOD, **bot}, token=session["token"])
    assert response.status_code == 201 and "bot" not in response.content.decode()
    with tenant_context(tenant_a.tenant):
        assert Contact.objects.get(public_id=session["visitor_id"]).flagged_as_bot


def test_tokens_tampered_foreign_expired_or_in_urls_are_refused(client, tenant_a, tenant_b, monkeypatch):
    widget_a, widget_b = _widget(tenant_a), _widget(tenant_b)
    token_a = _session(client, widget_a)["token"]
    for token in (token_a[:-2] + "xx", "garbage", ""):
        response = _post(client, widget_a, "session/renew", token=token)
        assert response.status_code == 401 and response.json()["code"] == "visitor_token_invalid"
    on_b = _post(client, widget_b, "session/renew", token=token_a)
    assert on_b.status_code == 401 and on_b.json()["code"] == "visitor_token_invalid"
    in_url = client.post(
        f"/api/widget/v1/{widget_a.key}/session/renew?token={token_a}",
        HTTP_HOST=PUBLIC_HOST,
        HTTP_ORIGIN=ORIGIN,
    )
    assert in_url.status_code == 401

    real_loads = signing.loads
    monkeypatch.setattr(signing, "loads", lambda *a, **k: real_loads(*a, **{**k, "max_age": -1}))
    expired = _post(client, widget_a, "session/renew", token=token_a)
    assert expired.status_code == 401 and expired.json()["code"] == "visitor_token_expired"


def test_renewal_keeps_the_same_visitor(client, tenant_a):
    widget = _widget(tenant_a)
    session = _session(client, widget)
    renewed = _post(client, widget, "session/renew", token=session["token"])
    assert renewed.status_code == 200 and renewed.json()["visitor_id"] == session["visitor_id"]
    assert signing.loads(renewed.json()["token"], salt=SALT)["c"] == session["visitor_id"]


def test_sessions_per_ip_are_limited(client, tenant_a, settings):
    settings.WIDGET_RATE_LIMITS = {**settings.WIDGET_RATE_LIMITS, "sessions_per_ip_per_hour": 3}
    widget = _widget(tenant_a, prechat=False)
    statuses = [_post(client, widget, "session").status_code for _ in range(4)]
    assert statuses == [201, 201, 201, 429]


def test_prechat_on_a_widget_without_a_form_is_a_conflict(client, tenant_a):
    widget = _widget(tenant_a, prechat=False)
    with tenant_context(tenant_a.tenant):
        Widget.objects.filter(pk=widget.pk).update(prechat_enabled=False)
        widget_publish(widget=Widget.objects.get(pk=widget.pk))
    session = _session(client, widget)
    response = _post(client, widget, "prechat", {"answers": {}}, token=session["token"])
    assert response.status_code == 409 and response.json()["code"] == "prechat_disabled"


def test_bad_form_definitions_are_refused_per_field(tenant_a):
    from saas.errors import ValidationFailed

    with tenant_context(tenant_a.tenant), pytest.raises(ValidationFailed) as info:
        widget = Widget.objects.order_by("id").first()
        widget_prechat_set(
            widget=widget,
            enabled=True,
            fields=[
                {"kind": "email", "label": "Email"},
                {"kind": "teleport", "label": "?"},
                {"key": "plan", "kind": "select", "label": "Plan", "options": []},
                {"kind": "email", "label": "Email again"},
            ],
        )
    assert set(info.value.errors) == {"prechat_fields.1", "prechat_fields.2", "prechat_fields.3"}


def _identify(client, widget, token, **body):
    return _post(client, widget, "identify", body, token=token)


def _conversations(client, widget, token):
    return client.get(
        f"/api/widget/v1/{widget.key}/conversations",
        HTTP_HOST=PUBLIC_HOST,
        HTTP_ORIGIN=ORIGIN,
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


@pytest.fixture
def known_user(client, tenant_a):
    """A visitor already identified (verified) as customer user 'u-1', with a conversation."""
    from chat.models import Conversation
    from chat.widget_api import identity_hash

    widget = _widget(tenant_a, prechat=False)
    first = _session(client, widget)
    response = _identify(
        client,
        widget,
        first["token"],
        id="u-1",
        email="Known@Example.com",
        user_hash=identity_hash(widget.identity_secret, "u-1"),
    )
    assert response.status_code == 200 and response.json()["verified"] is True
    with tenant_context(tenant_a.tenant):
        contact = Contact.objects.get(public_id=first["visitor_id"])
        conversation = Conversation.objects.create(widget=widget, contact=contact)
    return widget, contact, conversation


def test_verified_identify_continues_the_known_visitor(client, known_user):
    from chat.widget_api import identity_hash

    widget, contact, conversation = known_user
    other_device = _session(client, widget)
    response = _identify(
        client,
        widget,
        other_device["token"],
        id="u-1",
        user_hash=identity_hash(widget.identity_secret, "u-1").upper(),
    )
    assert response.status_code == 200 and response.json()["visitor_id"] == str(contact.public_id)
    listed = _conversations(client, widget, response.json()["token"]).json()["conversations"]
    assert [c["id"] for c in listed] == [conversation.pk]


def test_unsigned_identify_never_joins_someone_elses_history(client, known_user):
    widget, contact, _ = known_user
    impostor = _session(client, widget)
    response = _identify(client, widget, impostor["token"], id="u-1")
    assert response.status_code == 200 and response.json()["verified"] is False
    assert response.json()["visitor_id"] == impostor["visitor_id"] != str(contact.public_id)
    assert _conversations(client, widget, response.json()["token"]).json()["conversations"] == []


def test_wrong_hash_or_missing_hash_when_enforced_is_refused(client, known_user, tenant_a):
    widget, contact, _ = known_user
    visitor = _session(client, widget)
    wrong = _identify(client, widget, visitor["token"], id="u-1", user_hash="0" * 64)
    assert wrong.status_code == 401 and wrong.json()["code"] == "identity_invalid"
    assert str(contact.public_id) not in wrong.content.decode()
    with tenant_context(tenant_a.tenant):
        Widget.objects.filter(pk=widget.pk).update(identity_enforced=True)
    unsigned = _identify(client, widget, visitor["token"], id="u-1")
    assert unsigned.status_code == 401 and unsigned.json()["code"] == "identity_invalid"


def test_conversations_are_the_visitors_own(client, known_user):
    widget, _, _ = known_user
    stranger = _session(client, widget)
    assert _conversations(client, widget, stranger["token"]).json()["conversations"] == []
    assert _conversations(client, widget, "forged").status_code == 401


def test_calls_per_visitor_are_limited(client, tenant_a, settings):
    settings.WIDGET_RATE_LIMITS = {**settings.WIDGET_RATE_LIMITS, "visitor_per_minute": 3}
    widget = _widget(tenant_a, prechat=False)
    token = _session(client, widget)["token"]
    statuses = [_conversations(client, widget, token).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    other = _session(client, widget)["token"]  # another visitor is not affected
    assert _conversations(client, widget, other).status_code == 200


def _messages_url(widget, conversation_id):
    return f"/api/widget/v1/{widget.key}/conversations/{conversation_id}/messages"


def _send(client, widget, token, conversation_id, **body):
    return client.post(
        _messages_url(widget, conversation_id),
        body,
        content_type="application/json",
        HTTP_HOST=PUBLIC_HOST,
        HTTP_ORIGIN=ORIGIN,
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def _started(client, tenant):
    widget = _widget(tenant, prechat=False)
    token = _session(client, widget)["token"]
    conversation = client.post(
        f"/api/widget/v1/{widget.key}/conversations",
        {},
        content_type="application/json",
        HTTP_HOST=PUBLIC_HOST,
        HTTP_ORIGIN=ORIGIN,
        HTTP_AUTHORIZATION=f"Bearer {token}",
    ).json()
    return widget, token, conversation["id"]


def test_messages_are_numbered_and_listed_after_a_sequence(client, tenant_a):
    widget, token, conversation_id = _started(client, tenant_a)
    sent = [_send(client, widget, token, conversation_id, text=f"hello {i}").json() for i in range(3)]
    # Each visitor message is followed by the bot's answer.
    assert [m["seq"] for m in sent] == [1, 3, 5] and [m["answer"]["message"]["seq"] for m in sent] == [
        2,
        4,
        6,
    ]
    listed = client.get(
        _messages_url(widget, conversation_id) + "?after=2",
        HTTP_HOST=PUBLIC_HOST,
        HTTP_ORIGIN=ORIGIN,
        HTTP_AUTHORIZATION=f"Bearer {token}",
    ).json()
    assert [m["seq"] for m in listed["messages"]] == [3, 4, 5, 6] and listed["last_seq"] == 6
    assert listed["messages"][0]["role"] == "visitor" and listed["messages"][0]["text"] == "hello 1"
    assert listed["messages"][1]["role"] == "bot" and listed["awaiting_answer_after"] is None


def test_the_same_client_message_id_stores_one_message(client, tenant_a):
    from chat.models import Message

    widget, token, conversation_id = _started(client, tenant_a)
    first = _send(client, widget, token, conversation_id, text="Where is my order?", client_message_id="c-1")
    again = _send(client, widget, token, conversation_id, text="Where is my order?", client_message_id="c-1")
    assert first.status_code == 201 and again.status_code == 200 and first.json() == again.json()
    changed = _send(client, widget, token, conversation_id, text="Something else", client_message_id="c-1")
    assert changed.status_code == 422 and changed.json()["code"] == "client_message_id_reused"
    with tenant_context(tenant_a.tenant):
        # One visitor message and its one answer, however often it was sent.
        roles = list(Message.objects.filter(conversation_id=conversation_id).values_list("role", flat=True))
        assert sorted(roles) == ["bot", "visitor"]


def test_bad_messages_and_foreign_conversations(client, tenant_a):
    widget, token, conversation_id = _started(client, tenant_a)
    assert (
        _send(client, widget, token, conversation_id, text="   ").json()["errors"]["text"][0]["code"]
        == "required"
    )
    assert (
        _send(client, widget, token, conversation_id, text="x" * 5000).json()["errors"]["text"][0]["code"]
        == "too_long"
    )
    stranger = _session(client, widget)["token"]
    assert _send(client, widget, stranger, conversation_id, text="hi").status_code == 404
    assert (
        client.get(
            _messages_url(widget, conversation_id),
            HTTP_HOST=PUBLIC_HOST,
            HTTP_ORIGIN=ORIGIN,
            HTTP_AUTHORIZATION=f"Bearer {stranger}",
        ).status_code
        == 404
    )


def test_session_follows_the_published_form_not_the_draft(client, tenant_a):
    widget = _widget(tenant_a)  # published with prechat on
    with tenant_context(tenant_a.tenant):
        Widget.objects.filter(pk=widget.pk).update(prechat_enabled=False)  # draft only
    assert _session(client, widget)["prechat_required"] is True


def test_odd_input_is_refused_cleanly(client, tenant_a, known_user):
    widget, _, conversation = known_user
    visitor = _session(client, widget)
    assert _identify(client, widget, visitor["token"], id="u-1", user_hash="é" * 64).status_code == 401
    ok = client.get(
        _messages_url(widget, conversation.pk) + "?after=²",
        HTTP_HOST=PUBLIC_HOST,
        HTTP_ORIGIN=ORIGIN,
        HTTP_AUTHORIZATION=f"Bearer {visitor['token']}",
    )
    assert ok.status_code == 404  # not this visitor's conversation, and no 500

    form_widget = _widget(tenant_a)
    session = _session(client, form_widget)
    bad = _post(
        client,
        form_widget,
        "prechat",
        {"answers": {**GOOD, "name": "Ada\u0000"}, "elapsed_ms": 9000},
        token=session["token"],
    )
    assert bad.status_code == 422 and bad.json()["errors"]["name"][0]["code"] == "invalid"


def test_preflight_still_answers_when_the_widget_is_offline(client, tenant_a):
    widget = _widget(tenant_a, prechat=False)
    with tenant_context(tenant_a.tenant):
        Widget.objects.filter(pk=widget.pk).update(is_enabled=False)
    response = client.options(
        f"/api/widget/v1/{widget.key}/session", HTTP_HOST=PUBLIC_HOST, HTTP_ORIGIN=ORIGIN
    )
    assert response.status_code == 204 and response["Access-Control-Allow-Origin"] == ORIGIN
    assert _post(client, widget, "session").json()["code"] == "widget_unavailable"
