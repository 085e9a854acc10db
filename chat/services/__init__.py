"""Writes of the chat app, by subdomain: ``messages``, ``conversations``. Preconditions:
the tenant's schema is active (the routing middleware, a task or ``schema_context``)."""

from .conversations import HANDOFF_NOTE, conversation_close, conversation_handoff, conversation_rate
from .messages import (
    MAX_ANSWER_CHARS,
    MAX_MESSAGE_CHARS,
    ClientMessageIdReused,
    message_append,
    message_feedback,
)

__all__ = [
    "HANDOFF_NOTE",
    "MAX_ANSWER_CHARS",
    "MAX_MESSAGE_CHARS",
    "ClientMessageIdReused",
    "conversation_close",
    "conversation_handoff",
    "conversation_rate",
    "message_append",
    "message_feedback",
]
