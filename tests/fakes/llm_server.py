"""A local fake LLM provider: the Anthropic Messages API and the OpenAI Chat Completions API.

Tests and benchmarks point the REAL ``anthropic`` / ``openai`` SDKs at it, so what our code
sees (event types, usage objects, exception classes, retry-after headers) is what the SDKs
make of wire data shaped like the providers' own. Standard library only.

    with FakeLLMServer() as llm:                  # or: llm = FakeLLMServer().start() ... llm.stop()
        anthropic.Anthropic(base_url=llm.url, api_key="x", max_retries=0)
        openai.OpenAI(base_url=llm.url + "/v1", api_key="x", max_retries=0)
        llm.enqueue(Behaviour(status=429, retry_after=3), Behaviour(text="Hi there"))
        ...                                       # 1st request: 429; 2nd: "Hi there"; then llm.default
        assert "MARKER" in llm.requests[-1].prompt_text

Endpoints: ``POST /v1/messages`` (Anthropic), ``POST /v1/chat/completions`` (OpenAI), both with
or without ``"stream": true``; ``POST /v1/embeddings`` (OpenAI); ``GET /healthz`` answers ``ok``.
Only the API endpoints are recorded in ``requests`` and consume queued behaviours.

Embeddings: one unit vector per input, derived from a hash of the input (``fake_embedding``),
of the requested ``dimensions`` (default 1536; a shorter one is a prefix of a longer one,
renormalised, as OpenAI's are), as floats or base64 (``encoding_format``), in input order,
with usage. Empty strings are refused with a 400, as OpenAI does. Error behaviours (status,
error_type, retry_after, hang) work as for the other endpoints.

Wire details: HTTP/1.1 with keep-alive; streams are ``text/event-stream`` sent with chunked
transfer encoding and TCP_NODELAY, one write per event; JSON replies carry Content-Length.
Anthropic streams go message_start, content_block_start, ping, content_block_delta per chunk,
content_block_stop, message_delta, message_stop. OpenAI streams send a role chunk, a chunk per
text piece, a finish_reason chunk, the usage chunk (``stream_options.include_usage``) and
``data: [DONE]``. An error sent in a stream (``stream_error``) ends it instead of the closing
events: Anthropic's ``event: error`` with ``{"type": "error", "error": {...}}``, OpenAI's
``data: {"error": {...}}``. ``max_tokens`` / ``max_completion_tokens`` count chunks. A non-streamed reply
waits out the time its stream would have taken (delays and gate) before it is sent.

Tool calls (``Behaviour(tool_calls=[FakeToolCall(name, arguments)])``): after the text (none
unless given), Anthropic's ``tool_use`` content blocks with their input as ``input_json_delta``
pieces and stop reason ``tool_use``; OpenAI's ``delta.tool_calls`` (id and name first, then
the arguments in pieces) and finish reason ``tool_calls``; whole in a non-streamed reply.
``RecordedRequest.tool_names`` and ``.tool_results`` read what a request offered and sent back.

CLI, for benchmarks: ``python -m tests.fakes.llm_server --port 8099 [--token-delay S]
[--first-token-delay S]`` serves the default behaviour until interrupted.
"""

from __future__ import annotations

import argparse
import base64
import collections
import hashlib
import json
import logging
import math
import random
import re
import signal
import struct
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.http_base import FakeHandler, FakeHTTPServer

log = logging.getLogger(__name__)

# Used when a Behaviour names an error type but leaves status at 200.
_STATUS_FOR_ERROR = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "invalid_api_key": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "rate_limit_exceeded": 429,
    "insufficient_quota": 429,
    "api_error": 500,
    "server_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}
# Anthropic error.type by status, when the Behaviour gives none.
_ANTHROPIC_ERROR = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    504: "timeout_error",
    529: "overloaded_error",
}
# OpenAI error.code by status, when the Behaviour gives none; then error.type by code.
_OPENAI_CODE = {401: "invalid_api_key", 404: "model_not_found", 429: "rate_limit_exceeded"}
_OPENAI_TYPE = {
    "rate_limit_exceeded": "requests",
    "insufficient_quota": "insufficient_quota",
    "invalid_api_key": "invalid_request_error",
    "model_not_found": "invalid_request_error",
    "context_length_exceeded": "invalid_request_error",
}


