"""Fixtures of the quality tests: flagged questions made as the chat engine stores them (a
visitor message and the bot's reply to it), and the offline provider."""

from __future__ import annotations

from datetime import datetime

import pytest
from django.utils import timezone

from chat.models import Message
from tests.chat.factories import ConversationFactory, MessageFactory


def flag(widget, text: str, reason: str = "no_answer", *, at: datetime | None = None, conversation=None):
    """A visitor question on ``widget`` whose reply was the no-answer text ("no_answer"), a
    handoff ("handoff"), a good answer rated down ("thumbs_down") or a good answer ("fine").
    Preconditions: the tenant's schema is active."""
    conversation = conversation or ConversationFactory(widget=widget)
    question = MessageFactory(conversation=conversation, role=Message.Role.VISITOR, text=text)
    outcome = {"no_answer": "no_answer", "handoff": "handoff"}.get(reason, "answered")
    MessageFactory(
        conversation=conversation,
        role=Message.Role.BOT,
        text="I'm sorry, I don't have a good answer to that yet."
        if reason == "no_answer"
        else "Here you go.",
        reply_to=question,
        outcome=outcome,
        feedback_rating=-1 if reason == "thumbs_down" else None,
    )
    if at is not None:
        Message.objects.filter(pk=question.pk).update(created_at=at)
    return question


@pytest.fixture
def offline(settings):
    """The offline provider: answers quote the knowledge base, deterministically."""
    settings.LLM_PROVIDER = "offline"
    settings.ANTHROPIC_API_KEY = settings.OPENAI_API_KEY = ""


@pytest.fixture
def ingest_here(monkeypatch):
    """Sources are ingested by the test (``knowledge.ingestion.source_ingest``), not queued."""
    monkeypatch.setattr("knowledge.services.enqueue_on_commit", lambda *a, **k: None)


@pytest.fixture
def now():
    return timezone.now()
