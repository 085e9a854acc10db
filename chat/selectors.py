"""Reads for conversations. Preconditions: the tenant's schema is active."""

from __future__ import annotations

from .models import AutomationRule, BotSettings, Message


def message_payload(message: Message) -> dict:
    """A message as visitors see it (the widget API and the answer stream): never tokens,
    costs, scores or the provider."""
    return {
        "seq": message.seq,
        "role": message.role,
        "text": message.text,
        "citations": [
            {k: c.get(k) for k in ("n", "title", "url", "file", "page")} for c in message.citations
        ],
        "attachments": [
            {k: a.get(k) for k in ("id", "name", "content_type", "size")} for a in message.attachments
        ],
        "created_at": message.created_at.isoformat(),
        "client_message_id": message.client_message_id if message.role == Message.Role.VISITOR else "",
        "feedback": message.feedback_rating,
    }


def bot_settings_for(widget) -> BotSettings:
    """The widget's bot settings, created with the defaults on first use."""
    bot = BotSettings.objects.filter(widget=widget).first()
    if bot is None:
        bot, _ = BotSettings.objects.get_or_create(widget=widget)
    return bot


def automations_for(widget) -> list[AutomationRule]:
    return list(AutomationRule.objects.filter(widget=widget, is_enabled=True).order_by("position", "id"))
