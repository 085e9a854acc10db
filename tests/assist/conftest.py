"""Fixtures for assist: the fake provider (tests/chat/conftest.py's), fixed passages, a
conversation of tenant A with a visitor's question, and assist's queued tasks run here."""

from __future__ import annotations

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context, tenant_context

from chat.models import Conversation
from knowledge.retrieval import Passage
from tests.chat.conftest import _layer_taken_as_up, fake_llm  # noqa: F401 - fixtures used here
from tests.chat.factories import ContactFactory, ConversationFactory, MessageFactory
from widget_builder.models import Widget

PASSAGES = [
    Passage(
        text="Orders ship within 2 business days. Shipping to Spain takes 3 to 5 days.",
        title="Shipping policy",
        url="https://customer.example/shipping",
        rank=1,
    ),
    Passage(text="Returns are free within 30 days.", title="Returns", file="returns.pdf", page=2, rank=2),
]


@pytest.fixture
def passages(monkeypatch):
    """Retrieval returning fixed passages, recording (schema, query) of each search."""
    calls = []

    def retrieve(*, query, knowledge_base_ids=None, limit=5):
        calls.append((connection.schema_name, query))
        return PASSAGES[:limit]

    monkeypatch.setattr("knowledge.retrieval.retrieve", retrieve)
    return calls


@pytest.fixture
def assist_tasks_here(monkeypatch):
    """Assist's queued tasks run at once, in the schema they were queued from; each is
    recorded as (task name, args, schema)."""
    ran = []

    def enqueue(task, *args, **kwargs):
        schema = connection.schema_name
        ran.append((task.name, args, schema))
        with schema_context(schema):
            task.apply(args=args, kwargs=kwargs)

    for module in ("assist.receivers", "assist.tasks"):
        monkeypatch.setattr(f"{module}.enqueue_on_commit", enqueue)
    return ran


def conversation_with(seeded, *, locale="en", texts=(("visitor", "How long does shipping to Spain take?"),)):
    """A conversation on the tenant's first widget with these (role, text) messages."""
    with tenant_context(seeded.tenant):
        widget = Widget.objects.order_by("id").first()
        contact = ContactFactory(widget=widget, name="Ada", email="ada@example.com", locale=locale)
        conversation = ConversationFactory(widget=widget, contact=contact)
        for role, text in texts:
            MessageFactory(conversation=conversation, role=role, text=text)
        Conversation.objects.filter(pk=conversation.pk).update(last_message_at=timezone.now())
        conversation.refresh_from_db()
        return conversation


def conversation_only_in(seeded, other):
    """A conversation of ``seeded`` whose id no conversation of ``other`` has (ids are
    numbered per schema: the same number can be a conversation of each)."""
    while True:
        conversation = conversation_with(seeded)
        with tenant_context(other.tenant):
            if not Conversation.objects.filter(pk=conversation.pk).exists():
                return conversation
