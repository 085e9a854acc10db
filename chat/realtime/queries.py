"""The reads sockets make (sync; the consumers call them through ``run_in_schema``, which
enters the tenant's schema on whatever thread runs them)."""

from __future__ import annotations

from typing import Any

from tenants.models import User
from widget_builder.models import Widget

from ..inbox import inbox_counts
from ..models import Contact, Conversation, Message
from ..presence import conversation_visible, visible_widget_ids
from ..selectors import message_payload
from ..services.inbox import display_name
from ..visitor_tokens import visitor_token_read

REPLAY_LIMIT = 500  # per read; a client further behind reads again from the last number


def agent_message_payload(message: Message) -> dict[str, Any]:
    """A message as agents see it: the visitor's payload, plus notes and their authors."""
    return {
        **message_payload(message),
        "author_name": message.author_name,
        "author_user_id": message.author_user_id,
        "outcome": message.outcome,
    }


def messages_after(conversation_id: int, after: int, *, for_visitor: bool) -> list[dict[str, Any]]:
    """Messages numbered after ``after``, oldest first (visitors never get private notes)."""
    rows = Message.objects.filter(conversation_id=conversation_id, seq__gt=after)
    if for_visitor:
        return [
            message_payload(m)
            for m in rows.exclude(role__in=Message.VISITOR_HIDDEN).order_by("seq")[:REPLAY_LIMIT]
        ]
    return [agent_message_payload(m) for m in rows.order_by("seq")[:REPLAY_LIMIT]]


def visitor_conversation(
    widget_id: int, tenant_id: int, token: str, conversation_id: int
) -> Conversation | None:
    """The conversation, if the token is a valid visitor token for this widget and the
    conversation is that visitor's (raises the token errors; None for someone else's)."""
    public_id = visitor_token_read(token, tenant_id=tenant_id, widget_id=widget_id)
    contact = Contact.objects.filter(public_id=public_id, widget_id=widget_id).first() if public_id else None
    if contact is None:
        return None
    return Conversation.objects.filter(pk=conversation_id, widget_id=widget_id, contact=contact).first()


def widget_by_key(key: str) -> Widget | None:
    """The widget's fields a visitor socket checks when it opens (not its configuration: a
    socket keeps nothing it does not need, since a thousand of them share a process)."""
    return Widget.objects.filter(key=key).only("pk", "is_enabled", "allowed_origins").first()


def agent_may_see(conversation_id: int, user_id: int, role: str) -> bool:
    conversation = Conversation.objects.filter(pk=conversation_id).only("widget_id").first()
    return conversation is not None and conversation_visible(conversation, user_id=user_id, role=role)


def conversation_summary(conversation_id: int, user_id: int, role: str) -> dict[str, Any] | None:
    """One inbox row for an agent's socket; None when the agent may not see it."""
    conversation = Conversation.objects.select_related("contact").filter(pk=conversation_id).first()
    if conversation is None or not conversation_visible(conversation, user_id=user_id, role=role):
        return None
    return _row(conversation)


def conversation_row(conversation_id: int) -> dict[str, Any] | None:
    """One inbox row, whoever asks (the socket checks ``widget_id`` against what its agent
    may see): read once per process for every socket that an inbox event reaches."""
    conversation = Conversation.objects.select_related("contact").filter(pk=conversation_id).first()
    return None if conversation is None else _row(conversation)


def visible_widgets(user_id: int, role: str) -> set[int] | None:
    return visible_widget_ids(user_id=user_id, role=role)


def _row(conversation: Conversation) -> dict[str, Any]:
    last = (
        Message.objects.filter(conversation=conversation)
        .exclude(role=Message.Role.SYSTEM)
        .order_by("-seq")
        .only("text", "role")
        .first()
    )
    contact = conversation.contact
    return {
        "id": conversation.pk,
        "status": conversation.status,
        "assignee_user_id": conversation.assignee_user_id,
        "widget_id": conversation.widget_id,
        "last_message_at": conversation.last_message_at.isoformat() if conversation.last_message_at else None,
        "last_seq": conversation.last_seq,
        "unread": conversation.last_visitor_seq > conversation.agent_read_seq,
        "preview": (last.text[:140] if last else ""),
        "preview_role": last.role if last else "",
        "contact": (contact.name or contact.email or "Visitor") if contact else "Visitor",
        "snoozed_until": conversation.snoozed_until.isoformat() if conversation.snoozed_until else None,
    }


def agent_counts(user_id: int, role: str) -> dict[str, int]:
    """The inbox's counts for the agent's socket: the very numbers the pages show."""
    return inbox_counts(user_id=user_id, role=role)


def notification(kind: str, conversation_id: int, user_id: int, role: str) -> dict[str, Any] | None:
    summary = conversation_summary(conversation_id, user_id, role)
    if summary is None:
        return None
    titles = {
        "handoff": f"{summary['contact']} asked for a person",
        "assigned": f"Conversation with {summary['contact']} assigned to you",
        "message": f"New message from {summary['contact']}",
    }
    return {
        "type": "notification",
        "kind": kind,
        "conversation": conversation_id,
        "title": titles.get(kind, "Inbox"),
        "body": summary["preview"],
        "url": f"/dashboard/conversations/{conversation_id}/",
    }


def status_frame(conversation_id: int) -> dict[str, Any] | None:
    """The conversation's state as the visitor sees it (the agent's name once a person has it)."""
    conversation = Conversation.objects.filter(pk=conversation_id).first()
    if conversation is None:
        return None
    agent_name = ""
    if conversation.status == Conversation.Status.AGENT and conversation.assignee_user_id:
        agent = User.objects.filter(pk=conversation.assignee_user_id).first()
        agent_name = display_name(agent) if agent else ""
    return {
        "type": "status",
        "conversation": conversation_id,
        "status": conversation.status,
        "agent_name": agent_name,
        "csat_score": conversation.csat_score,
    }
