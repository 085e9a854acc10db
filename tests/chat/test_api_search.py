"""chat.apis, the conversations list's search and the inbox's other filters: words in
messages and the contact's name or email (the inbox's search), a contact, last activity
by day, a handoff asked for, ratings; bad values 422 per field; the search across pages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from chat.models import Conversation
from tests.chat.factories import ContactFactory, ConversationFactory, MessageFactory
from tests.chat.test_api import BASE, _client, _errors
from widget_builder.models import Widget

pytestmark = pytest.mark.django_db


def _made(seeded, *, name="Ada", email="ada@example.com", texts=(), **fields) -> Conversation:
    with tenant_context(seeded.tenant):
        widget = Widget.objects.order_by("id").first()
        contact = ContactFactory(widget=widget, name=name, email=email)
        conversation = ConversationFactory(widget=widget, contact=contact, **fields)
        for text in texts:
            MessageFactory(conversation=conversation, text=text)
        conversation.refresh_from_db()
        return conversation


def _ids(client, query) -> set[int]:
    response = client.get(f"{BASE}?{query}")
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_search_finds_words_in_messages_and_the_contacts_name_or_email(tenant_a, tenant_b):
    refund = _made(tenant_a, name="Grace", email="grace@navy.example", texts=["I want a refund please"])
    other = _made(tenant_a, name="Linus", email="linus@kernel.example", texts=["Where is my parcel?"])
    _made(tenant_b, texts=["refund MARKER-B"])
    owner = _client(tenant_a, tenant_a.owner)
    assert _ids(owner, "q=refund") == {refund.pk}
    assert _ids(owner, "q=Grace") == {refund.pk}
    assert _ids(owner, "q=kernel.example") == {other.pk}
    assert _ids(owner, "q=nothing-like-this") == set()


def test_filters_by_contact_handoff_rating_and_day(tenant_a):
    asked = _made(tenant_a, texts=["hi"], handoff_requested_at=timezone.now(), csat_score=5)
    plain = _made(tenant_a, texts=["hi"], csat_score=1)
    owner = _client(tenant_a, tenant_a.owner)
    with tenant_context(tenant_a.tenant):
        contact_id = Conversation.objects.get(pk=asked.pk).contact.public_id
    assert _ids(owner, f"contact={contact_id}") == {asked.pk}
    assert asked.pk in _ids(owner, "handoff=true") and plain.pk not in _ids(owner, "handoff=true")
    assert plain.pk in _ids(owner, "handoff=false") and asked.pk not in _ids(owner, "handoff=false")
    assert _ids(owner, "rating=good") == {asked.pk}
    assert _ids(owner, "rating=bad") == {plain.pk}
    today = timezone.now().date()
    assert {asked.pk, plain.pk} <= _ids(owner, f"date_from={today}&date_to={today}")
    assert _ids(owner, f"date_from={today + timedelta(days=1)}") == set()
    assert _ids(owner, f"date_to={today - timedelta(days=1)}") & {asked.pk, plain.pk} == set()


def test_bad_search_and_filter_values_are_422_per_field(tenant_a):
    owner = _client(tenant_a, tenant_a.owner)
    query = "q=" + "x" * 201 + "&contact=nope&date_from=yesterday&handoff=maybe&rating=great&ordering=name"
    errors = _errors(owner.get(f"{BASE}?{query}"))
    assert set(errors) == {"q", "contact", "date_from", "handoff", "rating", "ordering"}
    backwards = _errors(owner.get(f"{BASE}?date_from=2026-02-02&date_to=2026-02-01"))
    assert set(backwards) == {"date_to"}


def test_a_search_pages_with_no_gap_or_repeat(tenant_a):
    found = {_made(tenant_a, texts=[f"invoice number {n}"]).pk for n in range(5)}
    _made(tenant_a, texts=["unrelated"])
    owner = _client(tenant_a, tenant_a.owner)
    seen: list[int] = []
    path = f"{BASE}?q=invoice&limit=2&ordering=created_at"
    for _ in range(10):
        body = owner.get(path).json()
        seen += [row["id"] for row in body["results"]]
        if body["next_cursor"] is None:
            break
        path = f"{BASE}?q=invoice&limit=2&ordering=created_at&cursor={body['next_cursor']}"
    assert len(seen) == len(set(seen)) == 5 and set(seen) == found
