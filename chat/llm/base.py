"""The provider interface: a request in, text deltas out, usage recorded as it streams.

Tools (the models' tool calling): a request may offer :class:`Tool` s; the calls the model
asks for arrive, whole and parsed, in ``usage.tool_calls`` when its stream ends (with
``usage.stop_reason == "tool_use"``), never as deltas; the caller runs them and asks again
with the model's turn (``Turn.tool_calls``) and a user turn carrying their results
(``Turn.tool_results``). Each provider maps these to its own wire format."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from saas.outbound import refusal_in

if TYPE_CHECKING:
    from knowledge.retrieval import Passage

Role = Literal["user", "assistant"]


@dataclass(frozen=True)
class Tool:
    """A tool the model may call: ``parameters`` is the JSON Schema of its input object."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class ToolCall:
    """A call the model asked for. ``arguments`` as the model sent them, parsed; when they
    were not a JSON object, ``arguments`` is empty and ``arguments_error`` says why (the
    caller answers the model with that error rather than calling anything)."""

    id: str
    name: str
    arguments: dict[str, Any]
    arguments_error: str = ""


@dataclass(frozen=True)
class ToolResult:
    """What a call gave, for the model: ``content`` is text (JSON for structured results)."""

    call_id: str
    content: str
    is_error: bool = False


@dataclass(frozen=True)
class Turn:
    role: Role
    text: str
    tool_calls: tuple[ToolCall, ...] = ()  # an assistant turn: the calls it asked for
    tool_results: tuple[ToolResult, ...] = ()  # a user turn: the results of those calls


@dataclass(frozen=True)
class LLMRequest:
    system: str
    turns: list[Turn]
    model: str
    max_tokens: int
    temperature: float
    # For the offline provider, which answers from the passages themselves.
    question: str = ""
    passages: list[Passage] = field(default_factory=list)
    no_answer_text: str = ""
    tools: tuple[Tool, ...] = ()
    # An answer computed from a visitor's table (chat.file_context), given as it is by the
    # offline provider; the models compute theirs with the tool.
    computed_answer: str = ""


@dataclass
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    finished: bool = False  # the provider said the answer is complete
    # Why the model stopped, in one vocabulary for every provider: "end_turn",
    # "max_tokens", "tool_use" (it waits for ``tool_calls``' results), or "" (not said).
    stop_reason: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)


def tool_call_parsed(call_id: str, name: str, raw_arguments: str) -> ToolCall:
    """A call whose arguments came as JSON text (streamed in pieces): parsed, or kept as an
    error the model can be told about. Empty text is an empty object (a call without input)."""
    if not raw_arguments.strip():
        return ToolCall(call_id, name, {})
    try:
        arguments = json.loads(raw_arguments)
    except json.JSONDecodeError as exc:
        return ToolCall(call_id, name, {}, f"The arguments are not valid JSON ({exc.msg}).")
    if not isinstance(arguments, dict):
        return ToolCall(call_id, name, {}, "The arguments must be a JSON object.")
    return ToolCall(call_id, name, arguments)


class ProviderError(Exception):
    """A failed call, classified. ``retryable`` faults may be retried (within the deadline);
    ``counts_against_health`` faults feed the circuit breaker."""

    KINDS = {
        # kind: (retryable, counts against the provider's health)
        "rate_limited": (True, False),
        "overloaded": (True, True),
        "server": (True, True),
        "timeout": (True, True),
        "connection": (True, True),
        "stream_cut": (False, True),
        "spend_limit": (False, False),  # retrying a refused budget only repeats the refusal
        "auth": (False, False),
        "bad_request": (False, False),
        "circuit_open": (False, False),
        "misconfigured": (False, False),
    }

    def __init__(
        self, kind: str, message: str = "", *, retry_after: float | None = None, status: int | None = None
    ):
        super().__init__(message or kind)
        self.kind = kind
        self.retry_after = retry_after
        self.status = status

    @property
    def retryable(self) -> bool:
        return self.KINDS[self.kind][0]

    @property
    def counts_against_health(self) -> bool:
        return self.KINDS[self.kind][1]


class Provider(Protocol):
    name: str
    model: str
    breaker_key: str  # one circuit breaker per provider endpoint

    def stream(self, request: LLMRequest, usage: Usage) -> AsyncIterator[str]:
        """Yield text deltas as the provider sends them; fill ``usage``; raise
        :class:`ProviderError` on any failure (including a stream cut before its end)."""
        ...


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date is ignored)."""
    if headers is None:
        return None
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value:
            try:
                return max(0.0, float(value) * scale)
            except ValueError:
                continue
    return None


def status_error(
    status: int, headers: Mapping[str, str] | None, *, spend_limit: bool, overloaded: bool
) -> ProviderError:
    """Classify an HTTP error answer the same way for every provider; the SDK-specific part
    (which body says "spend limit" or "overloaded") is decided by the caller."""
    retry_after = retry_after_seconds(headers)
    if spend_limit:
        return ProviderError("spend_limit", "The provider refused: spend limit.", status=status)
    if status in (401, 403):
        return ProviderError("auth", "The provider refused the API key.", status=status)
    if status == 429:
        return ProviderError("rate_limited", "Rate limited.", retry_after=retry_after, status=status)
    if overloaded:
        return ProviderError("overloaded", "Overloaded.", retry_after=retry_after, status=status)
    if status >= 500 or status in (408, 409):
        return ProviderError("server", f"Provider error {status}.", retry_after=retry_after, status=status)
    return ProviderError("bad_request", f"Provider refused the request ({status}).", status=status)


def transport_error(*, timed_out: bool, unreachable: bool, exc: Exception) -> ProviderError:
    refusal = refusal_in(exc)
    if refusal is not None:  # the address rule refused the server: retrying would not help
        return ProviderError("misconfigured", str(refusal))
    if timed_out:
        return ProviderError("timeout", "The provider did not answer in time.")
    if unreachable:
        return ProviderError("connection", "The provider could not be reached.")
    return ProviderError("connection", type(exc).__name__)
