"""Reads for assist. Preconditions: the tenant's schema is active."""

from __future__ import annotations

from collections.abc import Iterable

from django.http import HttpRequest

from chat.models import Conversation, Message

from .languages import language_code, request_language
from .models import AssistSettings, ConversationSummary, MemberLanguage, MessageTranslation
from .prompts import TRANSCRIPT_MESSAGES


def assist_settings() -> AssistSettings:
    """The stored row, or the unsaved defaults (translation off)."""
    return AssistSettings.objects.order_by("pk").first() or AssistSettings()


def member_language(user_id: int, request: HttpRequest | None = None) -> str:
    """The language the member chose, else their browser's (``request``), else English."""
    chosen = MemberLanguage.objects.filter(user_id=user_id).values_list("language", flat=True).first()
    if chosen:
        return chosen
    return request_language(request) if request is not None else "en"


def member_language_choice(user_id: int) -> str:
    """What the member chose ("" : their browser's language)."""
    return MemberLanguage.objects.filter(user_id=user_id).values_list("language", flat=True).first() or ""


def recent_messages(conversation: Conversation, *, limit: int = TRANSCRIPT_MESSAGES) -> list[Message]:
    """The newest messages visitors see (no private notes), oldest first."""
    newest = (
        Message.objects.filter(conversation=conversation)
        .exclude(role=Message.Role.NOTE)
        .only("role", "text", "seq")
        .order_by("-seq")[:limit]
    )
    return list(reversed(list(newest)))


def visitor_language(conversation: Conversation) -> str:
    """The visitor's language: the widget's locale or their browser's (the contact's
    locale), else what translation found their messages were written in; "" when unknown."""
    contact = conversation.contact
    known = language_code(contact.locale) if contact is not None else ""
    if known:
        return known
    detected = (
        MessageTranslation.objects.filter(
            message__conversation=conversation, message__role=Message.Role.VISITOR
        )
        .exclude(source_language="")
        .order_by("-message__seq")
        .values_list("source_language", flat=True)
        .first()
    )
    return language_code(detected)


def conversation_summary(conversation: Conversation) -> ConversationSummary | None:
    return ConversationSummary.objects.filter(conversation=conversation).first()


def translations_of(message_ids: Iterable[int], language: str) -> dict[int, MessageTranslation]:
    """The translations into ``language`` of these messages, by message id (one query)."""
    rows = MessageTranslation.objects.filter(message_id__in=list(message_ids), language=language)
    return {row.message_id: row for row in rows}


def reply_originals(message_ids: Iterable[int]) -> dict[int, MessageTranslation]:
    """Agents' translated replies: what the agent wrote, by message id (one query)."""
    rows = MessageTranslation.objects.filter(
        message_id__in=list(message_ids), message__role=Message.Role.AGENT
    ).order_by("id")
    return {row.message_id: row for row in rows}
