"""Anthropic Messages API through the official SDK, streamed: the SDK makes the request
(auth, base URL, timeouts, status errors); the event stream is read here
(chat.llm.event_stream), without a pydantic model per event."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any, cast

import anthropic
import httpx2
from anthropic.types import MessageParam, ToolParam

from saas.outbound import UnsafeAddress
from saas.outbound.sdk import anthropic_async_client

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

DEFAULT_MODEL = "claude-haiku-4-5"


def _status_error(status: int, headers: Mapping[str, str], body: object) -> ProviderError:
    """An error answer (``body``: its JSON), or an ``error`` event in a stream (status 200)."""
    body = body if isinstance(body, dict) else {}
    error = found if isinstance(found := body.get("error"), dict) else {}
    kind_name, message = str(error.get("type", "")), str(error.get("message", "")).lower()
    return status_error(
        status,
        headers,
        spend_limit=kind_name == "billing_error" or status == 402 or "credit balance" in message,
        overloaded=status == 529 or kind_name == "overloaded_error",
    )


def _error(exc: Exception) -> ProviderError:
    if isinstance(exc, anthropic.APIStatusError):
        return _status_error(exc.status_code, exc.response.headers, exc.body)
    return transport_error(
        timed_out=isinstance(exc, anthropic.APITimeoutError),
        unreachable=isinstance(exc, anthropic.APIConnectionError),
        exc=exc,
    )


# Anthropic's stop reasons in the providers' shared vocabulary (Usage.stop_reason).
_STOP_REASONS = {"stop_sequence": "end_turn", "pause_turn": "end_turn", "refusal": "end_turn"}


def _message(turn: Turn) -> MessageParam:
    if not turn.tool_calls and not turn.tool_results:
        return cast("MessageParam", {"role": turn.role, "content": turn.text})
    blocks: list[dict[str, Any]] = [
        {
            "type": "tool_result",
            "tool_use_id": result.call_id,
            "content": result.content,
            "is_error": result.is_error,
        }
        for result in turn.tool_results
    ]  # tool results first in their user turn, as the API wants them
    if turn.text:
        blocks.append({"type": "text", "text": turn.text})
    blocks += [
        {"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments}
        for call in turn.tool_calls
    ]
    return cast("MessageParam", {"role": turn.role, "content": blocks})


def _tool(tool: Tool) -> ToolParam:
    return {
        "name": tool.name,
        "description": tool.description,
        "input_schema": cast("Any", tool.parameters),
    }


class _ToolBlocks:
    """The tool_use blocks of one stream: their id and name from ``content_block_start``,
    their input as the pieces of JSON its ``input_json_delta`` events carry, whole at
    ``content_block_stop``."""

    def __init__(self) -> None:
        self.open: dict[int, tuple[str, str, list[str]]] = {}

    def start(self, index: int, block: dict[str, Any]) -> None:
        if block.get("type") == "tool_use":
            self.open[index] = (str(block.get("id") or ""), str(block.get("name") or ""), [])

    def piece(self, index: int, partial_json: str) -> None:
        if index in self.open:
            self.open[index][2].append(partial_json)

    def stop(self, index: int, usage: Usage) -> None:
        if index in self.open:
            call_id, name, pieces = self.open.pop(index)
            usage.tool_calls.append(tool_call_parsed(call_id, name, "".join(pieces)))


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
            async with self._client().messages.with_streaming_response.create(
                model=request.model or self.model,
                max_tokens=request.max_tokens,  # (this API version takes no temperature)
                system=request.system,
                messages=[_message(t) for t in request.turns],
                tools=[_tool(t) for t in request.tools] if request.tools else anthropic.omit,
                stream=True,
            ) as response:
                body = response.http_response
                tools = _ToolBlocks()
                async with contextlib.aclosing(sse_events(body.aiter_bytes())) as events:
                    async for name, data in events:
                        text = _event_read(name, data, body, usage, tools)
                        if text is not None:
                            yield text
        except UnsafeAddress as exc:
            raise ProviderError("misconfigured", str(exc)) from exc
        except anthropic.APIError as exc:
            raise _error(exc) from exc
        except httpx2.HTTPError as exc:
            raise ProviderError("stream_cut", "The answer stream broke off.") from exc
        if not usage.finished:
            raise ProviderError("stream_cut", "The answer stream ended before the answer did.")


def _event_read(  # noqa: C901 - one branch per event type of the API
    name: str, data: str, body: httpx2.Response, usage: Usage, tools: _ToolBlocks
) -> str | None:
    """One event of the stream: its text (a text delta) or None; ``usage`` filled as the
    events say (tool calls included). As the SDK's own stream: pings and unnamed events
    skipped, "error" raised."""
    if name == "ping" or not name:
        return None
    if name == "error":
        raise _status_error(body.status_code, body.headers, _json_or_text(data))
    if not data:
        return None
    event: dict[str, Any] = json.loads(data)
    kind = event.get("type")
    if kind == "content_block_delta":
        delta = event.get("delta") or {}
        if delta.get("type") == "input_json_delta":
            tools.piece(event.get("index", -1), str(delta.get("partial_json") or ""))
            return None
        return str(delta.get("text") or "") if delta.get("type") == "text_delta" else None
    if kind == "content_block_start":
        tools.start(event.get("index", -1), event.get("content_block") or {})
    elif kind == "content_block_stop":
        tools.stop(event.get("index", -1), usage)
    elif kind == "message_start":
        counted = (event.get("message") or {}).get("usage") or {}
        usage.input_tokens = counted.get("input_tokens") or 0
    elif kind == "message_delta":
        usage.output_tokens = (event.get("usage") or {}).get("output_tokens") or 0
        reason = str((event.get("delta") or {}).get("stop_reason") or "")
        usage.stop_reason = _STOP_REASONS.get(reason, reason)
    elif kind == "message_stop":
        usage.finished = True
    return None


def _json_or_text(data: str) -> object:
    try:
        return json.loads(data)
    except ValueError:
        return data