@dataclass
class FakeToolCall:
    """A tool call the fake model makes: ``arguments`` sent as JSON (in pieces when streamed),
    or ``raw_arguments`` sent exactly as given (broken JSON, say)."""

    name: str
    arguments: dict[str, Any] | None = None
    raw_arguments: str | None = None
    id: str = ""

    def arguments_text(self) -> str:
        return self.raw_arguments if self.raw_arguments is not None else json.dumps(self.arguments or {})


@dataclass
class Behaviour:
    """How the server answers one request (see the module docstring for the wire format)."""

    text: str | None = None  # None: "You asked: <last user message[:60]>. This is the fake model answering."
    chunks: list[str] | None = None  # explicit text deltas; else ``text`` split into words with their spaces
    status: int = 200  # non-200: an error body in the API's format, never a stream
    error_type: str | None = None  # Anthropic error.type / OpenAI error.code; alone, it also picks the status
    retry_after: float | None = None  # retry-after header (seconds) on errors
    first_token_delay: float = 0.0  # after the opening events, before the first text delta
    token_delay: float = 0.0  # between text deltas
    hang: float = 0.0  # before ANY response byte (for client timeouts); then a normal answer
    cut_after: int | None = None  # send this many deltas, then drop the connection mid-body
    # An error sent in the stream (status 200) after ``stream_error_after`` deltas, in place of
    # the rest: Anthropic error.type / OpenAI error.code (e.g. "overloaded_error", "server_error")
    stream_error: str | None = None
    stream_error_after: int = 0
    gate: threading.Event | None = None  # after the first delta, hold the stream until this is set
    input_tokens: int | None = None  # usage; default len(prompt_text) // 4 + 1
    # Tool calls after the text (none by default, and then no default text either): the
    # stop reason is Anthropic's "tool_use" / OpenAI's "tool_calls".
    tool_calls: list[FakeToolCall] | None = None
    embedding_dimensions: int | None = None  # embeddings: this size whatever the request asks for

    def effective_status(self) -> int:
        if self.status == 200 and self.error_type is not None:
            return _STATUS_FOR_ERROR.get(self.error_type, 400)
        return self.status


@dataclass
class RecordedRequest:
    api: str  # "anthropic" or "openai"
    path: str
    headers: dict[str, str]  # lower-cased names
    body: dict[str, Any]  # parsed JSON
    received_at: float = field(default_factory=time.monotonic)

    @property
    def prompt_text(self) -> str:
        """Every piece of text the request carries (system prompt, all messages), one per line."""
        parts = _texts(self.body.get("system")) if self.api == "anthropic" else []
        for message in self.body.get("messages") or []:
            parts += _texts(message.get("content"))
        return "\n".join(p for p in parts if p)

    @property
    def tool_names(self) -> list[str]:
        """The names of the tools the request offered."""
        tools = self.body.get("tools") or []
        if self.api == "anthropic":
            return [t.get("name") for t in tools]
        return [(t.get("function") or {}).get("name") for t in tools]

    @property
    def tool_results(self) -> list[dict[str, Any]]:
        """Tool results the request carries: ``{"call_id", "content", "is_error"}`` each (an
        OpenAI result's error is only in its text)."""
        found = []
        for message in self.body.get("messages") or []:
            if self.api == "openai" and message.get("role") == "tool":
                content = message.get("content")
                found.append({"call_id": message.get("tool_call_id"), "content": content, "is_error": None})
            elif self.api == "anthropic" and isinstance(message.get("content"), list):
                found += [
                    {
                        "call_id": b.get("tool_use_id"),
                        "content": b.get("content"),
                        "is_error": b.get("is_error"),
                    }
                    for b in message["content"]
                    if b.get("type") == "tool_result"
                ]
        return found

    @property
    def last_user_text(self) -> str:
        users = [m for m in self.body.get("messages") or [] if m.get("role") == "user"]
        return " ".join(_texts(users[-1].get("content"))) if users else ""


