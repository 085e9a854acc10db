"""OpenAI Chat Completions through the official SDK, streamed; also any OpenAI-compatible
server (Ollama, vLLM, LM Studio…) by base URL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx2
import openai

from .base import LLMRequest, ProviderError, Usage, status_error, transport_error
from .clients import cached_client, key_fingerprint

DEFAULT_MODEL = "gpt-4o-mini"
SPEND_LIMIT_CODES = {"insufficient_quota", "billing_hard_limit_reached", "billing_not_active"}


def _error(exc: Exception) -> ProviderError:
    if isinstance(exc, openai.APIStatusError):
        body = exc.body if isinstance(exc.body, dict) else {}
        error = body.get("error", body) if isinstance(body.get("error", body), dict) else {}
        code = str(error.get("code") or error.get("type") or "")
        return status_error(
            exc.status_code,
            exc.response.headers,
            spend_limit=code in SPEND_LIMIT_CODES,
            overloaded=exc.status_code in (503, 529),
        )
    return transport_error(
        timed_out=isinstance(exc, openai.APITimeoutError),
        unreachable=isinstance(exc, openai.APIConnectionError),
        exc=exc,
    )


class OpenAIProvider:
    name = "openai"

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str = "",
        model: str = "",
        timeout: float = 30.0,
        compatible: bool = False,
    ):
        self.compatible = compatible
        self.name = "openai_compatible" if compatible else "openai"
        self.model = model or DEFAULT_MODEL
        # One breaker per endpoint and key: a tenant's own server failing never pauses others.
        self.breaker_key = f"{self.name}:{base_url or 'api.openai.com'}:{key_fingerprint(api_key)}"
        self._client_args = (api_key, base_url, timeout)

    def _client(self):
        """Created in the running event loop (clients belong to their loop)."""
        api_key, base_url, timeout = self._client_args
        return cached_client(
            self.name,
            api_key,
            base_url,
            lambda: openai.AsyncOpenAI(
                api_key=api_key or "unused",  # local servers often need none
                base_url=base_url or None,
                max_retries=0,  # retries are ours (chat.llm.resilience)
                timeout=httpx2.Timeout(timeout, connect=5.0),
                # Never follow a redirect: a tenant's server must not bounce us elsewhere.
                http_client=openai.DefaultAsyncHttpxClient(
                    follow_redirects=False, timeout=httpx2.Timeout(timeout, connect=5.0)
                ),
            ),
        )

    async def stream(self, request: LLMRequest, usage: Usage) -> AsyncIterator[str]:
        messages = [{"role": "system", "content": request.system}]
        messages += [{"role": t.role, "content": t.text} for t in request.turns]
        # OpenAI's newer models take max_completion_tokens; compatible servers know max_tokens.
        limit = {"max_tokens" if self.compatible else "max_completion_tokens": request.max_tokens}
        try:
            stream = await self._client().chat.completions.create(
                model=request.model or self.model,
                messages=messages,
                temperature=request.temperature,
                stream=True,
                stream_options={"include_usage": True},
                **limit,
            )
            try:
                async for chunk in stream:
                    if chunk.usage is not None:
                        usage.input_tokens = chunk.usage.prompt_tokens or 0
                        usage.output_tokens = chunk.usage.completion_tokens or 0
                    for choice in chunk.choices or ():
                        if choice.delta is not None and choice.delta.content:
                            yield choice.delta.content
                        if choice.finish_reason:
                            usage.finished = True
            finally:
                await stream.close()
        except openai.APIError as exc:
            raise _error(exc) from exc
        except httpx2.HTTPError as exc:
            raise ProviderError("stream_cut", "The answer stream broke off.") from exc
        if not usage.finished:
            raise ProviderError("stream_cut", "The answer stream ended before the answer did.")
