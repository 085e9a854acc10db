"""A small client of the Model Context Protocol's streamable HTTP transport (spec 2025-03-26
and 2025-06-18), every request one bounded POST through :mod:`actions.sending` (the checked,
pinned outbound path: private addresses refused, no redirects followed, the answer read up
to ``ACTIONS_MAX_RESPONSE_BYTES``).

    session = McpSession(url, headers=..., timeout=10, sign=...)
    tools = session.tools_list()          # initialize + notifications/initialized first
    result = session.tool_call("lookup", {"order_id": "1042"})
    session.close()                       # DELETE of the session, if the server gave one

Each request is JSON-RPC 2.0 with ``Accept: application/json, text/event-stream``; the
answer is read as JSON or as an event stream (reading stops once the answer to the request
has arrived). The ``Mcp-Session-Id`` the server gives at ``initialize`` is sent back on
every later request, with ``MCP-Protocol-Version``. One deadline bounds a whole session's
requests; nothing is retried. Problems raise :class:`McpProblem` with the call's status
(``ActionCall.Status``). The official SDK's client is not used: docs/dependencies.md says why.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import sending
from .models import ActionCall

PROTOCOL_VERSION = "2025-06-18"
PROTOCOL_VERSIONS = ("2025-06-18", "2025-03-26")
CLIENT_INFO = {"name": "chatbot-platform", "version": "1"}
MAX_PAGES = 10  # of tools/list
MAX_TOOLS = 100

# (method, url, body) -> the signed headers (actions.signing) of one request.
Signer = Callable[[str, str, bytes], dict[str, str]]


class McpProblem(Exception):
    """``status``: an ``ActionCall.Status``; the message says what went wrong."""

    def __init__(
        self, status: str, message: str, http_status: int | None = None, excerpt: bytes = b""
    ) -> None:
        super().__init__(message)
        self.status = status
        self.http_status = http_status
        self.excerpt = excerpt


@dataclass(frozen=True)
class ToolResult:
    content: list[dict[str, Any]]
    is_error: bool
    structured: Any = None
    http_status: int | None = None
    raw: bytes = b""


def _messages_in_stream(data: bytes) -> list[Any]:
    """The JSON-RPC messages of an event stream's complete ``message`` events."""
    text = data.decode("utf-8", errors="replace").replace("\r\n", "\n").replace("\r", "\n")
    messages = []
    for block in text.split("\n\n")[:-1]:  # the last part is an event not yet complete
        event, lines = "message", []
        for line in block.split("\n"):
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                event = value
            elif name == "data":
                lines.append(value)
        if event == "message" and lines:
            try:
                messages.append(json.loads("\n".join(lines)))
            except ValueError:
                messages.append(None)
    return messages


EVENT_ENDS = (b"\n\n", b"\r\n\r\n", b"\r\r")


def _answer_scan(request_id: int) -> Callable[[bytes], bool]:
    """Whether the answer to ``request_id`` is in an event stream read so far (the
    outbound read's ``enough``), each complete event read once: a stream trickled in small
    pieces costs one read of it, not one read of all of it per piece."""
    done = 0

    def enough(taken: bytes) -> bool:
        nonlocal done
        ends = [(at + len(end)) for end in EVENT_ENDS if (at := taken.rfind(end, done)) >= 0]
        cut = max(ends, default=done)
        if cut <= done:
            return False
        fresh, done = taken[done:cut], cut
        return _answer_in(_messages_in_stream(fresh), request_id) is not None

    return enough


def _answer_in(messages: list[Any], request_id: int) -> dict[str, Any] | None:
    for message in messages:
        for item in message if isinstance(message, list) else [message]:
            if (
                isinstance(item, dict)
                and item.get("id") == request_id
                and ("result" in item or "error" in item)
            ):
                return item
    return None


