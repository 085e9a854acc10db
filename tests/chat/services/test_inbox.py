"""The inbox's writes: replies and notes, assignment by hand and by round robin, the
status changes, read receipts, presence and the offline policy."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from chat.inbox import inbox_counts
from chat.models import AgentProfile, Conversation, Message
from chat.presence import agent_presence, agents_online, human_available
from chat.services.agents import (
    agent_heartbeat,
    agent_profile_update,
    canned_reply_create,
    canned_reply_update,
    inbox_settings_update,
)
from chat.services.conversations import conversation_handoff
from chat.services.inbox import (
    NotAMember,
    agent_note_add,
    agent_reply_send,
    agents_offline_sweep,
    conversation_assign,
    conversation_auto_assign,
    conversation_hand_back,
    conversation_mark_pending,
    conversation_read,
    conversation_reopen,
    conversation_resolve,
    conversation_snooze,
    conversation_take_over,
)
from chat.services.messages import visitor_message_send
from saas.errors import Conflict, ValidationFailed
from tests.chat.factories import ConversationFactory
from tests.tenants.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def ws(tenant_a):
    with tenant_context(tenant_a.tenant):
        yield tenant_a


def member(tenant, email: str, first_name: str = "", role: str = "agent"):
    user = UserFactory(email=email, first_name=first_name)
    MembershipFactory(tenant=tenant.tenant, user=user, role=role)
    return user


def texts(conversation) -> list[tuple[str, str]]:
    return list(conversation.messages.order_by("seq").values_list("role", "text"))


def test_an_agent_reply_takes_the_conversation_from_the_bot(ws):
    ana = member(ws, "ana@example.com", "Ana")
    conversation = ConversationFactory()
    visitor_message_send(conversation=conversation, text="Hello?")
    reply = agent_reply_send(conversation=conversation, user=ana, text="Hi, I'm Ana.")
    conversation.refresh_from_db()
    assert conversation.status == "agent" and conversation.assignee_user_id == ana.pk
    assert reply.author_user_id == ana.pk and reply.author_name == "Ana"
    assert texts(conversation) == [
        ("visitor", "Hello?"),
        ("system", "Ana joined the conversation."),
        ("agent", "Hi, I'm Ana."),
    ]
    assert conversation.agent_read_seq == reply.seq  # replying reads what came before
    # A second reply announces nobody again.
    agent_reply_send(conversation=conversation, user=ana, text="Anything else?")
    assert Message.objects.filter(conversation=conversation, role="system").count() == 1


def test_a_reply_to_a_resolved_conversation_reopens_it(ws):
    ana = member(ws, "ana@example.com", "Ana")
    conversation = ConversationFactory()
    agent_reply_send(conversation=conversation, user=ana, text="Hi")
    conversation_resolve(conversation=conversation, by=ana)
    assert conversation.status == "closed" and conversation.closed_at
    agent_reply_send(conversation=conversation, user=ana, text="One more thing")
    conversation.refresh_from_db()
    assert conversation.status == "agent" and conversation.closed_at is None


def test_private_notes_change_nothing_for_the_visitor(ws):
    ana = member(ws, "ana@example.com")
    conversation = ConversationFactory()
    before = conversation.last_message_at
    note = agent_note_add(conversation=conversation, user=ana, text="VIP")
    conversation.refresh_from_db()
    assert note.role == "note" and conversation.status == "bot"
    assert conversation.last_message_at == before  # notes do not reorder the inbox


def test_assigning_to_a_stranger_is_refused(ws, tenant_b):
    stranger = member(tenant_b, "bob@example.com")
    conversation = ConversationFactory()
    with pytest.raises(NotAMember):
        conversation_assign(conversation=conversation, assignee_user_id=stranger.pk, by=None)


def test_assign_take_over_hand_back(ws):
    ana, ben = member(ws, "ana@example.com", "Ana"), member(ws, "ben@example.com", "Ben")
    conversation = ConversationFactory()
    conversation_handoff(conversation=conversation)
    conversation_assign(conversation=conversation, assignee_user_id=ben.pk, by=ana)
    conversation.refresh_from_db()
    assert conversation.assignee_user_id == ben.pk and conversation.status == "agent"
    conversation_take_over(conversation=conversation, user=ana)
    conversation.refresh_from_db()
    assert conversation.assignee_user_id == ana.pk
    conversation_hand_back(conversation=conversation, by=ana)
    conversation.refresh_from_db()
    assert conversation.status == "bot" and conversation.assignee_user_id is None
    assert texts(conversation)[-1] == ("system", "You're chatting with the assistant again.")
    conversation_assign(conversation=conversation, assignee_user_id=None, by=ana)  # nobody: no change


def test_snooze_pending_resolve_reopen(ws):
    ana = member(ws, "ana@example.com")
    conversation = ConversationFactory()
    with pytest.raises(ValidationFailed):
        conversation_snooze(conversation=conversation, until=timezone.now() - timedelta(minutes=1), by=ana)
    conversation_snooze(conversation=conversation, until=timezone.now() + timedelta(hours=1), by=ana)
    conversation_mark_pending(conversation=conversation, by=ana)
    conversation.refresh_from_db()
    assert conversation.status == "pending" and conversation.snoozed_until
    # The visitor writes: the snooze ends and the conversation is waiting for a person again.
    visitor_message_send(conversation=conversation, text="Back")
    conversation.refresh_from_db()
    assert conversation.status == "waiting" and conversation.snoozed_until is None
    conversation_resolve(conversation=conversation, by=ana)
    with pytest.raises(Conflict):
        conversation_snooze(conversation=conversation, until=timezone.now() + timedelta(hours=1), by=ana)
    conversation_reopen(conversation=conversation, by=ana)
    conversation.refresh_from_db()
    assert conversation.status == "waiting"


def test_read_receipts_never_go_backwards_or_beyond_the_last_message(ws):
    conversation = ConversationFactory()
    for text in ("a", "b", "c"):
        visitor_message_send(conversation=conversation, text=text)
    assert conversation_read(conversation=conversation, side="agent", seq=2) == 2
    assert conversation_read(conversation=conversation, side="agent", seq=1) == 2
    assert conversation_read(conversation=conversation, side="agent", seq=99) == 3
    assert conversation_read(conversation=conversation, side="visitor", seq=3) == 3
    conversation.refresh_from_db()
    assert conversation.visitor_seen_at is not None
    with pytest.raises(ValidationFailed):
        conversation_read(conversation=conversation, side="someone", seq=1)


def test_presence_comes_from_heartbeats(ws):
    ana = member(ws, "ana@example.com")
    assert agent_heartbeat(user_id=ana.pk) == ("offline", "online")
    assert agent_heartbeat(user_id=ana.pk, away=True) == ("online", "away")
    profile = AgentProfile.objects.get(user_id=ana.pk)
    assert agent_presence(profile, timezone.now() + timedelta(seconds=71)) == "offline"
    assert agents_online() == []  # away is not online


def test_round_robin_among_online_agents_with_room(ws):
    ana, ben, cleo = (member(ws, f"{n}@example.com", n.title()) for n in ("ana", "ben", "cleo"))
    for user in (ana, ben, cleo):
        agent_heartbeat(user_id=user.pk)
    agent_profile_update(user_id=ben.pk, capacity=1)
    agent_profile_update(user_id=cleo.pk, accepts_auto_assign=False)
    assigned = []
    for _ in range(4):
        conversation = ConversationFactory()
        conversation_handoff(conversation=conversation)
        conversation.refresh_from_db()
        assigned.append(conversation.assignee_user_id)
    # Ana and Ben in turn; Ben is full after one; Cleo never takes automatic assignments.
    assert assigned == [ana.pk, ben.pk, ana.pk, ana.pk]
    assert inbox_counts(user_id=ana.pk, role="agent")["mine"] == 3


def test_auto_assignment_can_be_off(ws):
    ana = member(ws, "ana@example.com")
    agent_heartbeat(user_id=ana.pk)
    inbox_settings_update(auto_assign=False)
    conversation = ConversationFactory()
    conversation_handoff(conversation=conversation)
    conversation.refresh_from_db()
    assert conversation.status == "waiting" and conversation.assignee_user_id is None
    assert conversation_auto_assign(conversation=conversation) is None


def test_agents_serving_other_widgets_are_not_offered_the_conversation(ws):
    from tests.widget_builder.factories import WidgetFactory

    ana = member(ws, "ana@example.com")
    agent_heartbeat(user_id=ana.pk)
    other = WidgetFactory()
    agent_profile_update(user_id=ana.pk, widget_ids=[other.pk])
    conversation = ConversationFactory()  # on the first widget
    assert conversation_auto_assign(conversation=conversation) is None
    assert human_available(conversation.widget) is False
    assert human_available(other) is True


def test_the_offline_policy_returns_an_absent_agents_conversations(ws):
    ana, ben = member(ws, "ana@example.com"), member(ws, "ben@example.com")
    agent_heartbeat(user_id=ana.pk)
    conversation = ConversationFactory()
    conversation_handoff(conversation=conversation)
    conversation.refresh_from_db()
    assert conversation.assignee_user_id == ana.pk
    inbox_settings_update(offline_policy="unassign")
    AgentProfile.objects.filter(user_id=ana.pk).update(
        last_heartbeat_at=timezone.now() - timedelta(minutes=5)
    )
    agent_heartbeat(user_id=ben.pk)
    assert agents_offline_sweep() == 1
    conversation.refresh_from_db()
    assert conversation.assignee_user_id == ben.pk  # back in the queue, then offered to Ben
    assert agents_offline_sweep() == 0  # handled once


def test_the_keep_policy_leaves_them_assigned(ws):
    ana = member(ws, "ana@example.com")
    agent_heartbeat(user_id=ana.pk)
    conversation = ConversationFactory()
    conversation_handoff(conversation=conversation)
    AgentProfile.objects.filter(user_id=ana.pk).update(
        last_heartbeat_at=timezone.now() - timedelta(minutes=5)
    )
    assert agents_offline_sweep() == 1
    conversation.refresh_from_db()
    assert conversation.assignee_user_id == ana.pk


def test_human_availability_follows_the_workspace_rule(ws):
    from widget_builder.models import Widget

    widget = Widget.objects.order_by("pk").first()
    ana = member(ws, "ana@example.com")
    assert human_available(widget) is False  # nobody online
    agent_heartbeat(user_id=ana.pk)
    assert human_available(widget) is True
    inbox_settings_update(availability="hours")
    assert human_available(widget) is False  # no business hours published
    widget.published_config = {
        **widget.published_config,
        "business_hours": {
            "tz": "UTC",
            "days": {d: [["00:00", "23:59"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
        },
    }
    assert human_available(widget) is True
    with pytest.raises(ValidationFailed):
        inbox_settings_update(availability="sometimes")


def test_canned_replies_have_unique_shortcuts(ws):
    reply = canned_reply_create(shortcut="Thanks!", title="Thanks", text="Thanks {{contact.name}}!")
    assert reply.shortcut == "thanks"
    with pytest.raises(ValidationFailed) as refused:
        canned_reply_create(shortcut="thanks", title="Again", text="x")
    assert refused.value.errors["shortcut"][0]["code"] == "taken"
    with pytest.raises(ValidationFailed):
        canned_reply_update(reply=reply, shortcut="", title="", text="")


def test_counts_per_view(ws):
    ana = member(ws, "ana@example.com")
    base = inbox_counts(user_id=ana.pk, role="agent")
    waiting = ConversationFactory()
    conversation_handoff(conversation=waiting)
    visitor_message_send(conversation=ConversationFactory(status=Conversation.Status.BOT), text="hi")
    mine = ConversationFactory()
    agent_reply_send(conversation=mine, user=ana, text="hi")
    visitor_message_send(conversation=mine, text="thanks")
    counts = inbox_counts(user_id=ana.pk, role="agent")
    assert counts["waiting"] == base["waiting"] + 1
    assert counts["unassigned"] == base["unassigned"] + 1
    assert counts["mine"] == base["mine"] + 1
    # Unread: open conversations with visitor messages no agent has read (not the bot's).
    assert counts["unread"] == base["unread"] + 1


def test_the_minutely_task_sweeps_every_workspace(tenant_a, tenant_b):
    from chat.tasks import agents_offline_sweep_task

    for seeded in (tenant_a, tenant_b):
        with tenant_context(seeded.tenant):
            user = member(seeded, f"gone@{seeded.tenant.slug}.example")
            agent_heartbeat(user_id=user.pk)
            AgentProfile.objects.filter(user_id=user.pk).update(
                last_heartbeat_at=timezone.now() - timedelta(minutes=5)
            )
    assert agents_offline_sweep_task() == 2
    assert agents_offline_sweep_task() == 0


def test_an_assignment_is_emailed_only_to_an_agent_who_is_not_online(ws, mailoutbox, tasks_run_here):
    from django.test import TestCase

    ana, ben = member(ws, "ana@example.com", "Ana"), member(ws, "ben@example.com", "Ben")
    agent_heartbeat(user_id=ben.pk)  # Ben is online: he sees it live
    first, second = ConversationFactory(), ConversationFactory()
    with TestCase.captureOnCommitCallbacks(execute=True):
        conversation_assign(conversation=first, assignee_user_id=ben.pk, by=ana)
    assert mailoutbox == []
    with TestCase.captureOnCommitCallbacks(execute=True):
        conversation_assign(conversation=second, assignee_user_id=ana.pk, by=ben)  # Ana is offline
    assert [m.to for m in mailoutbox] == [["ana@example.com"]]
