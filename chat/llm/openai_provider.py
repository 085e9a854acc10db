"""OpenAI Chat Completions through the official SDK, streamed; also any OpenAI-compatible
server (Ollama, vLLM, LM Studio…) by base URL. The SDK makes the request (auth, base URL,
timeouts, status errors); the event stream is read here (chat.llm.event_stream), without
a pydantic model per chunk."""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, cast

import anyio
import httpx2
import openai
from openai.types.chat import ChatCompletionFunctionToolParam, ChatCompletionMessageParam

from saas.outbound import UnsafeAddress
from saas.outbound.sdk import openai_async_client

from .base import (
    LLMRequest,
    ProviderError,
    Tool,
    Turn,
    Usage,
    status_error,
    tool_call_parsed,
    transport_error,
)
from .clients import key_fingerprint
from .event_stream import sse_events

DEFAULT_MODEL = "gpt-4o-mini"
SPEND_LIMIT_CODES = {"insufficient_quota", "billing_hard_limit_reached", "billing_not_active"}
# After "[DONE]", what is left of an HTTP/1.1 body is read (for the connection to be
# reused) for at most this long, as the SDK's own stream does.
DRAIN_SECONDS = 0.1


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


# OpenAI's finish reasons in the providers' shared vocabulary (Usage.stop_reason).
_STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
}


def _messages(turn: Turn) -> list[ChatCompletionMessageParam]:
    """A turn as Chat Completions messages: a user turn's tool results are ``tool``
    messages (one per call, before its text); an assistant turn's calls ride on it."""
    if turn.role == "user":
        results: list[ChatCompletionMessageParam] = [
            {
                "role": "tool",
                "tool_call_id": result.call_id,
                # The API has no error flag: the model reads it from the content.
                "content": f"Error: {result.content}" if result.is_error else result.content,
            }
            for result in turn.tool_results
        ]
        return [*results, {"role": "user", "content": turn.text}] if turn.text else results
    if not turn.tool_calls:
        return [{"role": "assistant", "content": turn.text}]
    calls = [
        {
            "id": call.id,
            "type": "function",
            "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
        }
        for call in turn.tool_calls
    ]
    return [
        cast(
            "ChatCompletionMessageParam",
            {"role": "assistant", "content": turn.text or None, "tool_calls": calls},
        )
    ]


def _tool(tool: Tool) -> ChatCompletionFunctionToolParam:
    return {
        "type": "function",
        "function": {"name": tool.name, "description": tool.description, "parameters": tool.parameters},
    }