class McpSession:
    def __init__(self, url: str, *, headers: dict[str, str], timeout: float, sign: Signer) -> None:
        self.url = url
        self.headers = headers
        self.deadline = time.monotonic() + timeout
        self.timeout = timeout
        self.sign = sign
        self.session_id = ""
        self.protocol_version = ""
        self.server_info: dict[str, Any] = {}
        self._ids = itertools.count(1)

    # --- one request ---------------------------------------------------------------------

    def _left(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0.05:
            raise McpProblem(ActionCall.Status.TIMED_OUT, f"No answer within {self.timeout:g} s.")
        return left

    def _headers(self, method: str, body: bytes) -> dict[str, str]:
        headers = dict(self.headers)
        headers.update(self.sign(method, self.url, body))
        headers["User-Agent"] = "chatbot-actions/1"
        headers["Accept"] = "application/json, text/event-stream"
        headers["Accept-Encoding"] = "identity"  # the read limit counts the bytes as they arrive
        if body:
            headers["Content-Type"] = "application/json"
        if self.session_id:
            headers["Mcp-Session-Id"] = self.session_id
        if self.protocol_version:
            headers["MCP-Protocol-Version"] = self.protocol_version
        return headers

    def _post(self, message: dict[str, Any], *, expect: int | None) -> sending.Reply:
        body = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()

        reply = sending.send(
            "POST",
            self.url,
            body=body,
            headers=self._headers("POST", body),
            timeout=self._left(),
            enough=_answer_scan(expect) if expect is not None else None,
        )
        if reply.refused:
            raise McpProblem(ActionCall.Status.REFUSED, reply.error)
        if reply.timed_out:
            raise McpProblem(ActionCall.Status.TIMED_OUT, reply.error)
        if reply.status is None:
            raise McpProblem(ActionCall.Status.FAILED, reply.error)
        if reply.status == 404 and self.session_id:
            raise McpProblem(
                ActionCall.Status.FAILED,
                "The server no longer knows the session (HTTP 404).",
                404,
                reply.body,
            )
        if not 200 <= reply.status < 300:
            excerpt = reply.body[:200].decode("utf-8", errors="replace")
            raise McpProblem(
                ActionCall.Status.FAILED, f"HTTP {reply.status}: {excerpt}", reply.status, reply.body
            )
        return reply

    def _request(self, method: str, params: dict[str, Any]) -> tuple[dict[str, Any], sending.Reply]:
        request_id = next(self._ids)
        message = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
        reply = self._post(message, expect=request_id)
        kind = reply.content_type.split(";", 1)[0].strip().lower()
        if kind == "text/event-stream":
            answer = _answer_in(_messages_in_stream(reply.body), request_id)
        elif kind == "application/json" and not reply.truncated:
            try:
                answer = _answer_in([json.loads(reply.body)], request_id)
            except ValueError:
                answer = None
        else:
            raise McpProblem(
                ActionCall.Status.UNREADABLE,
                f"The answer to {method} is neither JSON nor an event stream ({kind or 'no type'}).",
                reply.status,
                reply.body,
            )
        if answer is None:
            why = "larger than the platform reads" if reply.truncated else "not a JSON-RPC answer to it"
            raise McpProblem(
                ActionCall.Status.UNREADABLE, f"The answer to {method} is {why}.", reply.status, reply.body
            )
        if "error" in answer:
            error = answer["error"] if isinstance(answer["error"], dict) else {}
            raise McpProblem(
                ActionCall.Status.FAILED,
                f"{method}: error {error.get('code')}: {str(error.get('message'))[:200]}",
                reply.status,
                reply.body,
            )
        if not isinstance(answer.get("result"), dict):
            raise McpProblem(
                ActionCall.Status.UNREADABLE, f"The answer to {method} has no result.", reply.status
            )
        return answer["result"], reply

    # --- the protocol --------------------------------------------------------------------

    def initialize(self) -> None:
        result, reply = self._request(
            "initialize",
            {"protocolVersion": PROTOCOL_VERSION, "capabilities": {}, "clientInfo": CLIENT_INFO},
        )
        version = result.get("protocolVersion")
        if version not in PROTOCOL_VERSIONS:
            raise McpProblem(
                ActionCall.Status.UNREADABLE,
                f"The server speaks MCP {str(version)[:40]}, not a version we speak.",
            )
        self.session_id = reply.headers.get("mcp-session-id", "")
        if self.session_id and not all("\x21" <= c <= "\x7e" for c in self.session_id):
            raise McpProblem(ActionCall.Status.UNREADABLE, "The server's session id is not visible ASCII.")
        self.protocol_version = str(version)
        info = result.get("serverInfo")
        self.server_info = info if isinstance(info, dict) else {}
        self._post({"jsonrpc": "2.0", "method": "notifications/initialized"}, expect=None)

    def tools_list(self) -> list[dict[str, Any]]:
        """Every tool the server lists (its pages followed, up to MAX_PAGES and MAX_TOOLS)."""
        if not self.protocol_version:
            self.initialize()
        tools: list[dict[str, Any]] = []
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            result, _reply = self._request("tools/list", {"cursor": cursor} if cursor else {})
            page = result.get("tools")
            if not isinstance(page, list):
                raise McpProblem(ActionCall.Status.UNREADABLE, "tools/list answered no list of tools.")
            tools.extend(t for t in page if isinstance(t, dict))
            cursor = result.get("nextCursor")
            if not (isinstance(cursor, str) and cursor) or len(tools) >= MAX_TOOLS:
                break
        return tools[:MAX_TOOLS]

    def tool_call(self, name: str, arguments: dict[str, Any]) -> ToolResult:
        if not self.protocol_version:
            self.initialize()
        result, reply = self._request("tools/call", {"name": name, "arguments": arguments})
        content = result.get("content")
        if not isinstance(content, list):
            raise McpProblem(ActionCall.Status.UNREADABLE, "tools/call answered no content.", reply.status)
        return ToolResult(
            content=[block for block in content if isinstance(block, dict)],
            is_error=result.get("isError") is True,
            structured=result.get("structuredContent"),
            http_status=reply.status,
            raw=reply.body,
        )

    def close(self) -> None:
        """Ends the session on the server (a DELETE, as the spec asks), when it gave one;
        whatever the answer, nothing more is sent."""
        left = self.deadline - time.monotonic()
        if not self.session_id or left <= 0.05:
            return  # out of time: the server ends idle sessions by itself
        sending.send("DELETE", self.url, body=b"", headers=self._headers("DELETE", b""), timeout=left)


def content_text(content: list[dict[str, Any]], structured: Any = None) -> str:
    """The tool's content blocks as text for the model: text as it is, an embedded text
    resource's text, the others named (images and audio are not passed on)."""
    parts = []
    for block in content:
        kind = block.get("type")
        if kind == "text" and isinstance(block.get("text"), str):
            parts.append(block["text"])
        elif kind == "resource" and isinstance(block.get("resource"), dict):
            resource = block["resource"]
            if isinstance(resource.get("text"), str):
                parts.append(resource["text"])
            else:
                parts.append(f"[a file: {str(resource.get('uri', ''))[:200]}]")
        elif kind == "resource_link":
            parts.append(f"[a link: {str(block.get('uri', ''))[:200]}]")
        elif kind in ("image", "audio"):
            parts.append(f"[an {kind}, not shown]" if kind == "image" else "[a sound, not shown]")
    if not parts and structured is not None:
        parts.append(json.dumps(structured, ensure_ascii=False, separators=(",", ":")))
    return "\n".join(parts).strip()
