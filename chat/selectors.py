"""Reads for conversations. Preconditions: the tenant's schema is active."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.cache import cache

from .models import AutomationRule, BotSettings, Message

BOT_SNAPSHOT_SECONDS = 60


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


@dataclass(frozen=True)
class BotSnapshot:
    """What answering a message needs to know about a widget's bot, in one cache read."""

    bot: BotSettings
    knowledge_base_ids: list[int]
    automations: list[AutomationRule]


def _snapshot_key(widget_id: int) -> str:
    return f"chat:bot:{widget_id}"  # the cache key function adds the tenant's schema


def bot_snapshot(widget) -> BotSnapshot:
    """The bot settings, knowledge bases and enabled automations of ``widget``, cached
    briefly and dropped on every change (``bot_snapshot_forget``, wired to the models'
    signals in ``ChatConfig.ready``)."""
    snapshot = cache.get(_snapshot_key(widget.pk))
    if snapshot is None:
        bot = bot_settings_for(widget)
        snapshot = BotSnapshot(
            bot=bot,
            knowledge_base_ids=list(bot.knowledge_bases.values_list("pk", flat=True)),
            automations=automations_for(widget),
        )
        cache.set(_snapshot_key(widget.pk), snapshot, BOT_SNAPSHOT_SECONDS)
    return snapshot


def bot_snapshot_forget(widget_id: int) -> None:
    cache.delete(_snapshot_key(widget_id))
