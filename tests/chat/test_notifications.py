"""chat.notifications and chat.services.notification_emails: who is emailed when, and the
batches. The offline flow end to end: the visitor leaves an address and a message, the
team is emailed, an agent replies, the away visitor gets one email with the resume link,
the link gives a session, and the visitor writes in the same conversation."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from chat import tasks
from chat.models import AgentProfile, Conversation, InboxSettings, Message
from chat.services.inbox import agent_reply_send, display_name
from chat.services.messages import message_append
from chat.services.notification_emails import agent_replies_digest_send, visitor_replies_email_send
from chat.services.notifications import assignment_notify, team_handoff_notify
from tests.chat.visitors import ORIGIN, make_visitor
from tests.hosts import PUBLIC_HOST
from tests.tenants.factories import MembershipFactory

pytestmark = pytest.mark.django_db

LATER = timedelta(minutes=3)


def _profile(user_id: int, **fields) -> AgentProfile:
    profile, _ = AgentProfile.objects.get_or_create(user_id=user_id)
    for name, value in fields.items():
        setattr(profile, name, value)
    profile.save()
    return profile


def _agent_reply(conversation: Conversation, user, text: str) -> Message:
    message, _ = message_append(
        conversation=conversation,
        role=Message.Role.AGENT,
        text=text,
        author_user_id=user.pk,
        author_name="Ana",
    )
    return message


def _assign(conversation: Conversation, user_id: int, status: str = "agent") -> None:
    Conversation.objects.filter(pk=conversation.pk).update(
        assignee_user_id=user_id, assigned_at=timezone.now(), status=status
    )
    conversation.refresh_from_db()


# --- the whole offline flow -------------------------------------------------------------------


def test_the_offline_flow_end_to_end(
    client, tenant_a, fake_llm, mailoutbox, django_capture_on_commit_callbacks, tasks_run_here
):
    visitor = make_visitor(tenant_a)
    with django_capture_on_commit_callbacks(execute=True):
        left = visitor.post(
            client, "offline", {"email": "ada@example.org", "message": "Is the order shipped?"}
        )
    assert left.status_code == 201
    (team,) = mailoutbox
    assert team.to == [tenant_a.owner.email] and "Is the order shipped?" in team.body

    with tenant_context(tenant_a.tenant):
        conversation = Conversation.objects.get(pk=visitor.conversation.pk)
        first = agent_reply_send(conversation=conversation, user=tenant_a.owner, text="Yes, it left today.")
        agent_reply_send(conversation=conversation, user=tenant_a.owner, text="Tracking: <XY123>")
        assert visitor_replies_email_send(now=timezone.now()) == 0  # replies wait a little
        assert visitor_replies_email_send(now=first.created_at + LATER) == 1
        assert visitor_replies_email_send(now=first.created_at + LATER) == 0  # once
        assert Conversation.objects.get(pk=conversation.pk).emailed_seq == conversation.last_seq
    mail = mailoutbox[1]
    assert mail.to == ["ada@example.org"] and mail.subject == f"New reply from {display_name(tenant_a.owner)}"
    assert "Yes, it left today." in mail.body and "Tracking: <XY123>" in mail.body
    assert "&lt;XY123&gt;" in mail.alternatives[0][0]
    link = re.search(r"https://\S+/w/v1/c/(wk_[\w-]+)/#resume=(\S+)", mail.body)
    assert link and link.group(1) == visitor.widget.key
    assert "resume=" not in link.group(0).split("#")[0]  # the token never in what servers see

    resumed = client.post(
        f"/api/widget/v1/{visitor.widget.key}/session/resume",
        {"resume": link.group(2)},
        content_type="application/json",
        HTTP_HOST=PUBLIC_HOST,
        HTTP_ORIGIN=ORIGIN,
    )
    assert resumed.status_code == 200 and resumed.json()["conversation_id"] == visitor.conversation.pk
    sent = client.post(
        visitor.messages_path,
        {"text": "Thanks!"},
        content_type="application/json",
        HTTP_HOST=PUBLIC_HOST,
        HTTP_ORIGIN=ORIGIN,
        HTTP_AUTHORIZATION=f"Bearer {resumed.json()['token']}",
    )
    assert sent.status_code == 201, sent.content
    with tenant_context(tenant_a.tenant):
        last = Message.objects.filter(conversation=visitor.conversation).order_by("-seq").first()
    assert (last.role, last.text) == ("visitor", "Thanks!") and fake_llm.requests == []


def test_the_beat_tasks_run_in_every_workspace(tenant_a, tenant_b, mailoutbox):
    visitor = make_visitor(tenant_a)
    with tenant_context(tenant_a.tenant):
        Conversation.objects.filter(pk=visitor.conversation.pk).update(notify_email="ada@example.org")
        reply = _agent_reply(visitor.conversation, tenant_a.owner, "Hello from the team")
        Message.objects.filter(pk=reply.pk).update(created_at=timezone.now() - LATER)
    assert tasks.visitor_replies_email.apply().get() == 1
    assert mailoutbox[0].to == ["ada@example.org"]
    assert tasks.agent_replies_digest.apply().get() == 0
    assert connection.schema_name == "public"


# --- the visitor's batch ----------------------------------------------------------------------


def test_visitor_emails_wait_for_absence_skip_what_was_read_and_need_an_address(tenant_a, mailoutbox):
    visitor = make_visitor(tenant_a)
    with tenant_context(tenant_a.tenant):
        conversation = visitor.conversation
        reply = _agent_reply(conversation, tenant_a.owner, "Only by email if you gave one")
        later = reply.created_at + LATER
        assert visitor_replies_email_send(now=later) == 0  # no address: the prechat email is not used
        Conversation.objects.filter(pk=conversation.pk).update(
            notify_email="ada@example.org", visitor_seen_at=later - timedelta(seconds=10)
        )
        assert visitor_replies_email_send(now=later) == 0  # the visitor is there
        Conversation.objects.filter(pk=conversation.pk).update(
            visitor_read_seq=reply.seq, visitor_seen_at=None
        )
        assert visitor_replies_email_send(now=later) == 0  # already read
        message_append(conversation=conversation, role=Message.Role.NOTE, text="Private")
        again = _agent_reply(conversation, tenant_a.owner, "One more thing")
        assert visitor_replies_email_send(now=again.created_at + LATER) == 1
    (mail,) = mailoutbox
    assert "One more thing" in mail.body and "Only by email" not in mail.body and "Private" not in mail.body


# --- the team: a visitor asks for a person ----------------------------------------------------


def test_team_handoff_email_respects_preferences_and_agents_visibility(
    tenant_a, mailoutbox, django_capture_on_commit_callbacks, tasks_run_here
):
    visitor = make_visitor(tenant_a)
    admin = MembershipFactory(tenant=tenant_a.tenant, role="admin").user
    agent = MembershipFactory(tenant=tenant_a.tenant, role="agent").user
    elsewhere = MembershipFactory(tenant=tenant_a.tenant, role="agent").user
    with tenant_context(tenant_a.tenant):
        _profile(admin.pk, email_on_handoff=False)
        InboxSettings.objects.create(visibility=InboxSettings.Visibility.WIDGETS)
        _profile(agent.pk).widgets.set([visitor.widget])
        from widget_builder.models import Widget

        other = Widget.objects.create(name="Elsewhere", key="wk_elsewhere_test")
        _profile(elsewhere.pk).widgets.set([other])
        with django_capture_on_commit_callbacks(execute=True):
            team_handoff_notify(visitor.conversation)
    assert sorted(m.to[0] for m in mailoutbox) == sorted([tenant_a.owner.email, agent.email])
    assert all(f"/dashboard/conversations/{visitor.conversation.pk}/" in m.body for m in mailoutbox)


# --- assignments ------------------------------------------------------------------------------


def test_assignment_emails_the_assignee_unless_they_took_it_or_said_no(
    tenant_a, mailoutbox, django_capture_on_commit_callbacks, tasks_run_here
):
    visitor = make_visitor(tenant_a)
    agent = MembershipFactory(tenant=tenant_a.tenant, role="agent").user
    with tenant_context(tenant_a.tenant):
        _assign(visitor.conversation, agent.pk)
        with django_capture_on_commit_callbacks(execute=True):
            assignment_notify(visitor.conversation, agent.pk, tenant_a.owner.pk)  # by the owner
            assignment_notify(visitor.conversation, agent.pk, agent.pk)  # took it themselves
        (mail,) = mailoutbox
        assert mail.to == [agent.email] and tenant_a.owner.email in mail.body
        with django_capture_on_commit_callbacks(execute=True):
            assignment_notify(visitor.conversation, agent.pk, None)  # auto-assigned
        assert len(mailoutbox) == 2 and "You were assigned" in mailoutbox[1].body
        _profile(agent.pk, email_on_assigned=False)
        with django_capture_on_commit_callbacks(execute=True):
            assignment_notify(visitor.conversation, agent.pk, None)
    assert len(mailoutbox) == 2


# --- the agent's digest -----------------------------------------------------------------------


def test_visitor_replies_to_an_away_agent_come_in_one_email(tenant_a, mailoutbox):
    first = make_visitor(tenant_a)
    second = make_visitor(tenant_a)
    agent = MembershipFactory(tenant=tenant_a.tenant, role="agent").user
    with tenant_context(tenant_a.tenant):
        _profile(agent.pk, replies_emailed_at=timezone.now() - timedelta(minutes=1))
        for visitor in (first, second):
            _assign(visitor.conversation, agent.pk)
        for text in ("One", "Two", "Three"):
            message_append(conversation=first.conversation, role="visitor", text=f"{text} <i>")
        message_append(conversation=second.conversation, role="visitor", text="Other")
        now = timezone.now()
        assert agent_replies_digest_send(now=now) == 1
        assert agent_replies_digest_send(now=now + timedelta(minutes=2)) == 0  # nothing new
        assert AgentProfile.objects.get(user_id=agent.pk).replies_emailed_at == now
    (mail,) = mailoutbox
    assert mail.to == [agent.email] and mail.subject.startswith("4 new visitor messages")
    assert all(f"{t} <i>" in mail.body for t in ("One", "Two", "Three")) and "Other" in mail.body
    assert "&lt;i&gt;" in mail.alternatives[0][0]


def test_the_digest_skips_online_agents_read_messages_and_those_who_said_no(tenant_a, mailoutbox):
    visitor = make_visitor(tenant_a)
    agent = MembershipFactory(tenant=tenant_a.tenant, role="agent").user
    with tenant_context(tenant_a.tenant):
        _profile(agent.pk, last_heartbeat_at=timezone.now())  # online: saw it live
        _assign(visitor.conversation, agent.pk)
        message_append(conversation=visitor.conversation, role="visitor", text="While online")
        assert agent_replies_digest_send(now=timezone.now()) == 0
        _profile(agent.pk, last_heartbeat_at=None)
        assert agent_replies_digest_send(now=timezone.now()) == 0  # its marker moved while online
        seen, _ = message_append(conversation=visitor.conversation, role="visitor", text="Read it")
        Conversation.objects.filter(pk=visitor.conversation.pk).update(agent_read_seq=seen.seq)
        assert agent_replies_digest_send(now=timezone.now()) == 0
        _profile(agent.pk, away=True, last_heartbeat_at=timezone.now())
        message_append(conversation=visitor.conversation, role="visitor", text="While away")
        assert agent_replies_digest_send(now=timezone.now()) == 1
        _profile(agent.pk, email_on_replies=False)
        message_append(conversation=visitor.conversation, role="visitor", text="Not wanted")
        assert agent_replies_digest_send(now=timezone.now()) == 0
    (mail,) = mailoutbox
    assert "While away" in mail.body and "While online" not in mail.body and "Read it" not in mail.body
