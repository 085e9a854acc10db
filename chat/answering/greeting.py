"""The greeting automation, sent when a conversation opens. Preconditions: the tenant's
schema is active."""

from __future__ import annotations

from ..models import AutomationRule, Conversation, Message
from ..services import automation_firing_create, message_append
from .outcome import Outcome


def conversation_greet(conversation: Conversation) -> Message | None:
    """Store the greeting automation's message when a conversation opens (logged)."""
    rule = (
        AutomationRule.objects.filter(
            widget_id=conversation.widget_id, kind=AutomationRule.Kind.GREETING, is_enabled=True
        )
        .order_by("position", "id")
        .first()
    )
    if rule is None:
        return None
    message, created = message_append(
        conversation=conversation,
        role=Message.Role.BOT,
        text=rule.reply,
        client_message_id=f"greeting:{rule.pk}",
        automation_rule=rule,
        outcome=Outcome.AUTOMATION,
    )
    if created:
        automation_firing_create(rule=rule, conversation=conversation, message=message)
    return message
