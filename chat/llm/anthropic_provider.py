"""Anthropic Messages API through the official SDK, streamed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import cast

import anthropic
import httpx2
from anthropic.types import MessageParam, TextDelta

from saas.outbound import UnsafeAddress
from saas.outbound.sdk import anthropic_async_client

from .base import LLMRequest, ProviderError, Turn, Usage, status_error, transport_error
from .clients import key_fingerprint

DEFAULT_MODEL = "claude-haiku-4-5"


def _error(exc: Exception) -> ProviderError:
    if isinstance(exc, anthropic.APIStatusError):
        body = exc.body if isinstance(exc.body, dict) else {}
        error = found if isinstance(found := body.get("error"), dict) else {}
        kind_name, message = str(error.get("type", "")), str(error.get("message", "")).lower()
        status = exc.status_code
        return status_error(
            status,
            exc.response.headers,
            spend_limit=kind_name == "billing_error" or status == 402 or "credit balance" in message,
            overloaded=status == 529 or kind_name == "overloaded_error",
        )
    return transport_error(
        timed_out=isinstance(exc, anthropic.APITimeoutError),
        unreachable=isinstance(exc, anthropic.APIConnectionError),
        exc=exc,
    )


def _message(turn: Turn) -> MessageParam:
    if turn.role == "user":
        return {"role": "user", "content": turn.text}
    return {"role": "assistant", "content": turn.text}


class AnthropicProvider:
    name = "anthropic"

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str = "",
        model: str = "",
        timeout: float = 30.0,
        tenant_named: bool = True,
    ):
        """``tenant_named`` False only for the operator's own endpoint (settings): any other
        is reached through the guarded transport (saas.outbound)."""
        self.model = model or DEFAULT_MODEL
        # One breaker per endpoint and key: a tenant's own key failing never pauses others.
        self.breaker_key = f"anthropic:{base_url or 'api.anthropic.com'}:{key_fingerprint(api_key)}"
        self._client_args = (api_key, base_url, timeout, tenant_named)

    def _client(self) -> anthropic.AsyncAnthropic:
        """The client of the running event loop (clients belong to their loop); it retries
        nothing: retries are ours (chat.llm.resilience)."""
        api_key, base_url, timeout, tenant_named = self._client_args
        return anthropic_async_client(
            api_key=api_key, base_url=base_url, timeout=timeout, tenant_named=tenant_named
        )

    async def stream(self, request: LLMRequest, usage: Usage) -> AsyncIterator[str]:
        try:
            stream = await self._client().messages.create(
                model=request.model or self.model,
                max_tokens=request.max_tokens,  # (this API version takes no temperature)
                system=request.system,
                messages=[_message(t) for t in request.turns],
                stream=True,
            )
            try:
                async for event in stream:
                    if (
                        event.type == "content_block_delta"
                        and getattr(event.delta, "type", "") == "text_delta"
                    ):
                        yield cast(TextDelta, event.delta).text  # what a text_delta is
                    elif event.type == "message_start":
                        usage.input_tokens = event.message.usage.input_tokens or 0
                    elif event.type == "message_delta":
                        usage.output_tokens = event.usage.output_tokens or 0
                    elif event.type == "message_stop":
                        usage.finished = True
            finally:
                await stream.close()
        except UnsafeAddress as exc:
            raise ProviderError("misconfigured", str(exc)) from exc
        except anthropic.APIError as exc:
            raise _error(exc) from exc
        except httpx2.HTTPError as exc:
            raise ProviderError("stream_cut", "The answer stream broke off.") from exc
        if not usage.finished:
            raise ProviderError("stream_cut", "The answer stream ended before the answer did.")
