"""Reads of the chat app: messages as visitors see them, a widget's bot (cached for
answers), and the dashboard's lists. Reads never write. Preconditions: the tenant's
schema is active."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Max, Prefetch, Q, QuerySet
from django.db.models.functions import Left, TruncDate

from billing.models import UsageCounter
from billing.quotas import tenant_plan
from billing.selectors import quota_reached, usage_value
from saas.tenant_cache import cache_version_bump
from saas.tenant_connection import connection
from tenants.models import Tenant
from widget_builder.models import Widget

from .cards import card_visible
from .models import Attachment, AutomationRule, BotSettings, Conversation, Message

PREVIEW_CHARS = 160


def _attachment_shown(entry: dict[str, Any]) -> dict[str, Any]:
    """An attachment as visitors see it; one removed by retention keeps only its name."""
    shown = {k: entry.get(k) for k in ("id", "name", "content_type", "size")}
    removed = bool(entry.get("removed_at"))
    # Read by the bot as the conversation's context ("ready"), could not be read ("failed",
    # with the reason), or not read (null).
    status = None if removed else entry.get("context_status")
    return {
        **shown,
        "removed": removed,
        "context_status": status,
        "context_error": entry.get("context_error", "") if status else "",
    }


def message_payload(message: Message) -> dict[str, Any]:
    """A message as visitors see it (the widget API and the answer stream): never tokens,
    costs, scores or the provider."""
    return {
        "seq": message.seq,
        "role": message.role,
        "text": message.text,
        "citations": [
            {k: c.get(k) for k in ("n", "title", "url", "file", "page")} | {"rows": c.get("rows") or []}
            for c in message.citations
        ],
        "attachments": [_attachment_shown(a) for a in message.attachments],
        "created_at": message.created_at.isoformat(),
        "client_message_id": message.client_message_id if message.role == Message.Role.VISITOR else "",
        "feedback": message.feedback_rating,
        "author_name": message.author_name if message.role == Message.Role.AGENT else "",
        "card": card_visible(message.card),
    }


def bot_settings_for(widget: Widget) -> BotSettings:
    """The widget's bot settings: the stored row, or the defaults unsaved when none is
    stored yet (``chat.services.bot_settings_update`` creates the row). An unsaved bot
    has no knowledge bases of its own (``pk`` is None): it searches all of them."""
    return BotSettings.objects.filter(widget=widget).first() or BotSettings(widget_id=widget.pk)


def automations_for(widget: Widget) -> list[AutomationRule]:
    return list(AutomationRule.objects.filter(widget=widget, is_enabled=True).order_by("position", "id"))


@dataclass(frozen=True)
class BotSnapshot:
    """What answering a message needs to know about a widget's bot, in one cache read."""

    bot: BotSettings
    knowledge_base_ids: list[int]
    automations: list[AutomationRule]


# The version of every bot of the schema: bumped when a knowledge base goes (its links to
# bots go with it, by cascade, without a signal per bot).
_ALL_BOTS_VERSION = "chat:bots-version"


def _snapshot_keys(widget_id: int) -> tuple[str, str]:
    # The cache key function adds the tenant's schema.
    return f"chat:bot-version:{widget_id}", f"chat:bot:{widget_id}"


def _snapshot_key(widget_id: int) -> str:
    """Where the widget's bot is cached now (its current version's entry)."""
    version_key, entry_key = _snapshot_keys(widget_id)
    versions = cache.get_many([version_key, _ALL_BOTS_VERSION])
    return f"{entry_key}:{versions.get(version_key, 0)}:{versions.get(_ALL_BOTS_VERSION, 0)}"


