"""Writes of the live inbox: agents' replies and private notes, assignment (by hand and
round robin), taking a conversation over from the bot and handing it back, resolving,
reopening, snoozing, pending, and read receipts. Each publishes its wake-ups after commit
(``chat.realtime.events``). Preconditions: the tenant's schema is active; ``user`` is a
member of this workspace (the entry points check roles)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from django.db import transaction
from django.db.models import Count, F
from django.db.models.functions import Greatest, Least
from django.utils import timezone

from saas.errors import Conflict, ValidationFailed
from saas.tenant_connection import connection
from tenants.models import Membership, Tenant, User

from ..models import AgentProfile, Conversation, Message, chat_event_send
from ..presence import agent_presence, agent_profile_for, agents_online, inbox_settings
from ..realtime import events
from .messages import message_append
from .notifications import assignment_notify

Status = Conversation.Status
# Conversations a person is working on (they count against an agent's capacity).
OPEN_STATUSES = (Status.WAITING, Status.AGENT, Status.PENDING)
HANDED_BACK_NOTE = "You're chatting with the assistant again."
JOINED_NOTE = "{name} joined the conversation."


class NotAMember(Conflict):
    code = "not_a_member"
    title = "This person is not a member of the workspace"


def display_name(user: User) -> str:
    """The name visitors see for an agent: their full name, else their address's local part."""
    return (user.get_full_name() or user.email.split("@")[0])[:120]


def _tenant_id() -> int:
    return cast(Tenant, connection.tenant).pk


def _locked(conversation: Conversation) -> Conversation:
    return Conversation.objects.select_for_update().get(pk=conversation.pk)


def _save(locked: Conversation, conversation: Conversation, fields: list[str]) -> None:
    locked.save(update_fields=[*fields, "updated_at"])
    for name in fields:
        setattr(conversation, name, getattr(locked, name))
    events.conversation_changed(locked.pk, kind="status")


def _member(user_id: int) -> User:
    user = User.objects.filter(pk=user_id, is_active=True, memberships__tenant_id=_tenant_id()).first()
    if user is None:
        raise NotAMember("Assign the conversation to a member of this workspace.")
    return user


def _join(locked: Conversation, conversation: Conversation, user: User, fields: list[str]) -> None:
    """``user`` takes the conversation: it is theirs (if nobody's) and a person's, and the
    visitor is told who joined. ``fields`` are other changes to save with it. A user with no
    id (an API key) assigns nobody: the conversation stays unassigned, ``assigned_at`` unset."""
    fields = list(fields)
    if locked.assignee_user_id is None and user.pk is not None:
        locked.assignee_user_id, locked.assigned_at = user.pk, timezone.now()
        fields += ["assignee_user_id", "assigned_at"]
    joined = locked.status in (Status.BOT, Status.WAITING, Status.CLOSED)
    if locked.status != Status.AGENT:
        locked.status, locked.closed_at, locked.snoozed_until = Status.AGENT, None, None
        fields += ["status", "closed_at", "snoozed_until"]
    if fields:
        _save(locked, conversation, list(dict.fromkeys(fields)))
    if joined:
        # After the save: appending re-reads the row's status.
        message_append(
            conversation=locked, role=Message.Role.SYSTEM, text=JOINED_NOTE.format(name=display_name(user))
        )


def agent_reply_send(
    *,
    conversation: Conversation,
    user: User,
    text: str,
    attachments: list[dict[str, Any]] | None = None,
    client_message_id: str | None = None,
) -> Message:
    """An agent's reply: the conversation becomes a person's (the bot stops; a resolved
    one reopens), theirs if it had nobody, and everything before it counts as read."""
    with transaction.atomic():
        locked = _locked(conversation)
        _join(locked, conversation, user, [])
        message, _ = message_append(
            conversation=locked,
            role=Message.Role.AGENT,
            text=text,
            client_message_id=client_message_id,
            author_user_id=user.pk,
            author_name=display_name(user),
            attachments=attachments or [],
        )
        Conversation.objects.filter(pk=locked.pk).update(
            agent_read_seq=Greatest("agent_read_seq", message.seq)
        )
    conversation.last_seq, conversation.status = locked.last_seq, locked.status
    return message


