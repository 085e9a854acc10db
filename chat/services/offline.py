"""The visitor's "nobody is available" form: leave an address (and a message) and be told
of replies by email. Preconditions: the tenant's schema is active."""

from __future__ import annotations

from django.db import transaction

from ..models import Conversation, Message
from .conversations import conversation_handoff
from .messages import ConversationClosed, visitor_message_send
from .notifications import conversation_notify_email_set, team_handoff_notify


def conversation_offline_message(
    *, conversation: Conversation, email: str, message: str = ""
) -> tuple[Conversation, Message | None]:
    """Store the visitor's address on the conversation, hand it to the team if the bot
    still has it, append the visitor's message (if any) and email the team. Returns the
    conversation and the stored message. A closed conversation refuses (409); a contact
    flagged as a bot (the prechat form's traps) is stored but emails nobody."""
    if conversation.status == Conversation.Status.CLOSED:
        raise ConversationClosed("Start a new conversation.")
    with transaction.atomic():
        conversation = conversation_notify_email_set(conversation=conversation, email=email)
        if conversation.status == Conversation.Status.BOT:
            conversation_handoff(conversation=conversation)
        stored = None
        if message.strip():
            stored, _ = visitor_message_send(conversation=conversation, text=message)
        conversation.refresh_from_db(fields=["last_seq", "status"])
        if conversation.contact is None or not conversation.contact.flagged_as_bot:
            team_handoff_notify(conversation)  # a contact flagged as a bot never emails the team
    return conversation, stored