def bot_snapshot(widget: Widget) -> BotSnapshot:
    """The bot settings, knowledge bases and enabled automations of ``widget``, cached
    until they change, under a per-widget version that every change bumps
    (``bot_snapshot_forget``: wired to the models' signals in ``ChatConfig.ready``, and
    called by the services when a change commits): a request that read them just before a
    change commits stores its stale copy under the old version, where nobody looks."""
    key = _snapshot_key(widget.pk)
    snapshot: BotSnapshot | None = cache.get(key)
    if snapshot is None:
        bot = bot_settings_for(widget)
        snapshot = BotSnapshot(
            bot=bot,
            knowledge_base_ids=list(bot.knowledge_bases.values_list("pk", flat=True)) if bot.pk else [],
            automations=automations_for(widget),
        )
        cache.set(key, snapshot, settings.WIDGET_SNAPSHOT_SECONDS)
    return snapshot


def bot_snapshot_forget(widget_id: int | None) -> None:
    """Drop the widget's cached bot (every bot of the schema: ``None``) now and again when
    the current transaction commits."""
    version_key = _snapshot_keys(widget_id)[0] if widget_id is not None else _ALL_BOTS_VERSION
    cache_version_bump(version_key, schema=connection.schema_name)


# --- the dashboard -------------------------------------------------------------------------


def conversation_last_messages(conversation_ids: list[int]) -> dict[int, tuple[str, str]]:
    """The last message of each conversation other than a system event, as (role, the
    start of its text): the list's preview of a page of conversations, in one query."""
    rows = (
        Message.objects.filter(conversation_id__in=conversation_ids)
        .exclude(role=Message.Role.SYSTEM)
        .order_by("conversation_id", "-seq")
        .distinct("conversation_id")
        .annotate(head=Left("text", PREVIEW_CHARS))
        .values_list("conversation_id", "role", "head")
    )
    return {conversation_id: (role, head) for conversation_id, role, head in rows}


def transcript_messages(conversation: Conversation) -> list[Message]:
    """Every message of ``conversation`` in order, with the rule that sent it and its
    attachment files (three queries)."""
    return list(
        conversation.messages.select_related("automation_rule")
        .prefetch_related(Prefetch("attachment_files", queryset=Attachment.objects.order_by("id")))
        .order_by("seq")
    )


def automation_rules_with_firings(widget: Widget) -> QuerySet[AutomationRule]:
    """The widget's rules in the order they are tried, each with ``fire_count`` and
    ``last_fired``."""
    return (
        AutomationRule.objects.filter(widget=widget)
        .annotate(fire_count=Count("firings"), last_fired=Max("firings__fired_at"))
        .order_by("position", "id")
    )


@dataclass(frozen=True)
class AnswerUsage:
    used: int
    limit: int | None  # None: unlimited
    reached: bool  # refusals have started this period (the owners were told)


def ai_answer_usage(tenant: Tenant) -> AnswerUsage:
    """AI answers on platform credits this period against the plan's limit."""
    metric = UsageCounter.Metric.AI_ANSWERS
    return AnswerUsage(
        used=usage_value(tenant_id=tenant.pk, metric=metric),
        limit=tenant_plan(tenant).ai_answers,
        reached=quota_reached(tenant_id=tenant.pk, metric=metric),
    )


# AI answers: the bot's replies to a visitor's message (not greetings or automation replies).
AI_ANSWER = Q(role=Message.Role.BOT, reply_to__isnull=False, automation_rule__isnull=True)


def _per_utc_day(messages: QuerySet[Message], start: datetime, end: datetime) -> Mapping[date, int]:
    rows = (
        messages.filter(created_at__gte=start, created_at__lt=end)
        .annotate(day=TruncDate("created_at", tzinfo=UTC))
        .order_by()
        .values("day")
        .annotate(n=Count("id"))
    )
    return {row["day"]: row["n"] for row in rows}


def messages_per_day(*, start: datetime, end: datetime) -> Mapping[date, int]:
    """Messages of every role but private notes, per UTC day (the platform's statistics)."""
    return _per_utc_day(Message.objects.exclude(role=Message.Role.NOTE), start, end)


def ai_answers_per_day(*, start: datetime, end: datetime) -> Mapping[date, int]:
    return _per_utc_day(Message.objects.filter(AI_ANSWER), start, end)
