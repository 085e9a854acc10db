"""Writes of the chat app, by subdomain: ``messages``, ``conversations``, ``transcripts``,
``bot_settings``, ``automations``. Preconditions: the tenant's schema is active (the
routing middleware, a task or ``schema_context``)."""

from .automations import (
    automation_firing_create,
    automation_rule_create,
    automation_rule_delete,
    automation_rule_toggle,
    automation_rule_update,
)
from .bot_settings import OWN_KEY_PROVIDERS, bot_settings_update
from .conversations import HANDOFF_NOTE, conversation_close, conversation_handoff, conversation_rate
from .deletion import (
    Removed,
    attachments_remove,
    contacts_delete_unused,
    conversation_delete,
    conversations_delete,
)
from .messages import (
    MAX_ANSWER_CHARS,
    MAX_MESSAGE_CHARS,
    ClientMessageIdReused,
    message_append,
    message_feedback,
)
from .transcripts import conversation_transcript_send

__all__ = [
    "HANDOFF_NOTE",
    "MAX_ANSWER_CHARS",
    "MAX_MESSAGE_CHARS",
    "OWN_KEY_PROVIDERS",
    "ClientMessageIdReused",
    "Removed",
    "attachments_remove",
    "automation_firing_create",
    "automation_rule_create",
    "automation_rule_delete",
    "automation_rule_toggle",
    "automation_rule_update",
    "bot_settings_update",
    "contacts_delete_unused",
    "conversation_close",
    "conversation_delete",
    "conversation_handoff",
    "conversation_rate",
    "conversation_transcript_send",
    "conversations_delete",
    "message_append",
    "message_feedback",
]
