"""Which provider answers for a bot, and with whose key."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from saas.crypto import secret_decrypt
from saas.netsafety import UnsafeAddress, url_host_check

from .anthropic_provider import AnthropicProvider
from .base import Provider, ProviderError
from .offline import OfflineProvider
from .openai_provider import OpenAIProvider


@dataclass(frozen=True)
class ProviderChoice:
    provider: Provider
    own_key: bool  # the tenant pays the provider; no platform credits are spent


def platform_provider_name() -> str:
    if settings.LLM_PROVIDER:
        return settings.LLM_PROVIDER
    if settings.ANTHROPIC_API_KEY:
        return "anthropic"
    if settings.OPENAI_API_KEY:
        return "openai"
    return "offline"


def provider_for(bot) -> ProviderChoice:
    """The provider for ``bot`` (chat.models.BotSettings). Raises ProviderError
    ("misconfigured") when the bot names a provider it cannot use."""
    name = bot.provider if bot.provider != "platform" else platform_provider_name()
    own = bot.key_source == "own" and bot.provider != "platform"
    timeout = settings.LLM_DEADLINE_SECONDS
    if name == "offline":
        return ProviderChoice(OfflineProvider(), own_key=False)
    if name == "anthropic":
        key = secret_decrypt(bot.api_key_encrypted) if own else settings.ANTHROPIC_API_KEY
        if not key:
            raise ProviderError("misconfigured", "No Anthropic API key is configured.")
        base = "" if own else settings.ANTHROPIC_BASE_URL
        model = bot.model or (settings.LLM_MODEL if bot.provider == "platform" else "")
        return ProviderChoice(
            AnthropicProvider(api_key=key, base_url=base, model=model, timeout=timeout), own
        )
    if name in ("openai", "openai_compatible"):
        compatible = name == "openai_compatible"
        if own or (compatible and bot.provider != "platform"):
            key = secret_decrypt(bot.api_key_encrypted)
            base = bot.base_url if compatible else ""
        else:
            key, base = settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL
        if compatible and not base:
            raise ProviderError("misconfigured", "No server address is configured.")
        if not compatible and not key:
            raise ProviderError("misconfigured", "No OpenAI API key is configured.")
        if compatible and bot.provider != "platform":
            try:
                url_host_check(base, allow_private=settings.LLM_ALLOW_PRIVATE_BASE_URLS)
            except UnsafeAddress as exc:
                raise ProviderError("misconfigured", str(exc)) from exc
        model = bot.model or (settings.LLM_MODEL if bot.provider == "platform" else "")
        provider = OpenAIProvider(
            api_key=key, base_url=base, model=model, timeout=timeout, compatible=compatible
        )
        # A tenant's own server is theirs to pay for, whatever key it takes.
        return ProviderChoice(provider, own or (compatible and bot.provider != "platform"))
    raise ProviderError("misconfigured", f"Unknown provider {name!r}.")
