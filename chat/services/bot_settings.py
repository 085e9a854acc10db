"""Writes for a widget's bot settings: one service for the dashboard form and the REST API,
holding the rules. Own keys and servers need a plan that allows them; a tenant's server
must be on the public internet; an own Anthropic or OpenAI key is required where one is
used; a stored key stays only with the endpoint it was given for. Preconditions: the
tenant's schema is active."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.db import transaction

from audit.services import Caller, audit_record, field_changes
from billing.plans import Plan, plan_upgrade_for_feature
from knowledge.models import KnowledgeBase
from saas.crypto import secret_encrypt, secret_hint, secret_rotate
from saas.errors import ValidationFailed
from saas.outbound import UnsafeAddress, endpoint_key_kept, url_host_check
from widget_builder.models import Widget

from ..attachments import KIND_LABELS
from ..handoff_phrases import LANGUAGE_NAMES, phrases_clean
from ..models import BotSettings
from ..selectors import bot_snapshot_forget
from .model_fields import FieldErrors, model_field_errors

OWN_KEY_PROVIDERS = frozenset({BotSettings.Provider.ANTHROPIC, BotSettings.Provider.OPENAI})


def bot_settings_update(
    *,
    widget: Widget,
    plan: Plan,
    provider: str | None = None,
    model: str | None = None,
    base_url: str | None = None,
    key_source: str | None = None,
    api_key: str | None = None,
    remove_key: bool = False,
    temperature: float | None = None,
    max_answer_tokens: int | None = None,
    persona: str | None = None,
    language: str | None = None,
    knowledge_only: bool | None = None,
    no_answer_text: str | None = None,
    unavailable_text: str | None = None,
    offer_handoff: bool | None = None,
    human_support: bool | None = None,
    handoff_phrases: Mapping[str, Iterable[str]] | None = None,
    knowledge_bases: Iterable[KnowledgeBase] | None = None,
    attachment_kinds: Iterable[str] | None = None,
    attachment_max_mb: int | None = None,
    files_as_context: bool | None = None,
    request: Caller | None = None,
) -> BotSettings:
    """Change the bot of ``widget`` under ``plan`` (the tenant's current plan), creating its
    row on the first change; a setting given as ``None`` stays as stored.

    ``api_key`` is a new key for the endpoint being saved: it is stored encrypted
    (``saas.crypto``) and only its hint is kept readable. ``remove_key`` wipes the stored
    key, and so does any change of provider or server address
    (``saas.outbound.endpoint_key_kept``): a key is never sent to an endpoint it was not
    given for. ``knowledge_bases`` replaces the bot's knowledge bases (none: all of them);
    ``attachment_kinds`` are among ``chat.attachments.KIND_LABELS``; ``files_as_context``:
    the bot reads visitors' attached files as their conversation's context (docs/files.md).
    ``human_support``: people answer on this widget (requests for a person in words are handed off);
    ``handoff_phrases`` replaces the widget's own phrase lists (``{lang: [phrases]}``, a
    language left out or empty uses the shipped list: chat.handoff_phrases).

    Refusals raise ``ValidationFailed`` with errors per field and store nothing.
    Preconditions: the tenant's schema is active. The bot's row is locked for the change;
    the server address is resolved (DNS) while it is held. The cached bot snapshot is
    forgotten when the change commits.

    Recorded in the audit log: ``bot.settings_changed`` (the fields changed, old and new
    values of the plain ones), and ``bot.llm_key_set`` / ``bot.llm_key_removed`` when the
    bot's own key is given or wiped (the provider only, never the key nor its hint).
    """
    changes: dict[str, Any] = {
        name: value
        for name, value in {
            "provider": provider,
            "model": model,
            "base_url": base_url,
            "key_source": key_source,
            "temperature": temperature,
            "max_answer_tokens": max_answer_tokens,
            "persona": persona,
            "language": language,
            "knowledge_only": knowledge_only,
            "no_answer_text": no_answer_text,
            "unavailable_text": unavailable_text,
            "offer_handoff": offer_handoff,
            "human_support": human_support,
            "attachment_max_mb": attachment_max_mb,
            "files_as_context": files_as_context,
        }.items()
        if value is not None
    }
    new_key = (api_key or "").strip()
    with transaction.atomic():
        bot, _ = BotSettings.objects.select_for_update().get_or_create(widget=widget)
        before = _audited(bot)
        had_key = bool(bot.api_key_encrypted)
        old_endpoint = (bot.provider, bot.base_url)
        for name, value in changes.items():
            setattr(bot, name, value)
        errors = model_field_errors(bot, fields=changes)
        listed = _lists_apply(bot, attachment_kinds, handoff_phrases, errors)
        key_kept = (
            bool(bot.api_key_encrypted)
            and not remove_key
            and endpoint_key_kept(old=old_endpoint, new=(bot.provider, bot.base_url))
        )
        _rule_errors(bot, plan=plan, has_key=bool(new_key) or key_kept, errors=errors)
        if errors:
            raise ValidationFailed("Some bot settings cannot be saved.", errors=errors)
        if new_key:
            bot.api_key_encrypted, bot.api_key_hint = secret_encrypt(new_key), secret_hint(new_key)
        elif not key_kept:
            bot.api_key_encrypted, bot.api_key_hint = "", ""
        bot.save(update_fields=[*changes, *listed, "api_key_encrypted", "api_key_hint", "updated_at"])
        if knowledge_bases is not None:
            bot.knowledge_bases.set(list(knowledge_bases))
        _audit(widget, bot, before=before, had_key=had_key, new_key=bool(new_key), request=request)
        widget_id = widget.pk
        # Answers read the bot through a cached snapshot: one read between the signal's
        # delete and the commit could cache the old settings again.
        transaction.on_commit(lambda: bot_snapshot_forget(widget_id))
    return bot


# Settings the audit log shows old and new values of; the others by name only (the server
# address may carry credentials, the lists are long).
AUDIT_SHOWN = (
    "provider",
    "model",
    "key_source",
    "temperature",
    "max_answer_tokens",
    "persona",
    "language",
    "knowledge_only",
    "no_answer_text",
    "unavailable_text",
    "offer_handoff",
    "human_support",
    "attachment_max_mb",
    "files_as_context",
)
AUDITED = (*AUDIT_SHOWN, "base_url", "attachment_kinds", "handoff_phrases")


def _audited(bot: BotSettings) -> dict[str, Any]:
    values = {name: getattr(bot, name) for name in AUDITED}
    values["knowledge_bases"] = sorted(bot.knowledge_bases.values_list("pk", flat=True)) if bot.pk else []
    return values


def _audit(
    widget: Widget,
    bot: BotSettings,
    *,
    before: dict[str, Any],
    had_key: bool,
    new_key: bool,
    request: Caller | None,
) -> None:
    def record(action: str, metadata: dict[str, Any]) -> None:
        audit_record(
            action=action,
            request=request,
            target_type="widget",
            target_id=str(widget.pk),
            target_repr=widget.name,
            metadata=metadata,
        )

    changes = field_changes(before, _audited(bot), shown=AUDIT_SHOWN)
    if changes:
        record("bot.settings_changed", changes)
    if new_key:
        record("bot.llm_key_set", {"provider": bot.provider})
    elif had_key and not bot.api_key_encrypted:
        record("bot.llm_key_removed", {"provider": bot.provider})


def _lists_apply(
    bot: BotSettings,
    attachment_kinds: Iterable[str] | None,
    handoff_phrases: Mapping[str, Iterable[str]] | None,
    errors: FieldErrors,
) -> list[str]:
    """The list settings given (attachment kinds; the widget's own phrase lists, cleaned by
    chat.handoff_phrases.phrases_clean) on ``bot``, what is wrong with them in ``errors``;
    returns the fields set."""
    fields = []
    if attachment_kinds is not None:
        kinds = set(attachment_kinds)
        if unknown := sorted(kinds - set(KIND_LABELS)):
            errors["attachment_kinds"] = [
                {"code": "invalid_choice", "message": f"Unknown attachment kind: {', '.join(unknown)}."}
            ]
        bot.attachment_kinds = [kind for kind in KIND_LABELS if kind in kinds]
        fields.append("attachment_kinds")
    if handoff_phrases is not None:
        cleaned, problems = phrases_clean(handoff_phrases)
        for lang, message in problems.items():
            errors.setdefault("handoff_phrases", []).append(
                {"code": "invalid", "message": f"{LANGUAGE_NAMES.get(lang, lang)}: {message}"}
            )
        bot.handoff_phrases = cleaned
        fields.append("handoff_phrases")
    return fields


def _rule_errors(bot: BotSettings, *, plan: Plan, has_key: bool, errors: FieldErrors) -> None:
    """Add to ``errors`` what the settings of ``bot`` (changed, unsaved) break. Fields the
    model's checks already refused are not checked again."""

    def refuse(field: str, code: str, message: str) -> None:
        errors.setdefault(field, []).append({"code": code, "message": message})

    compatible = bot.provider == BotSettings.Provider.OPENAI_COMPATIBLE
    if compatible and "base_url" not in errors:
        if not bot.base_url:
            refuse("base_url", "required", "Enter the address of your OpenAI-compatible server.")
        else:
            try:
                url_host_check(bot.base_url, allow_private=settings.LLM_ALLOW_PRIVATE_BASE_URLS)
            except UnsafeAddress as exc:
                refuse("base_url", "unsafe_address", str(exc))
    own_key = bot.provider in OWN_KEY_PROVIDERS and bot.key_source == BotSettings.KeySource.OWN
    if (compatible or own_key) and not plan.own_llm_key:
        upgrade = plan_upgrade_for_feature("own_llm_key")
        refuse(
            "provider" if compatible else "key_source",
            "plan_upgrade_required",
            f"Your own API key or server needs the {upgrade.name} plan or higher "
            f"(this workspace is on {plan.name}).",
        )
    if own_key and not has_key:
        refuse("api_key", "required", "Paste your API key, or use the platform key.")


def bot_settings_secrets_rotate() -> int:
    """Re-encrypt every bot's own LLM key under the current master key (``saas.crypto``,
    ``manage.py rotate_secrets``); returns how many were rotated. Precondition: the
    tenant's schema is active."""
    rotated = 0
    with transaction.atomic():
        for bot in BotSettings.objects.select_for_update().exclude(api_key_encrypted=""):
            bot.api_key_encrypted = secret_rotate(bot.api_key_encrypted)
            bot.save(update_fields=["api_key_encrypted"])
            rotated += 1
    return rotated