def _texts(value: Any) -> list[str]:
    """Text in a content value: a string, or (nested) blocks/parts with "text" or "content"."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [t for item in value for t in _texts(item)]
    if isinstance(value, dict):
        return [value["text"]] if isinstance(value.get("text"), str) else _texts(value.get("content"))
    return []


class _Stopping(Exception):
    """The server is shutting down: abandon the response."""


class _CutConnection(Exception):
    """Behaviour.cut_after: drop the connection without finishing the body."""


class FakeLLMServer(FakeHTTPServer):
    name = "fake LLM server"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self.requests: list[RecordedRequest] = []
        self.default = Behaviour()
        self._queue: collections.deque[Behaviour] = collections.deque()

    def handler_class(self) -> type[FakeHandler]:
        return _Handler

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self._queue.clear()
            self.connections_opened = 0
            self.default = Behaviour()

    def enqueue(self, *behaviours: Behaviour) -> None:
        with self._lock:
            self._queue.extend(behaviours)

    # -- used by the handler --------------------------------------------------------------------

    def _take(self, request: RecordedRequest) -> Behaviour:
        with self._lock:
            self.requests.append(request)
            return self._queue.popleft() if self._queue else self.default

    def _sleep(self, seconds: float) -> None:
        if seconds > 0 and self._stopping.wait(seconds):
            raise _Stopping

    def _wait_gate(self, gate: threading.Event) -> None:
        while not gate.wait(0.05):
            if self._stopping.is_set():
                raise _Stopping


class _Handler(FakeHandler):
    def do_GET(self) -> None:
        if self.path == "/healthz":
            self._send(200, b"ok", "text/plain")
        else:
            self._send(404, b'{"error": "not found"}')

    def do_POST(self) -> None:
        api = {"/v1/messages": "anthropic", "/v1/chat/completions": "openai", "/v1/embeddings": "openai"}.get(
            self.path.split("?")[0]
        )
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if api is None:
            self._send(404, b'{"error": "not found"}')
            return
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            self._send(400, b'{"error": "request body is not a JSON object"}')
            return
        request = RecordedRequest(api, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        fake = self.server.fake
        behaviour = fake._take(request)
        try:
            fake._sleep(behaviour.hang)
            status = behaviour.effective_status()
            if status != 200:
                self._send_error(api, status, behaviour)
            elif self.path.split("?")[0] == "/v1/embeddings":
                _EmbeddingsReply(self, request, behaviour).send()
            else:
                _Reply(self, request, behaviour).send()
        except (_Stopping, _CutConnection, OSError):
            self.close_connection = True  # the socket is closed after handle() returns

    # -- writing ---------------------------------------------------------------------------------

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/json",
        truncate_to: int | None = None,
        **headers: str,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body[:truncate_to])

    def _send_error(self, api: str, status: int, behaviour: Behaviour) -> None:
        request_id = _request_id(api)
        message = f"Fake {behaviour.error_type or 'error'} (HTTP {status})"
        if api == "anthropic":
            kind = behaviour.error_type or _ANTHROPIC_ERROR.get(status, "api_error")
            error = {"type": "error", "error": {"type": kind, "message": message}, "request_id": request_id}
        else:
            code = behaviour.error_type or _OPENAI_CODE.get(status)
            fallback = "server_error" if status >= 500 else "invalid_request_error"
            kind = _OPENAI_TYPE.get(code or "") or code or fallback
            code = None if code == "server_error" else code  # OpenAI's 5xx bodies carry code null
            error = {"error": {"message": message, "type": kind, "param": None, "code": code}}
        headers = {_request_id_header(api): request_id}
        if behaviour.retry_after is not None:
            headers["retry-after"] = f"{behaviour.retry_after:g}"
        self._send(status, json.dumps(error).encode(), **headers)

    def _start_stream(self, api: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header(_request_id_header(api), _request_id(api))
        self.end_headers()

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))  # one chunk of chunked encoding


def _request_id(api: str) -> str:
    return ("req_" if api == "anthropic" else "req-") + uuid.uuid4().hex[:24]


def _request_id_header(api: str) -> str:
    return "request-id" if api == "anthropic" else "x-request-id"


class _Reply:
    """A successful answer to one request: the JSON object, or the stream of events."""

    def __init__(self, handler: _Handler, request: RecordedRequest, behaviour: Behaviour) -> None:
        self.handler, self.request, self.b = handler, request, behaviour
        self.fake = handler.server.fake
        body = request.body
        text = behaviour.text
        self.tool_calls = [
            FakeToolCall(c.name, c.arguments, c.raw_arguments, c.id or "toolu_" + uuid.uuid4().hex[:20])
            for c in behaviour.tool_calls or []
        ]
        if text is None and behaviour.chunks is None and not self.tool_calls:
            text = f"You asked: {request.last_user_text[:60]}. This is the fake model answering."
        chunks = behaviour.chunks if behaviour.chunks is not None else re.findall(r"\S+\s*|\s+", text or "")
        limit = body.get("max_tokens")
        if request.api == "openai":
            limit = body.get("max_completion_tokens") or limit
        self.truncated = isinstance(limit, int) and len(chunks) > limit
        self.chunks = chunks[:limit] if self.truncated else chunks
        self.model = body.get("model") or "fake-model"
        self.input_tokens = behaviour.input_tokens
        if self.input_tokens is None:
            self.input_tokens = len(request.prompt_text) // 4 + 1

    def send(self) -> None:
        if self.request.body.get("stream"):
            self._stream()
        else:
            self._json()

    def _paced(self, items: list[Any]) -> Iterator[Any]:
        """Yield the items with the Behaviour's delays and gate, then honour cut_after."""
        b = self.b
        for i, item in enumerate(items[: b.cut_after] if b.cut_after is not None else items):
            self.fake._sleep(b.first_token_delay if i == 0 else b.token_delay)
            yield item
            if i == 0 and b.gate is not None:
                self.fake._wait_gate(b.gate)
        if b.cut_after is not None:
            raise _CutConnection

    def _json(self) -> None:
        text = "".join(self.chunks)
        if self.request.api == "anthropic":
            content: list[dict[str, Any]] = (
                [{"type": "text", "text": text}] if text or not self.tool_calls else []
            )
            content += [
                {"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments or {}}
                for c in self.tool_calls
            ]
            reply = {
                **self._anthropic_message(),
                "content": content,
                "stop_reason": self._anthropic_stop(),
                "usage": {"input_tokens": self.input_tokens, "output_tokens": len(self.chunks)},
            }
        else:
            message: dict[str, Any] = {
                "role": "assistant",
                "content": text,
                "refusal": None,
                "annotations": [],
            }
            if self.tool_calls:
                message["content"] = text or None
                message["tool_calls"] = [
                    {
                        "id": c.id,
                        "type": "function",
                        "function": {"name": c.name, "arguments": c.arguments_text()},
                    }
                    for c in self.tool_calls
                ]
            choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": self._finish()}
            reply = {
                **self._openai_base("chat.completion"),
                "choices": [choice],
                "usage": self._openai_usage(),
            }
        body = json.dumps(reply).encode()
        try:
            for _ in self._paced(self.chunks):  # a non-streamed reply takes as long as the stream
                pass
        except _CutConnection:  # the headers promise the whole body; only half of it arrives
            self.handler._send(200, body, truncate_to=len(body) // 2)
            raise
        self.handler._send(200, body, **{_request_id_header(self.request.api): _request_id(self.request.api)})

    def _stream(self) -> None:
        h, api = self.handler, self.request.api
        h._start_stream(api)
        if api == "anthropic":
            opening, deltas, closing = self._anthropic_events()
        else:
            opening, deltas, closing = self._openai_events()
        if self.b.stream_error is not None:
            deltas, closing = deltas[: self.b.stream_error_after], [self._stream_error(self.b.stream_error)]
        for data in opening:
            h._write_chunk(data)
        for data in self._paced(deltas):
            h._write_chunk(data)
        for data in closing:
            h._write_chunk(data)
        h.wfile.write(b"0\r\n\r\n")  # end of the chunked body; the connection stays open

    def _stream_error(self, kind: str) -> bytes:
        message = f"Fake {kind} (in the stream)"
        if self.request.api == "anthropic":
            error = {"type": "error", "error": {"type": kind, "message": message}}
            return f"event: error\ndata: {json.dumps(error)}\n\n".encode()
        error = {"error": {"message": message, "type": kind, "param": None, "code": kind}}
        return f"data: {json.dumps(error)}\n\n".encode()

    def _finish(self) -> str:
        if self.truncated:
            return "length"
        return "tool_calls" if self.tool_calls else "stop"

    def _anthropic_stop(self) -> str:
        if self.truncated:
            return "max_tokens"
        return "tool_use" if self.tool_calls else "end_turn"

    def _argument_pieces(self, call: FakeToolCall) -> list[str]:
        """The arguments' JSON in pieces of up to 8 characters, as the providers stream it."""
        text = call.arguments_text()
        return [text[i : i + 8] for i in range(0, len(text), 8)]

    # -- Anthropic -------------------------------------------------------------------------------

    def _anthropic_message(self) -> dict[str, Any]:
        return {
            "id": "msg_" + uuid.uuid4().hex[:24],
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
        }

    def _anthropic_events(self) -> tuple[list[bytes], list[bytes], list[bytes]]:
        def event(name: str, data: dict[str, Any]) -> bytes:
            return f"event: {name}\ndata: {json.dumps({'type': name, **data})}\n\n".encode()

        usage = {
            "input_tokens": self.input_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": 1,
        }
        with_text = bool(self.chunks) or not self.tool_calls
        opening = [event("message_start", {"message": {**self._anthropic_message(), "usage": usage}})]
        if with_text:
            opening.append(
                event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}})
            )
        opening.append(event("ping", {}))
        deltas = [
            event("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": chunk}})
            for chunk in self.chunks
        ]
        closing = [event("content_block_stop", {"index": 0})] if with_text else []
        for index, call in enumerate(self.tool_calls, start=1 if with_text else 0):
            block = {"type": "tool_use", "id": call.id, "name": call.name, "input": {}}
            closing.append(event("content_block_start", {"index": index, "content_block": block}))
            closing += [
                event(
                    "content_block_delta",
                    {"index": index, "delta": {"type": "input_json_delta", "partial_json": p}},
                )
                for p in self._argument_pieces(call)
            ]
            closing.append(event("content_block_stop", {"index": index}))
        stop_reason = self._anthropic_stop()
        closing += [
            event(
                "message_delta",
                {
                    "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                    "usage": {"output_tokens": len(self.chunks)},
                },
            ),
            event("message_stop", {}),
        ]
        return opening, deltas, closing

    # -- OpenAI ----------------------------------------------------------------------------------

    def _openai_base(self, kind: str) -> dict[str, Any]:
        return {
            "id": "chatcmpl-" + uuid.uuid4().hex[:24],
            "object": kind,
            "created": int(time.time()),
            "model": self.model,
            "service_tier": "default",
            "system_fingerprint": "fp_fake",
        }

    def _openai_usage(self) -> dict[str, int]:
        out = len(self.chunks)
        return {
            "prompt_tokens": self.input_tokens,
            "completion_tokens": out,
            "total_tokens": self.input_tokens + out,
        }

    def _openai_events(self) -> tuple[list[bytes], list[bytes], list[bytes]]:
        base = self._openai_base("chat.completion.chunk")  # one id for the whole stream, as OpenAI does
        include_usage = bool((self.request.body.get("stream_options") or {}).get("include_usage"))
        if include_usage:
            base["usage"] = None  # every chunk carries "usage": null until the last one

        def chunk(delta: dict[str, Any] | None, finish: str | None = None, usage: Any = None) -> bytes:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            choices = [] if delta is None else [choice]
            data = {**base, "choices": choices, **({"usage": usage} if usage else {})}
            return f"data: {json.dumps(data)}\n\n".encode()

        opening = [chunk({"role": "assistant", "content": "", "refusal": None})]
        deltas = [chunk({"content": text}) for text in self.chunks]
        closing = []
        for index, call in enumerate(self.tool_calls):
            first = {
                "index": index,
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": ""},
            }
            closing.append(chunk({"tool_calls": [first]}))
            closing += [
                chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
                for piece in self._argument_pieces(call)
            ]
        closing.append(chunk({}, self._finish()))
        if include_usage:
            closing.append(chunk(None, usage=self._openai_usage()))
        closing.append(b"data: [DONE]\n\n")
        return opening, deltas, closing


