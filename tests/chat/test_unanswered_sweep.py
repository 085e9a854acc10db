"""chat.answering.owed_settle's sweep: a visitor message left without an answer by a web
process that died (nothing answering it, nothing owing it) is answered by a worker, once;
messages that are not the bot's to answer are left alone."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone
from django_tenants.utils import tenant_context

from chat.answering import claim_key, owed_settle
from chat.answering.owed_settle import answer_owed, unanswered_find, unanswered_hand_over, unanswered_sweep
from chat.models import Conversation, Message
from chat.services.messages import visitor_message_send
from tests.chat.factories import MessageFactory
from tests.chat.visitors import make_visitor

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(monkeypatch) -> list[tuple]:
    """The tasks the sweep queues, recorded (run by the test in the tenant's schema)."""
    sent: list[tuple] = []
    monkeypatch.setattr(owed_settle, "enqueue_on_commit", lambda task, *args: sent.append((task, *args)))
    return sent


def left(conversation: Conversation, text: str, minutes: float) -> Message:
    """A visitor message stored ``minutes`` ago whose answer was never written."""
    message, _ = visitor_message_send(conversation=conversation, text=text)
    Message.objects.filter(pk=message.pk).update(created_at=timezone.now() - timedelta(minutes=minutes))
    return message


def test_a_message_left_unanswered_is_answered_once_by_a_worker(seeded, fake_llm, queued):
    tenant = seeded["a"].tenant
    visitor = make_visitor(seeded["a"])
    with tenant_context(tenant):
        message = left(visitor.conversation, "Do you ship abroad?", minutes=5)
        assert unanswered_hand_over() == 1
        assert queued == [(answer_owed, tenant.pk, visitor.conversation.pk, message.pk)]
        assert answer_owed.apply(args=queued[0][1:]).get() == "done"
        replies = list(Message.objects.filter(reply_to_id=message.pk))
        assert len(replies) == 1 and replies[0].text
        assert unanswered_find() == []
        assert unanswered_hand_over() == 0  # answered: nothing more
    assert len(fake_llm.requests) == 1


def test_a_message_is_handed_over_once_however_many_sweeps_run(seeded, queued):
    visitor = make_visitor(seeded["a"])
    with tenant_context(seeded["a"].tenant):
        left(visitor.conversation, "Hello?", minutes=5)
        assert unanswered_hand_over() + unanswered_hand_over() == 1


def test_what_is_being_answered_or_not_the_bots_is_left_alone(seeded, queued):
    a = seeded["a"]
    with tenant_context(a.tenant):
        young = left(make_visitor(a).conversation, "Just sent", minutes=0.5)
        old = left(make_visitor(a).conversation, "Yesterday", minutes=120)
        answering = left(make_visitor(a).conversation, "Being answered", minutes=5)
        cache.add(claim_key(answering.pk), 1)
        with_agent = make_visitor(a).conversation
        left(with_agent, "Hello agent", minutes=5)
        Conversation.objects.filter(pk=with_agent.pk).update(status=Conversation.Status.AGENT)
        attached = make_visitor(a).conversation
        photo = MessageFactory(
            conversation=attached,
            role=Message.Role.VISITOR,
            text="",
            attachments=[{"id": "x", "name": "a.png", "content_type": "image/png", "size": 1}],
        )
        Message.objects.filter(pk=photo.pk).update(created_at=timezone.now() - timedelta(minutes=5))
        # Two messages in a row: only the last is owed an answer (not the earlier one, after it).
        twice = make_visitor(a).conversation
        left(twice, "First", minutes=6)
        last = left(twice, "Second", minutes=5)

        assert {m for _, m in unanswered_find()} == {last.pk, answering.pk}  # found; one is being answered
        assert unanswered_hand_over() == 1
    assert [args[3] for args in queued] == [last.pk]
    assert young.pk and old.pk  # stored, never swept


def test_the_beat_task_sweeps_every_active_workspace(seeded, queued):
    visitor_a, visitor_b = make_visitor(seeded["a"]), make_visitor(seeded["b"])
    with tenant_context(seeded["a"].tenant):
        left(visitor_a.conversation, "From A", minutes=5)
    with tenant_context(seeded["b"].tenant):
        left(visitor_b.conversation, "From B", minutes=5)
    assert unanswered_sweep.apply().get() == 2
    assert {args[1] for args in queued} == {seeded["a"].tenant.pk, seeded["b"].tenant.pk}


def test_how_long_a_message_waits_for_the_sweep_is_a_setting(seeded, queued, settings):
    """``CHAT_UNANSWERED_AFTER_SECONDS``: a message younger than it is left to the process
    answering it; the several-processes test (tests/processes) shortens it."""
    visitor = make_visitor(seeded["a"])
    with tenant_context(seeded["a"].tenant):
        message = left(visitor.conversation, "Still there?", minutes=0.5)
        assert unanswered_find() == []  # the default: two minutes
        settings.CHAT_UNANSWERED_AFTER_SECONDS = 20
        assert unanswered_find() == [(visitor.conversation.pk, message.pk)]
