"""Writes for conversations: starting one (with its greeting), closing, rating, the
visitor's request for a person, and the emailed transcript. Preconditions: the tenant's
schema is active."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from saas.celery import enqueue_on_commit
from saas.errors import Conflict
from widget_builder.models import Widget

# The module, not the task: tasks call the services, so the task is looked up when queued.
from .. import tasks
from ..models import (
    TITLE_MAX_CHARS,
    AutomationFiring,
    AutomationRule,
    Contact,
    Conversation,
    Message,
    chat_event_send,
)
from ..presence import agents_online
from ..realtime import events
from .contacts import contact_prechat_required, contact_transcript_address
from .deletion import Removed, conversations_delete
from .inbox import conversation_auto_assign
from .messages import message_append
from .notifications import team_handoff_notify

# How a greeting is recorded among answer outcomes (chat.answering.Outcome.AUTOMATION;
# answering imports the services, so the value is repeated here rather than imported).
GREETING_OUTCOME = "automation"


class PrechatRequired(Conflict):
    code = "prechat_required"
    title = "The prechat form comes first"


class EmailUnknown(Conflict):
    code = "email_unknown"
    title = "We do not know an email address for this visitor"


def conversation_start(
    *, widget: Widget, contact: Contact, prechat_checked: bool = True
) -> tuple[Conversation, Message | None]:
    """A new conversation of ``contact`` on ``widget`` with the greeting automation's
    message, if the widget has one (logged as a firing). Refused until the visitor has
    submitted the published prechat form, when there is one, unless ``prechat_checked``
    is false (the server API: the tenant's own server knows its user)."""
    if prechat_checked and contact_prechat_required(widget=widget, contact=contact):
        raise PrechatRequired("Submit the prechat form first.")
    rule = (
        AutomationRule.objects.filter(widget=widget, kind=AutomationRule.Kind.GREETING, is_enabled=True)
        .order_by("position", "id")
        .first()
    )
    with transaction.atomic():
        conversation = Conversation.objects.create(widget=widget, contact=contact)
        chat_event_send("conversation.created", conversation_id=conversation.pk)
        if rule is None:
            return conversation, None
        greeting, _ = message_append(
            conversation=conversation,
            role=Message.Role.BOT,
            text=rule.reply,
            client_message_id=f"greeting:{rule.pk}",
            automation_rule=rule,
            outcome=GREETING_OUTCOME,
        )
        AutomationFiring.objects.create(rule=rule, conversation=conversation, message=greeting)
    return conversation, greeting


def conversation_close(*, conversation: Conversation) -> Conversation:
    """Closed once; closing a closed conversation changes nothing."""
    if conversation.status != Conversation.Status.CLOSED:
        conversation.status, conversation.closed_at = Conversation.Status.CLOSED, timezone.now()
        with transaction.atomic():
            conversation.save(update_fields=["status", "closed_at", "updated_at"])
            chat_event_send("conversation.resolved", conversation_id=conversation.pk, by_user_id=None)
    return conversation


def conversation_rate(*, conversation: Conversation, score: int, comment: str = "") -> Conversation:
    """CSAT from the visitor: only once the conversation is closed (409 before)."""
    with transaction.atomic():
        locked = Conversation.objects.select_for_update().only("status").get(pk=conversation.pk)
        if locked.status != Conversation.Status.CLOSED:
            raise Conflict("Close the conversation before rating it.")
        conversation.csat_score, conversation.csat_comment = score, comment.strip()
        conversation.csat_at = timezone.now()
        conversation.save(update_fields=["csat_score", "csat_comment", "csat_at", "updated_at"])
        chat_event_send("conversation.rated", conversation_id=conversation.pk)
    return conversation


HANDOFF_NOTE = "You asked for a person. Someone from the team will reply here as soon as possible."


def conversation_handoff(*, conversation: Conversation) -> Message | None:
    """The visitor asked for a person: the bot stops answering and the conversation waits
    for an agent, offered at once to an online agent with room (round robin); the inbox is
    told. Returns the note shown to the visitor (None if already waiting)."""
    with transaction.atomic():
        locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
        if locked.status != Conversation.Status.BOT:
            conversation.status = locked.status
            return None
        locked.status, locked.handoff_requested_at = Conversation.Status.WAITING, timezone.now()
        locked.save(update_fields=["status", "handoff_requested_at", "updated_at"])
        conversation.status = Conversation.Status.WAITING
        note, _ = message_append(conversation=conversation, role=Message.Role.SYSTEM, text=HANDOFF_NOTE)
        chat_event_send("conversation.handoff_requested", conversation_id=conversation.pk)
        events.conversation_changed(conversation.pk, kind="status")
        events.notify("handoff", conversation.pk)
        conversation.assignee_user_id = locked.assignee_user_id
        conversation.widget = locked.widget
        conversation_auto_assign(conversation=conversation)
        if not agents_online(widget=conversation.widget):
            team_handoff_notify(conversation)  # emailed after the commit, to those who want it
    return note


def conversation_transcript_request(*, conversation: Conversation, contact: Contact) -> str:
    """Email the transcript (after the commit, by a task) to the address the visitor may
    receive it at (``contact_transcript_address``); returns that address. Refused (409)
    when there is none. Precondition: ``conversation`` is ``contact``'s."""
    address = contact_transcript_address(contact)
    if not address:
        raise EmailUnknown("Give your email address in the form first.")
    enqueue_on_commit(tasks.transcript_send, conversation.pk)
    return address


def conversation_rename(*, conversation: Conversation, title: str) -> Conversation:
    """The visitor's own name for a conversation: whitespace folded to single spaces, cut at
    ``TITLE_MAX_CHARS``; blank gives the default back (its first message or its date). The
    conversation's activity time does not move (the list stays in the same order)."""
    conversation.title = " ".join(title.split())[:TITLE_MAX_CHARS]
    with transaction.atomic():
        conversation.save(update_fields=["title"])  # not updated_at: renaming is no activity
    return conversation


def conversation_visitor_delete(*, conversation: Conversation) -> Removed:
    """The visitor erases one of their own conversations: its messages, attachments and
    stored files (``conversations_delete``, the files after the commit), recorded in the
    workspace's audit log as done by the system on the visitor's request, with counts
    only (no text, address or name of the visitor). Precondition: ``conversation`` is the
    calling visitor's."""
    with transaction.atomic():
        removed = conversations_delete(conversation_ids=[conversation.pk])
        audit_record(
            action="conversation.deleted",
            target_type="conversation",
            target_id=str(conversation.pk),
            target_repr=f"Conversation {conversation.pk}",
            metadata={"by": "visitor", "widget_id": conversation.widget_id, **removed.as_dict()},
        )
    return removed
