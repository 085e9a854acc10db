"""One provider call for assist: the provider the conversation's bot uses (the tenant's
plan decides whether its own key may be used), one AI answer counted the way a bot answer
is (``chat.answering.provider_and_credit``) and given back when the call fails, the text
collected through the same deadline, retries and circuit breaker as the bot's answers.
Preconditions: the tenant's schema is active."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from billing.services import usage_refund
from chat.answering import provider_and_credit, run_from_sync
from chat.llm.base import LLMRequest, ProviderError, Usage
from chat.llm.registry import ProviderChoice, platform_provider_name
from chat.llm.resilience import stream_resilient
from chat.models import BotSettings
from chat.services import MAX_ANSWER_CHARS
from saas.errors import Conflict, ProblemError, QuotaExceeded
from tenants.models import Tenant

logger = logging.getLogger(__name__)


class AssistUnavailable(ProblemError):
    status = 503
    code = "assist_unavailable"
    title = "The AI provider is not answering"


class AssistNotConfigured(Conflict):
    code = "assist_not_configured"
    title = "No AI provider is configured for this"


@dataclass(frozen=True)
class Called:
    text: str
    provider: str
    offline: bool  # the offline provider: rules and quotes, no model


def provider_name(bot: BotSettings) -> str:
    """The kind of provider ``bot`` answers with (its own choice, or the platform's)."""
    return platform_provider_name() if bot.provider == BotSettings.Provider.PLATFORM else bot.provider


def has_model(bot: BotSettings) -> bool:
    """Whether a language model answers for ``bot`` (not the offline provider)."""
    return provider_name(bot) != "offline"


def any_model() -> bool:
    """Whether some bot of the workspace has a language model (the platform's provider, or
    a bot's own choice of one)."""
    if platform_provider_name() != "offline":
        return True
    own = BotSettings.objects.exclude(
        provider__in=(BotSettings.Provider.PLATFORM, BotSettings.Provider.OFFLINE)
    )
    return own.exists()


def assist_call(
    *,
    tenant: Tenant,
    bot: BotSettings,
    build: Callable[[ProviderChoice], LLMRequest],
    offline: Callable[[LLMRequest], str] | None = None,
    deadline_s: float | None = None,
) -> Called:
    """Ask the provider for ``build(choice)``, within ``deadline_s`` (default: the bot's
    answers'); with the offline provider, ``offline`` answers instead (None: this needs a
    model, refused). Raises AssistNotConfigured, QuotaExceeded
    (over the plan's AI answers: nothing called) or AssistUnavailable (the provider failed:
    the credit is given back)."""
    try:
        choice, metric = provider_and_credit(tenant, bot)
    except ProviderError as error:
        raise AssistNotConfigured(str(error)) from error
    if metric is None:
        raise QuotaExceeded(
            "This month's AI answers are used up: upgrade the plan for more.", limit="ai_answers"
        )
    request = build(choice)
    name = choice.provider.name
    try:
        if name == "offline":
            if offline is None:
                raise AssistNotConfigured("This needs an AI provider: the workspace answers offline.")
            return Called(offline(request), name, offline=True)
        text = _collect(choice, request, deadline_s)
    except BaseException:
        usage_refund(tenant_id=tenant.pk, metric=metric)
        raise
    return Called(text, name, offline=False)


def _collect(choice: ProviderChoice, request: LLMRequest, deadline_s: float | None) -> str:
    usage = Usage()

    async def run() -> str:
        parts: list[str] = []
        size = 0
        stream = stream_resilient(choice.provider, request, usage, deadline_s=deadline_s)
        async with contextlib.aclosing(stream) as deltas:
            async for delta in deltas:
                parts.append(delta)
                size += len(delta)
                if size > MAX_ANSWER_CHARS:  # a server ignoring max_tokens is not read further
                    break
        return "".join(parts)

    try:
        text = run_from_sync(run).strip()
    except ProviderError as error:
        logger.warning("assist call failed provider=%s kind=%s", choice.provider.name, error.kind)
        detail = {
            "spend_limit": "The provider refused: its spend limit is reached.",
            "auth": "The provider refused the API key: check the bot's settings.",
            "rate_limited": "The provider is rate limiting: try again in a moment.",
        }.get(error.kind, "The provider did not answer: try again in a moment.")
        raise AssistUnavailable(detail, headers={"Retry-After": "30"}) from error
    if not text:
        raise AssistUnavailable(
            "The provider answered with nothing: try again.", headers={"Retry-After": "5"}
        )
    return text
