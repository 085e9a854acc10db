"""Which provider answers for a bot, and with whose key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from django.conf import settings

from saas.crypto import secret_decrypt
from saas.outbound import UnsafeAddress, url_host_check

from .anthropic_provider import AnthropicProvider
from .base import Provider, ProviderError
from .offline import OfflineProvider
from .openai_provider import OpenAIProvider


@dataclass(frozen=True)
class ProviderChoice:
    provider: Provider
    own_key: bool  # the tenant pays the provider; no platform credits are spent


class BotChoices(Protocol):
    """What a bot (chat.models.BotSettings) says about its provider."""

    @property
    def provider(self) -> str: ...
    @property
    def key_source(self) -> str: ...
    @property
    def model(self) -> str: ...
    @property
    def base_url(self) -> str: ...
    @property
    def api_key_encrypted(self) -> str: ...


def platform_provider_name() -> str:
    if settings.LLM_PROVIDER:
        configured: str = settings.LLM_PROVIDER
        return configured
    if settings.ANTHROPIC_API_KEY:
        return "anthropic"
    if settings.OPENAI_API_KEY:
        return "openai"
    if settings.LLM_BASE_URL:
        return "openai_compatible"
    return "offline"


def provider_for(bot: BotChoices, *, own_keys_allowed: bool = True) -> ProviderChoice:
    """The provider for ``bot`` (chat.models.BotSettings). Raises ProviderError
    ("misconfigured") when the bot names a provider it cannot use.

    Platform default: the platform's provider, model and key (plan credits). Anthropic or
    OpenAI chosen by the tenant: the platform's key, or the tenant's own. An OpenAI-compatible
    server chosen by the tenant: their server and key, only ever connected to through the
    guarded transport (saas.outbound: checked public addresses only). A plan that
    allows no own keys (``own_keys_allowed``, e.g. after a downgrade) gets the platform
    default instead of the tenant's key or server.
    """
    timeout = settings.LLM_DEADLINE_SECONDS
    platform = bot.provider == "platform" or (
        not own_keys_allowed and (bot.key_source == "own" or bot.provider == "openai_compatible")
    )
    name = platform_provider_name() if platform else bot.provider
    own = not platform and (bot.key_source == "own" or name == "openai_compatible")
    model = bot.model or (settings.LLM_MODEL if platform else "")
    key = secret_decrypt(bot.api_key_encrypted) if own else ""
    if name == "offline":
        return ProviderChoice(OfflineProvider(), own_key=False)
    if name == "anthropic":
        key = key if own else settings.ANTHROPIC_API_KEY
        if not key:
            raise ProviderError("misconfigured", "No Anthropic API key is configured.")
        provider: Provider = AnthropicProvider(
            api_key=key,
            base_url=settings.ANTHROPIC_BASE_URL,
            model=model,
            timeout=timeout,
            tenant_named=False,
        )
        return ProviderChoice(provider, own)
    if name == "openai":
        key = key if own else settings.OPENAI_API_KEY
        if not key:
            raise ProviderError("misconfigured", "No OpenAI API key is configured.")
        provider = OpenAIProvider(
            api_key=key, base_url=settings.OPENAI_BASE_URL, model=model, timeout=timeout, tenant_named=False
        )
        return ProviderChoice(provider, own)
    if name == "openai_compatible":
        base = settings.LLM_BASE_URL if platform else bot.base_url
        key = settings.LLM_API_KEY if platform else key
        if not base:
            raise ProviderError("misconfigured", "No server address is configured.")
        if not platform:
            # Refused early with a clear reason; the guarantee is the guarded transport's,
            # which resolves the name again for each connection and checks that answer.
            try:
                url_host_check(base, allow_private=settings.LLM_ALLOW_PRIVATE_BASE_URLS)
            except UnsafeAddress as exc:
                raise ProviderError("misconfigured", str(exc)) from exc
        provider = OpenAIProvider(
            api_key=key,
            base_url=base,
            model=model,
            timeout=timeout,
            compatible=True,
            tenant_named=not platform,
        )
        return ProviderChoice(provider, own)
    raise ProviderError("misconfigured", f"Unknown provider {name!r}.")