class _ToolCalls:
    """The tool calls of one stream, by index: the id and name come in the first piece,
    the arguments as JSON text in pieces; whole when the choice finishes."""

    def __init__(self) -> None:
        self.calls: dict[int, tuple[str, str, list[str]]] = {}

    def piece(self, delta: dict[str, Any]) -> None:
        index = delta.get("index", len(self.calls))
        function = delta.get("function") or {}
        call_id, name, pieces = self.calls.get(index, ("", "", []))
        call_id = call_id or str(delta.get("id") or "")
        name = name or str(function.get("name") or "")
        pieces.append(str(function.get("arguments") or ""))
        self.calls[index] = (call_id, name, pieces)

    def finish(self, usage: Usage) -> None:
        for index in sorted(self.calls):
            call_id, name, pieces = self.calls[index]
            usage.tool_calls.append(tool_call_parsed(call_id, name, "".join(pieces)))
        self.calls.clear()


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
        tenant_named: bool = True,
    ):
        """``tenant_named`` False only for the operator's own endpoint (settings): any other
        (a tenant's OpenAI-compatible server) is reached through the guarded transport
        (saas.outbound), which connects only to the checked public address."""
        self.compatible = compatible
        self.name = "openai_compatible" if compatible else "openai"
        self.model = model or DEFAULT_MODEL
        # One breaker per endpoint and key: a tenant's own server failing never pauses others.
        self.breaker_key = f"{self.name}:{base_url or 'api.openai.com'}:{key_fingerprint(api_key)}"
        self._client_args = (api_key, base_url, timeout, tenant_named)

    def _client(self) -> openai.AsyncOpenAI:
        """The client of the running event loop (clients belong to their loop); it retries
        nothing (retries are ours: chat.llm.resilience) and never follows a redirect."""
        api_key, base_url, timeout, tenant_named = self._client_args
        return openai_async_client(
            api_key=api_key, base_url=base_url, timeout=timeout, tenant_named=tenant_named
        )

    async def stream(self, request: LLMRequest, usage: Usage) -> AsyncIterator[str]:
        messages: list[ChatCompletionMessageParam] = [{"role": "system", "content": request.system}]
        messages += [message for turn in request.turns for message in _messages(turn)]
        # OpenAI's newer models take max_completion_tokens; compatible servers know max_tokens.
        # (An omitted argument is left out of the request.)
        max_tokens = request.max_tokens if self.compatible else openai.omit
        max_completion_tokens = openai.omit if self.compatible else request.max_tokens
        try:
            async with self._client().chat.completions.with_streaming_response.create(
                model=request.model or self.model,
                messages=messages,
                temperature=request.temperature,
                stream=True,
                stream_options={"include_usage": True},
                max_tokens=max_tokens,
                max_completion_tokens=max_completion_tokens,
                tools=[_tool(t) for t in request.tools] if request.tools else openai.omit,
            ) as response:
                body = response.http_response
                tools = _ToolCalls()
                async with contextlib.aclosing(sse_events(_body_chunks(body))) as events:
                    async for _, data in events:
                        if data.startswith("[DONE]"):
                            if body.http_version == "HTTP/1.1":
                                await _drain(events)
                            break
                        for text in _chunk_read(data, body, usage, tools):
                            yield text
        except UnsafeAddress as exc:
            raise ProviderError("misconfigured", str(exc)) from exc
        except openai.APIError as exc:
            raise _error(exc) from exc
        except httpx2.HTTPError as exc:
            raise ProviderError("stream_cut", "The answer stream broke off.") from exc
        if not usage.finished:
            raise ProviderError("stream_cut", "The answer stream ended before the answer did.")


async def _body_chunks(body: httpx2.Response) -> AsyncGenerator[bytes, None]:
    """The body's bytes, a transport failure raised as the SDK's own stream raises it
    (``openai.APITimeoutError``, ``openai.APIConnectionError``): classified as before."""
    try:
        async for chunk in body.aiter_bytes():
            yield chunk
    except httpx2.TimeoutException as exc:
        raise openai.APITimeoutError(request=body.request) from exc
    except (httpx2.RequestError, ssl.SSLError, anyio.EndOfStream) as exc:
        raise openai.APIConnectionError(request=body.request) from exc


def _chunk_read(data: str, body: httpx2.Response, usage: Usage, tools: _ToolCalls) -> list[str]:
    """One chunk of the stream: its texts; ``usage`` filled as it says (tool calls
    included). An error sent in the stream is raised as the SDK raises it
    (``openai.APIError``)."""
    chunk: dict[str, Any] = json.loads(data)
    if chunk.get("error"):
        error = chunk["error"]
        message = error.get("message") if isinstance(error, dict) else None
        if not isinstance(message, str) or not message:
            message = "An error occurred during streaming"
        raise openai.APIError(message, body.request, body=error)
    if (counted := chunk.get("usage")) is not None:
        usage.input_tokens = counted.get("prompt_tokens") or 0
        usage.output_tokens = counted.get("completion_tokens") or 0
    texts = []
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta")
        if delta is not None and delta.get("content"):
            texts.append(delta["content"])
        for call in (delta or {}).get("tool_calls") or ():
            tools.piece(call)
        if reason := choice.get("finish_reason"):
            usage.finished = True
            usage.stop_reason = _STOP_REASONS.get(reason, reason)
            tools.finish(usage)
    return texts


async def _drain(events: AsyncIterator[tuple[str, str]]) -> None:
    """The rest of the body, ignored, so that the connection goes back to the pool."""
    with contextlib.suppress(openai.APIError, httpx2.HTTPError, TimeoutError):
        async with asyncio.timeout(DRAIN_SECONDS):
            async for _ in events:
                pass
