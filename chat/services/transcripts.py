"""A conversation's transcript emailed to its visitor. Preconditions: the tenant's schema
is active (the task runs in the schema it was sent from)."""

from __future__ import annotations

from django.db import connection
from django.utils import timezone

from ui.emails import email_send

from ..models import Conversation, Message


def conversation_transcript_send(*, conversation: Conversation) -> bool:
    """Email ``conversation``'s transcript to its contact's address (text and HTML parts;
    everything visitors, agents and the model wrote is escaped) and record when. Returns
    False, sending nothing, when the contact has no address. Which addresses may receive
    transcripts is the caller's rule (the widget API's)."""
    contact = conversation.contact
    if contact is None or not contact.email:
        return False
    context = {
        "conversation": conversation,
        "widget": conversation.widget,
        "messages": conversation.messages.exclude(
            role__in=(Message.Role.SYSTEM, *Message.VISITOR_HIDDEN)
        ).order_by("seq"),
        "tenant": getattr(connection, "tenant", None),
    }
    email_send(
        subject=f"Your conversation with {conversation.widget.bot_name}",
        template="chat/email/transcript",
        context=context,
        to=[contact.email],
    )
    conversation.transcript_sent_at = timezone.now()
    conversation.save(update_fields=["transcript_sent_at"])
    return True
