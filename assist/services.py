"""Writes and provider calls of assist: a suggested reply, a rewrite, a conversation's
summary, a message's translation, an agent's reply sent in the visitor's language, and the
settings. Preconditions: the tenant's schema is active; callers check that the member may
reply in the conversation. Every provider call counts one AI answer (``calls.assist_call``)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from audit.services import audit_record, field_changes
from chat.answering import cited_passages
from chat.answering.prompt import relevant_passages
from chat.models import BotSettings, Conversation, Message
from chat.selectors import bot_snapshot
from chat.services import MAX_MESSAGE_CHARS
from chat.services.agent_files import agent_reply_with_files
from chat.services.inbox import agent_reply_send
from saas.errors import ProblemError, ValidationFailed
from tenants.models import Tenant, User

from .calls import AssistNotConfigured, any_model, assist_call, has_model
from .languages import NAMES, language_code, same_language
from .models import AssistSettings, ConversationSummary, MemberLanguage, MessageTranslation
from .offline import offline_draft, offline_rewrite, offline_summary
from .prompts import (
    STYLES,
    draft_request,
    rewrite_request,
    summary_request,
    translate_request,
    translation_parse,
)
from .selectors import assist_settings, recent_messages, visitor_language

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Assisted:
    """Text for the composer: never sent by itself."""

    text: str
    provider: str
    offline: bool
    citations: list[dict[str, Any]] = field(default_factory=list)


def bot_of(conversation: Conversation) -> BotSettings:
    """The bot whose provider assist uses for ``conversation`` (its widget's)."""
    return bot_snapshot(conversation.widget).bot


def _invalid(name: str, message: str, code: str = "invalid") -> ValidationFailed:
    return ValidationFailed(errors={name: [{"code": code, "message": message}]})


# --- agent assist --------------------------------------------------------------------------


def assist_draft(*, tenant: Tenant, conversation: Conversation) -> Assisted:
    """A reply to the visitor's last message drafted from the bot's knowledge bases, with
    the passages it cites. The offline provider quotes the best passages ("" when nothing
    matches)."""
    snapshot = bot_snapshot(conversation.widget)
    messages = recent_messages(conversation)
    question = next((m.text for m in reversed(messages) if m.role == Message.Role.VISITOR), "")
    passages = relevant_passages(question, snapshot.knowledge_base_ids or None)[0] if question else []
    called = assist_call(
        tenant=tenant,
        bot=snapshot.bot,
        build=lambda choice: draft_request(
            snapshot.bot, choice.provider.model, messages=messages, question=question, passages=passages
        ),
        offline=offline_draft,
    )
    text = called.text[:MAX_MESSAGE_CHARS]
    return Assisted(text, called.provider, called.offline, cited_passages(text, passages))


def assist_rewrite(*, tenant: Tenant, conversation: Conversation, text: str, style: str) -> Assisted:
    """The agent's draft rewritten: ``style`` is "shorter", "friendlier" or "grammar"."""
    text = (text or "").strip()
    if style not in STYLES:
        raise _invalid("style", f"Choose one of: {', '.join(STYLES)}.")
    if not text:
        raise _invalid("text", "Write a draft first.", "required")
    if len(text) > MAX_MESSAGE_CHARS:
        raise _invalid("text", f"Keep messages under {MAX_MESSAGE_CHARS} characters.", "too_long")
    called = assist_call(
        tenant=tenant,
        bot=bot_of(conversation),
        build=lambda choice: rewrite_request(choice.provider.model, text=text, style=style),
        offline=lambda _request: offline_rewrite(text, style),
    )
    return Assisted(called.text[:MAX_MESSAGE_CHARS], called.provider, called.offline)


def conversation_summarise(
    *, tenant: Tenant, conversation: Conversation, reason: str, language: str = "en", force: bool = True
) -> ConversationSummary:
    """Summarise the conversation for agents and keep it (one per conversation, replaced).
    ``force=False`` (the automatic summaries): nothing is called when the stored summary
    already covers the last message. A failed call is recorded on the summary (``error``)
    and raised."""
    messages = recent_messages(conversation)
    last_seq = messages[-1].seq if messages else 0
    stored = ConversationSummary.objects.filter(conversation=conversation).first()
    if not force and stored is not None and stored.text and stored.up_to_seq >= last_seq:
        return stored
    handed_off = conversation.handoff_requested_at is not None
    try:
        called = assist_call(
            tenant=tenant,
            bot=bot_of(conversation),
            build=lambda choice: summary_request(choice.provider.model, messages=messages, language=language),
            offline=lambda _request: offline_summary(messages, handed_off=handed_off),
        )
    except ProblemError as error:
        _summary_store(conversation, reason=reason, error=error.detail[:200])
        raise
    return _summary_store(
        conversation, reason=reason, text=called.text[:2000], up_to_seq=last_seq, provider=called.provider
    )


def _summary_store(conversation: Conversation, *, reason: str, **values: Any) -> ConversationSummary:
    values.setdefault("error", "")
    with transaction.atomic():
        summary, _ = ConversationSummary.objects.select_for_update().get_or_create(conversation=conversation)
        if "text" not in values and summary.text:
            values = {"error": values["error"]}  # a failed refresh keeps the summary it had
        for name, value in {**values, "reason": reason, "updated_at": timezone.now()}.items():
            setattr(summary, name, value)
        summary.save(update_fields=[*values, "reason", "updated_at"])
    return summary


# --- translation ----------------------------------------------------------------------------


def message_translate(*, tenant: Tenant, message: Message, language: str) -> MessageTranslation:
    """``message`` (a visitor's) in ``language``, kept. Languages that match are not
    translated (state "same"); a failed call is kept as "failed" (the inbox shows the
    original with a marker) and tried again next time."""
    language = language_code(language)
    found = MessageTranslation.objects.filter(message=message, language=language).first()
    if found is not None and found.state != MessageTranslation.State.FAILED:
        return found
    conversation = message.conversation
    known = visitor_language(conversation)
    if same_language(known, language):
        return _translation_store(
            message, language, state=MessageTranslation.State.SAME, source_language=known
        )
    bot = bot_of(conversation)
    if not assist_settings().translation_enabled or not has_model(bot):
        raise AssistNotConfigured("Translation is off in this workspace, or no AI provider is configured.")
    try:
        called = assist_call(
            tenant=tenant,
            bot=bot,
            build=lambda choice: translate_request(choice.provider.model, text=message.text, target=language),
        )
    except ProblemError as error:
        return _translation_store(
            message, language, state=MessageTranslation.State.FAILED, error=error.detail[:200]
        )
    parsed = translation_parse(called.text)
    source = language_code(parsed.source_language) or known
    if same_language(source, language):
        return _translation_store(
            message, language, state=MessageTranslation.State.SAME, source_language=source
        )
    return _translation_store(
        message, language, text=parsed.text or message.text, source_language=source, provider=called.provider
    )


def _translation_store(message: Message, language: str, **values: Any) -> MessageTranslation:
    values = {"state": MessageTranslation.State.DONE, "text": "", "error": "", **values}
    try:
        with transaction.atomic():
            row, _ = MessageTranslation.objects.update_or_create(
                message=message, language=language, defaults=values
            )
    except IntegrityError:  # made at the same moment by another worker: theirs stands
        row = MessageTranslation.objects.get(message=message, language=language)
    return row


def agent_reply_translated_send(
    *,
    tenant: Tenant,
    conversation: Conversation,
    user: User,
    text: str,
    language: str,
    uploads: Sequence[UploadedFile] = (),
    client_message_id: str | None = None,
) -> Message:
    """The agent's reply (written in ``language``) sent in the visitor's language when the
    workspace translates and the languages differ; what the agent wrote is kept beside it.
    Translated in the request, within ``ASSIST_REPLY_DEADLINE_SECONDS`` (the visitor gets
    the reply at once, never a second version later): a failed translation sends the text
    as written, marked "failed" for the agent. A retried send (same client message id)
    returns the stored reply without translating again."""
    if client_message_id:
        sent = Message.objects.filter(conversation=conversation, client_message_id=client_message_id).first()
        if sent is not None:
            return sent
    target = visitor_language(conversation)
    bot = bot_of(conversation)
    language = language_code(language)
    if not (assist_settings().translation_enabled and target and has_model(bot)) or same_language(
        target, language
    ):
        return _reply_send(conversation, user, text, uploads, client_message_id)
    state, error, sent_text, provider = MessageTranslation.State.DONE, "", text, ""
    try:
        called = assist_call(
            tenant=tenant,
            bot=bot,
            build=lambda choice: translate_request(choice.provider.model, text=text, target=target),
            deadline_s=_reply_deadline(),
        )
        sent_text = translation_parse(called.text).text[:MAX_MESSAGE_CHARS] or text
        provider = called.provider
    except ProblemError as problem:
        logger.warning("reply sent untranslated conversation=%s: %s", conversation.pk, problem.code)
        state, error = MessageTranslation.State.FAILED, problem.detail[:200]
    with transaction.atomic():
        message = _reply_send(conversation, user, sent_text, uploads, client_message_id)
        MessageTranslation.objects.create(
            message=message,
            language=language,
            text=text,
            source_language=target,
            state=state,
            provider=provider,
            error=error,
        )
    return message


def _reply_deadline() -> float:
    return float(settings.ASSIST_REPLY_DEADLINE_SECONDS)


def _reply_send(
    conversation: Conversation,
    user: User,
    text: str,
    uploads: Sequence[UploadedFile],
    client_message_id: str | None,
) -> Message:
    if uploads:
        return agent_reply_with_files(
            conversation=conversation,
            user=user,
            text=text,
            uploads=list(uploads),
            client_message_id=client_message_id,
        )
    return agent_reply_send(
        conversation=conversation, user=user, text=text, client_message_id=client_message_id
    )


# --- settings -------------------------------------------------------------------------------


def assist_settings_update(*, request: HttpRequest | None, translation_enabled: bool) -> AssistSettings:
    """The workspace's switch for two-way translation; recorded in the audit log when it
    changes. Turning it on is refused while no widget's bot has a model to translate with."""
    if translation_enabled and not any_model():
        raise _invalid(
            "translation_enabled", "Translation needs an AI provider: configure one for a widget's bot."
        )
    with transaction.atomic():
        row = assist_settings()
        before = {"translation_enabled": row.translation_enabled}
        row.translation_enabled = translation_enabled
        row.save()
        changes = field_changes(before, {"translation_enabled": translation_enabled}, shown=before)
        if changes:
            audit_record(action="assist.settings_changed", request=request, metadata=changes)
    return row


def member_language_set(*, user_id: int, language: str) -> MemberLanguage:
    """The language a member reads in ("" : their browser's)."""
    if language and language not in NAMES:
        raise _invalid("language", "Choose a language from the list.")
    with transaction.atomic():
        row, _ = MemberLanguage.objects.update_or_create(user_id=user_id, defaults={"language": language})
    return row