def agent_note_add(*, conversation: Conversation, user: User, text: str) -> Message:
    """A private note: agents see it in the transcript, visitors never do."""
    message, _ = message_append(
        conversation=conversation,
        role=Message.Role.NOTE,
        text=text,
        author_user_id=user.pk,
        author_name=display_name(user),
    )
    return message


def conversation_assign(
    *, conversation: Conversation, assignee_user_id: int | None, by: User | None
) -> Conversation:
    """Give the conversation to a member (or to nobody). A conversation with the bot or
    waiting becomes a person's; the assignee is notified unless they assigned themselves."""
    assignee = _member(assignee_user_id) if assignee_user_id is not None else None
    with transaction.atomic():
        locked = _locked(conversation)
        if locked.assignee_user_id == assignee_user_id:
            return conversation
        locked.assignee_user_id = assignee_user_id
        locked.assigned_at = timezone.now() if assignee else None
        fields = ["assignee_user_id", "assigned_at"]
        if assignee is not None and locked.status in (Status.BOT, Status.WAITING):
            _join(locked, conversation, assignee, fields)
        else:
            _save(locked, conversation, fields)
        chat_event_send("conversation.assigned", conversation_id=locked.pk, by_user_id=by.pk if by else None)
        if assignee is not None:
            AgentProfile.objects.filter(user_id=assignee.pk).update(last_assigned_at=timezone.now())
            if by is None or by.pk != assignee.pk:
                events.notify("assigned", locked.pk, user_id=assignee.pk)
                # Online, they see it live; otherwise an email (their preference decides).
                if agent_presence(agent_profile_for(assignee.pk)) != "online":
                    assignment_notify(locked, assignee.pk, by.pk if by else None)
    return conversation


def conversation_take_over(*, conversation: Conversation, user: User) -> Conversation:
    """The agent takes the conversation from the bot (or from the queue): theirs, a person's."""
    with transaction.atomic():
        locked = _locked(conversation)
        fields = []
        if locked.assignee_user_id != user.pk:
            locked.assignee_user_id, locked.assigned_at = user.pk, timezone.now()
            fields += ["assignee_user_id", "assigned_at"]
            chat_event_send("conversation.assigned", conversation_id=locked.pk, by_user_id=user.pk)
        _join(locked, conversation, user, fields)
    return conversation


def conversation_hand_back(*, conversation: Conversation, by: User | None) -> Conversation:
    """Back to the bot: it answers again; nobody is assigned."""
    with transaction.atomic():
        locked = _locked(conversation)
        if locked.status == Status.BOT:
            return conversation
        locked.status, locked.assignee_user_id, locked.assigned_at = Status.BOT, None, None
        locked.closed_at = locked.snoozed_until = None
        _save(
            locked, conversation, ["status", "assignee_user_id", "assigned_at", "closed_at", "snoozed_until"]
        )
        message_append(conversation=locked, role=Message.Role.SYSTEM, text=HANDED_BACK_NOTE)
    return conversation


def conversation_resolve(*, conversation: Conversation, by: User | None) -> Conversation:
    """Resolved (closed): the visitor is asked to rate it. Resolving twice changes nothing."""
    with transaction.atomic():
        locked = _locked(conversation)
        if locked.status == Status.CLOSED:
            return conversation
        locked.status, locked.closed_at, locked.snoozed_until = Status.CLOSED, timezone.now(), None
        _save(locked, conversation, ["status", "closed_at", "snoozed_until"])
        chat_event_send("conversation.resolved", conversation_id=locked.pk, by_user_id=by.pk if by else None)
    return conversation


def conversation_reopen(*, conversation: Conversation, by: User | None) -> Conversation:
    """A resolved conversation opens again: the assignee's, else waiting for a person."""
    with transaction.atomic():
        locked = _locked(conversation)
        if locked.status != Status.CLOSED:
            return conversation
        locked.status = Status.AGENT if locked.assignee_user_id else Status.WAITING
        locked.closed_at = None
        _save(locked, conversation, ["status", "closed_at"])
    return conversation


def conversation_snooze(*, conversation: Conversation, until: datetime, by: User | None) -> Conversation:
    """Out of the open views until ``until`` (or until the visitor writes)."""
    if until <= timezone.now():
        raise ValidationFailed(
            errors={"until": [{"code": "past", "message": "Choose a time in the future."}]}
        )
    with transaction.atomic():
        locked = _locked(conversation)
        if locked.status == Status.CLOSED:
            raise Conflict("Reopen the conversation before snoozing it.")
        locked.snoozed_until = until
        _save(locked, conversation, ["snoozed_until"])
    return conversation