def fake_embedding(item: Any, dimensions: int = 1536) -> list[float]:
    """The fake's vector for one input (a string, or a list of token ids): deterministic,
    unit length; a shorter vector is a longer one cut short and renormalised."""
    key = item if isinstance(item, str) else json.dumps(item)
    rng = random.Random(hashlib.sha256(key.encode()).digest())
    values = [rng.gauss(0.0, 1.0) for _ in range(dimensions)]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


class _EmbeddingsReply:
    """An answer to ``POST /v1/embeddings``, in OpenAI's format."""

    def __init__(self, handler: _Handler, request: RecordedRequest, behaviour: Behaviour) -> None:
        self.handler, self.request, self.b = handler, request, behaviour

    def send(self) -> None:
        body = self.request.body
        inputs = body.get("input")
        if isinstance(inputs, str) or (isinstance(inputs, list) and inputs and isinstance(inputs[0], int)):
            inputs = [inputs]
        dimensions = self.b.embedding_dimensions or body.get("dimensions") or 1536
        valid = isinstance(inputs, list) and 0 < len(inputs) <= 2048
        valid = valid and all(isinstance(i, (str, list)) and len(i) > 0 for i in inputs)
        if not valid or not isinstance(dimensions, int) or not 0 < dimensions <= 3072:
            self.handler._send_error("openai", 400, Behaviour(error_type="invalid_request_error"))
            return
        as_base64 = body.get("encoding_format") == "base64"
        data = []
        for index, item in enumerate(inputs):
            vector: Any = fake_embedding(item, dimensions)
            if as_base64:
                vector = base64.b64encode(struct.pack(f"<{dimensions}f", *vector)).decode()
            data.append({"object": "embedding", "index": index, "embedding": vector})
        tokens = self.b.input_tokens
        if tokens is None:
            tokens = sum(len(i) // 4 + 1 if isinstance(i, str) else len(i) for i in inputs)
        reply = {
            "object": "list",
            "data": data,
            "model": body.get("model") or "fake-embedding",
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        payload = json.dumps(reply).encode()
        if self.b.cut_after is not None:  # the headers promise the whole body; only half of it arrives
            self.handler._send(200, payload, truncate_to=len(payload) // 2)
            raise _CutConnection
        self.handler._send(200, payload, **{_request_id_header("openai"): _request_id("openai")})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the fake Anthropic/OpenAI API until interrupted.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--token-delay", type=float, default=0.0, help="seconds between text deltas")
    parser.add_argument("--first-token-delay", type=float, default=0.0, help="seconds before the first delta")
    args = parser.parse_args(argv)
    server = FakeLLMServer(args.host, args.port).start()
    server.default = Behaviour(token_delay=args.token_delay, first_token_delay=args.first_token_delay)
    print(f"fake LLM server: Anthropic base_url={server.url}, OpenAI base_url={server.url}/v1", flush=True)
    done = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):  # SIGINT: a background job may have it ignored
        signal.signal(signum, lambda *_: done.set())
    while not done.wait(0.5):
        pass
    server.stop()


if __name__ == "__main__":
    main()