def conversation_mark_pending(*, conversation: Conversation, by: User | None) -> Conversation:
    """Waiting on the visitor: out of the agent's way until they answer."""
    with transaction.atomic():
        locked = _locked(conversation)
        if locked.status == Status.PENDING:
            return conversation
        locked.status, locked.closed_at = Status.PENDING, None
        _save(locked, conversation, ["status", "closed_at"])
    return conversation


def conversation_read(*, conversation: Conversation, side: str, seq: int) -> int:
    """A read receipt: ``side`` ("agent" or "visitor") has seen everything up to ``seq``
    (never beyond the last message, never backwards). Returns the stored number."""
    field = {"agent": "agent_read_seq", "visitor": "visitor_read_seq"}.get(side)
    if field is None:
        raise ValidationFailed(errors={"side": [{"code": "invalid", "message": "agent or visitor"}]})
    updates: dict[str, Any] = {field: Greatest(F(field), Least(F("last_seq"), max(int(seq), 0)))}
    if side == "visitor":
        updates["visitor_seen_at"] = timezone.now()
    with transaction.atomic():
        Conversation.objects.filter(pk=conversation.pk).update(**updates)
        stored = Conversation.objects.filter(pk=conversation.pk).values_list(field, flat=True).first() or 0
        events.publish(
            events.conversation_group(events.schema(), conversation.pk),
            {"type": "conv.read", "conversation": conversation.pk, "who": side, "seq": stored},
        )
        if side == "agent":
            events.publish(
                events.inbox_group(events.schema()),
                events.inbox_changed(conversation.pk),
            )
    setattr(conversation, field, stored)
    return int(stored)


def conversation_auto_assign(*, conversation: Conversation) -> int | None:
    """Round robin: the conversation goes to the online agent serving its widget who accepts
    automatic assignment, has room under their capacity and was assigned least recently.
    Returns the assignee's id (None: auto-assignment is off, or nobody can take it)."""
    if not inbox_settings().auto_assign or conversation.assignee_user_id is not None:
        return None
    members = set(
        Membership.objects.filter(tenant_id=_tenant_id(), user__is_active=True).values_list(
            "user_id", flat=True
        )
    )
    candidates = [
        p for p in agents_online(widget=conversation.widget) if p.accepts_auto_assign and p.user_id in members
    ]
    if not candidates:
        return None
    loads = dict(
        Conversation.objects.filter(
            status__in=OPEN_STATUSES, assignee_user_id__in=[p.user_id for p in candidates]
        )
        .values_list("assignee_user_id")
        .annotate(n=Count("pk"))
        .values_list("assignee_user_id", "n")
    )
    free = [p for p in candidates if loads.get(p.user_id, 0) < p.capacity]
    if not free:
        return None
    oldest = datetime.min.replace(tzinfo=UTC)
    chosen = min(free, key=lambda p: (p.last_assigned_at or oldest, p.pk))
    conversation_assign(conversation=conversation, assignee_user_id=chosen.user_id, by=None)
    return chosen.user_id


def agents_offline_sweep() -> int:
    """Agents whose heartbeats stopped: tell the inbox they are offline and, when the
    workspace says so, return their open conversations to the queue (each one offered to
    the agents still online). Returns how many agents went offline."""
    now = timezone.now()
    gone = [
        p for p in AgentProfile.objects.filter(offline_handled=False) if agent_presence(p, now) == "offline"
    ]
    unassign = inbox_settings().offline_policy == "unassign"
    for profile in gone:
        with transaction.atomic():
            AgentProfile.objects.filter(pk=profile.pk).update(offline_handled=True)
            events.presence_changed(profile.user_id, "offline")
        if not unassign:
            continue
        for conversation in Conversation.objects.filter(
            assignee_user_id=profile.user_id, status__in=OPEN_STATUSES
        ).select_related("widget"):
            with transaction.atomic():
                Conversation.objects.filter(pk=conversation.pk).update(
                    assignee_user_id=None,
                    assigned_at=None,
                    status=Status.WAITING if conversation.status == Status.AGENT else conversation.status,
                )
                events.conversation_changed(conversation.pk, kind="status")
            conversation.refresh_from_db()
            conversation_auto_assign(conversation=conversation)
    return len(gone)
