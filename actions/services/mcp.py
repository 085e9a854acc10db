"""MCP servers as a source of actions: defining them (checked per field, headers and the
signing secret encrypted, audited), refreshing their tool list, and calling an allowed tool
for a visitor (:func:`mcp_tool_call`) with the rules every action call has: enabled, who may
trigger it, the inputs against the tool's schema, the per-visitor rate limit, the pause
after repeated failures; then one session through :mod:`actions.mcp_client`, the result
read for the model and the call logged. Nothing is retried."""

from __future__ import annotations

import hashlib
import json
import re
import time
import uuid
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.text import capfirst

from audit.services import Caller, audit_record
from chat.models import Contact, Conversation
from saas.crypto import secret_decrypt, secret_encrypt
from saas.errors import ValidationFailed
from saas.ratelimit import rate_limit_hit

from .. import signing
from ..mcp_client import McpProblem, McpSession, content_text
from ..models import Action, ActionCall, McpServer
from .calls import (
    FAILURES,
    TOLD,
    Outcome,
    _health,
    _paused,
    _quota_taken,
    _schema_problem,
    _size_problem,
    _visitor_id,
    schema_summary,
)
from .definitions import (
    MAX_TIMEOUT_SECONDS,
    _headers_checked,
    _invalid,
    _parameters_checked,
    _url_checked,
)

SERVER_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,19}$")
TOOL_NAME_RE = re.compile(r"^[A-Za-z0-9_.\-/]{1,128}$")
MAX_SERVERS = 10
MAX_ALLOWED = 100
MCP_OFFERED_KEY = "actions:mcp-offered:v1"  # the MCP tools offered to the model (actions.mcp_tools)
MCP_HEADERS = {"mcp-session-id", "mcp-protocol-version", "accept", "accept-encoding", "last-event-id"}
EXCERPT_BYTES = 2048

TOOL_ERROR = (
    "Not done: the tool answered an error: {error}. Tell the visitor it could not be done; do not try "
    "again in this answer."
)
RPC_ERROR = "Not done: the service refused the call ({error}). Tell the visitor it could not be done."


# --- names -------------------------------------------------------------------------------


def offered_name(server: str, tool: str) -> str:
    """The tool's name for the model: ``<server>__<tool>``, within the providers' rule
    (letters, digits, "_" and "-", at most 64); a name that had to change or be cut ends
    with 8 hex digits of the original, so two tools never share one."""
    clean = re.sub(r"[^A-Za-z0-9_-]", "_", tool)
    name = f"{server}__{clean}"
    if clean != tool or len(name) > 64:
        digest = hashlib.sha256(tool.encode()).hexdigest()[:8]
        name = f"{server}__{clean[: 64 - len(server) - 2 - 9]}_{digest}"
    return name


# --- defining servers ---------------------------------------------------------------------


def _allowed_checked(allowed: Any) -> list[str]:
    allowed = allowed or []
    if not isinstance(allowed, list) or len(allowed) > MAX_ALLOWED:
        raise _invalid("allowed_tools", f"A list of up to {MAX_ALLOWED} tool names.")
    for name in allowed:
        if not isinstance(name, str) or not TOOL_NAME_RE.match(name):
            raise _invalid("allowed_tools", f"{str(name)[:80]!r} is not a tool name.")
    return sorted(set(allowed))


def _fields_checked(data: dict[str, Any]) -> dict[str, Any]:
    name = str(data.get("name") or "").strip()
    if not SERVER_NAME_RE.match(name):
        raise _invalid(
            "name", "Use 1 to 20 lower-case letters, digits or - (the prefix of its tools' names)."
        )
    timeout = data.get("timeout_seconds", 10)
    if not isinstance(timeout, int) or not 1 <= timeout <= MAX_TIMEOUT_SECONDS:
        raise _invalid("timeout_seconds", f"Between 1 and {MAX_TIMEOUT_SECONDS} seconds.")
    audience = data.get("audience") or Action.Audience.ANYONE
    if audience not in Action.Audience.values:
        raise _invalid("audience", f"Use one of {', '.join(Action.Audience.values)}.")
    url = str(data.get("url") or "")
    if "{" in url or "}" in url:
        raise _invalid("url", "The server's address has no places to fill.")
    return {
        "name": name,
        "title": (str(data.get("title") or "").strip() or capfirst(name.replace("-", " ")))[:120],
        "url": _url_checked(url, {}),
        "timeout_seconds": timeout,
        "allowed_tools": _allowed_checked(data.get("allowed_tools")),
        "audience": audience,
        "requires_confirmation": bool(data.get("requires_confirmation", False)),
        "is_enabled": bool(data.get("is_enabled", True)),
    }


def _mcp_headers_checked(headers: Any) -> dict[str, str]:
    checked: dict[str, str] = _headers_checked(headers)
    for name in checked:
        if name.lower() in MCP_HEADERS:
            raise _invalid("headers", f"{name} is set by the platform.", "reserved")
    return checked


def _offered_forget() -> None:
    cache.delete(MCP_OFFERED_KEY)
    transaction.on_commit(lambda: cache.delete(MCP_OFFERED_KEY))


def _audited(server: McpServer) -> dict[str, Any]:
    return {
        "name": server.name,
        "url": server.url.split("?", 1)[0],
        "allowed_tools": server.allowed_tools,
        "audience": server.audience,
        "requires_confirmation": server.requires_confirmation,
        "is_enabled": server.is_enabled,
    }


def mcp_server_create(
    *, data: dict[str, Any], request: Caller | None = None, list_tools: bool = True
) -> McpServer:
    """A new MCP server from ``data`` (the fields of :class:`McpServer`, ``headers`` a plain
    object), then its tools listed (:func:`mcp_tools_refresh`, once the server is saved:
    a server that cannot be reached is created all the same, ``last_error`` saying why);
    422 per field."""
    fields = _fields_checked(data)
    headers = _mcp_headers_checked(data.get("headers"))
    if McpServer.objects.filter(name=fields["name"]).exists():
        raise _invalid("name", "Another MCP server has this name.", "unique")
    if McpServer.objects.count() >= MAX_SERVERS:
        raise _invalid("name", f"A workspace has at most {MAX_SERVERS} MCP servers.", "limit")
    with transaction.atomic():
        server = McpServer.objects.create(
            **fields,
            headers=secret_encrypt(json.dumps(headers)) if headers else "",
            signing_secret=secret_encrypt(signing.secret_new()),
        )
        audit_record(action="mcp_server.created", request=request, target=server, metadata=_audited(server))
        _offered_forget()
    return mcp_tools_refresh(server=server, request=request) if list_tools else server


def mcp_server_update(*, server: McpServer, data: dict[str, Any], request: Caller | None = None) -> McpServer:
    """Change the server; ``headers`` replaces them only when given (they are never shown).
    A new address forgets the tools listed from the old one."""
    before = _audited(server)
    current = {
        f: getattr(server, f)
        for f in (
            "name", "title", "url", "timeout_seconds", "allowed_tools", "audience", "requires_confirmation",
            "is_enabled",
        )
    }  # fmt: skip
    fields = _fields_checked({**current, **data})
    if McpServer.objects.filter(name=fields["name"]).exclude(pk=server.pk).exists():
        raise _invalid("name", "Another MCP server has this name.", "unique")
    if fields["url"] != server.url:
        server.tools, server.tools_refreshed_at, server.last_error = [], None, ""
    for name, value in fields.items():
        setattr(server, name, value)
    if "headers" in data:
        headers = _mcp_headers_checked(data["headers"])
        server.headers = secret_encrypt(json.dumps(headers)) if headers else ""
    saved = [*fields, "headers", "tools", "tools_refreshed_at", "last_error", "updated_at"]
    with transaction.atomic():
        server.save(update_fields=saved)
        changed = {k: [before[k], v] for k, v in _audited(server).items() if before[k] != v}
        if "headers" in data:
            changed["headers"] = ["(hidden)", "(changed)"]
        if changed:
            audit_record(action="mcp_server.updated", request=request, target=server, metadata=changed)
        _offered_forget()
    return server


def mcp_server_delete(*, server: McpServer, request: Caller | None = None) -> None:
    """Gone; its calls stay in the transcripts under their names."""
    with transaction.atomic():
        audit_record(action="mcp_server.deleted", request=request, target=server, metadata=_audited(server))
        server.delete()
        _offered_forget()


def mcp_server_secret_rotate(*, server: McpServer, request: Caller | None = None) -> str:
    """A new signing secret, answered once (the old one stops signing at once)."""
    secret = signing.secret_new()
    server.signing_secret = secret_encrypt(secret)
    with transaction.atomic():
        server.save(update_fields=["signing_secret", "updated_at"])
        audit_record(action="mcp_server.secret_rotated", request=request, target=server)
    return secret


# --- talking to a server -----------------------------------------------------------------


def _session(server: McpServer, *, action: str, visitor_id: str) -> McpSession:
    """A session whose every request is signed (actions.signing) with the server's secret,
    ``X-Chatbot-Action`` the tool's name (or the server's, listing), the visitor's verified
    id along when there is one."""
    secret = secret_decrypt(server.signing_secret)

    def sign(method: str, url: str, body: bytes) -> dict[str, str]:
        return signing.signed_headers(
            secret, action=action, call_id=str(uuid.uuid4()), method=method, url=url, visitor_id=visitor_id,
            body=body,
        )  # fmt: skip

    headers: dict[str, str] = json.loads(secret_decrypt(server.headers)) if server.headers else {}
    return McpSession(server.url, headers=headers, timeout=float(server.timeout_seconds), sign=sign)


def _tool_read(tool: dict[str, Any]) -> dict[str, Any]:
    """One listed tool as kept: its name, title, description and input schema, with the
    problem that keeps it from being offered ("" when none)."""
    name = tool.get("name")
    kept = {
        "name": str(name)[:128],
        "title": str(tool.get("title") or "")[:120],
        "description": str(tool.get("description") or "")[:2000],
        "input_schema": {},
        "problem": "",
    }
    if not isinstance(name, str) or not TOOL_NAME_RE.match(name):
        kept["problem"] = "The tool's name is not letters, digits, _ - . or /."
        return kept
    try:
        kept["input_schema"] = _parameters_checked(tool.get("inputSchema"))
    except ValidationFailed as problem:
        kept["problem"] = str((problem.errors or {}).get("parameters", [{}])[0].get("message", ""))[:300]
        kept["input_schema"] = {}
    return kept


def mcp_tools_refresh(*, server: McpServer, request: Caller | None = None) -> McpServer:
    """The server's tools listed again (``tools/list``, every page); on a problem the tools
    listed before stay and ``last_error`` says what happened."""
    session = _session(server, action=server.name, visitor_id="")
    error = ""
    try:
        listed = session.tools_list()
    except McpProblem as problem:
        error = str(problem) or problem.status
    finally:
        session.close()
    changed: list[str] = []
    if not error:
        fresh = [_tool_read(tool) for tool in listed]
        changed = _allowed_changed(server, fresh)
        server.tools = fresh
        server.tools_refreshed_at = timezone.now()
    server.last_error = error[:300]
    with transaction.atomic():
        server.save(update_fields=["tools", "tools_refreshed_at", "last_error", "updated_at"])
        audit_record(
            action="mcp_server.tools_refreshed",
            request=request,
            target=server,
            metadata={
                "tools": [t["name"] for t in server.tools][:100],
                # Allowed tools whose words or inputs the server changed: what the model reads.
                "changed": changed[:100],
                "error": server.last_error,
            },
        )
        _offered_forget()
    return server


def _allowed_changed(server: McpServer, fresh: list[dict[str, Any]]) -> list[str]:
    """The allowed tools whose description or input schema differ in ``fresh`` from the
    list before (allowing a tool approves its words as they were)."""
    before = {t.get("name"): (t.get("description"), t.get("input_schema")) for t in server.tools}
    return sorted(
        t["name"]
        for t in fresh
        if t["name"] in server.allowed_tools
        and t["name"] in before
        and before[t["name"]] != (t.get("description"), t.get("input_schema"))
    )


def server_tool(server: McpServer, tool: str) -> dict[str, Any] | None:
    """The allowed, usable tool of that name from the server's last list, or None."""
    if tool not in server.allowed_tools:
        return None
    listed: list[dict[str, Any]] = server.tools
    return next((t for t in listed if t.get("name") == tool and not t.get("problem")), None)


# --- calling a tool ------------------------------------------------------------------------


def _precheck(
    server: McpServer,
    tool: str,
    arguments: Any,
    contact: Contact | None,
    source: str,
    arguments_error: str,
    test_visitor_id: str,
) -> tuple[str, str] | None:
    if not server.is_enabled and source != ActionCall.Source.TEST:
        return ActionCall.Status.DENIED, "The MCP server is turned off."
    listed = server_tool(server, tool)
    if listed is None:
        return ActionCall.Status.DENIED, "The tool is not one the workspace allows."
    if _visitor_id(server, contact, test_visitor_id) is None:
        return ActionCall.Status.DENIED, "Only for visitors with a verified identity."
    if arguments_error:
        return ActionCall.Status.INVALID, arguments_error[:200]
    if not isinstance(arguments, dict):
        return ActionCall.Status.INVALID, "The inputs must be an object."
    problem = _size_problem(arguments) or _schema_problem(
        listed["input_schema"], arguments, "the tool's schema"
    )
    if problem:
        return ActionCall.Status.INVALID, problem
    if source == ActionCall.Source.ANSWER and contact is not None:
        limit = settings.ACTIONS_CALLS_PER_MINUTE
        scope = f"mcp:{server.pk}:{tool}"
        if rate_limit_hit(scope, key=str(contact.public_id), limit=limit, period_s=60):
            return ActionCall.Status.RATE_LIMITED, f"More than {limit} calls a minute by this visitor."
    if _paused(server):
        return ActionCall.Status.PAUSED, "Paused after failing several times in a row."
    return None


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 12].rstrip() + " …(cut off)"


def tool_title(server: McpServer, tool: str) -> str:
    """What people see of a server's tool: the server's title, then the tool's title (or
    its name, words spaced)."""
    listed = next((t for t in server.tools if t.get("name") == tool), None) or {}
    words = str(listed.get("title") or "") or capfirst(tool.replace("_", " ").replace("-", " "))
    return f"{server.title}: {words}"[:200]


def tool_summary(server: McpServer, tool: str, arguments: dict[str, Any]) -> list[tuple[str, str]]:
    """The inputs in plain words, by the titles of the tool's input schema."""
    listed = server_tool(server, tool) or {}
    return schema_summary(listed.get("input_schema") or {}, arguments)


def _log_fields(
    server: McpServer, tool: str, arguments: Any, contact: Contact | None, conversation: Conversation | None,
    source: str,
) -> dict[str, Any]:  # fmt: skip
    return {
        "action": None,
        "action_name": offered_name(server.name, tool)[:64],
        "mcp_server": server,
        "tool_name": tool[:128],
        "conversation": conversation,
        "contact": contact,
        "source": source,
        "arguments": arguments if isinstance(arguments, dict) else {},
    }


def mcp_tool_call(
    *,
    server: McpServer,
    tool: str,
    arguments: Any,
    contact: Contact | None = None,
    conversation: Conversation | None = None,
    source: str = ActionCall.Source.ANSWER,
    confirmed: bool = False,
    arguments_error: str = "",
    test_visitor_id: str = "",
) -> Outcome:
    """Call the server's ``tool`` with the model's ``arguments`` for the visitor
    ``contact``: the rules first, then ``initialize``, ``tools/call`` and the session's end,
    within the server's timeout. Logged as an :class:`ActionCall` of the server's tool.
    A server that ``requires_confirmation`` answers ``needs_confirmation`` (the inputs in
    plain words) until called again with ``confirmed``: nothing is sent before."""
    stopped = _precheck(server, tool, arguments, contact, source, arguments_error, test_visitor_id)
    log = _log_fields(server, tool, arguments, contact, conversation, source)
    if (
        stopped is None
        and server.requires_confirmation
        and not confirmed
        and source == ActionCall.Source.ANSWER
    ):
        return Outcome(
            "needs_confirmation", "", needs_confirmation=True, summary=tool_summary(server, tool, arguments)
        )
    if stopped is None and source == ActionCall.Source.ANSWER and not _quota_taken():
        # One of the plan's monthly AI action calls, as an action's call takes.
        stopped = ActionCall.Status.QUOTA_EXCEEDED, "The plan's AI action calls for this month are used up."
    if stopped is not None:
        status, error = stopped
        told = TOLD[status].format(error=error, http_status="")
        call = ActionCall.objects.create(**log, status=status, result=told, error=error[:300])
        return Outcome(status, told, call)
    visitor_id = _visitor_id(server, contact, test_visitor_id) or ""
    session = _session(server, action=tool, visitor_id=visitor_id)
    started = time.perf_counter()
    http_status: int | None = None
    excerpt = b""
    counts = False  # toward the pause: the server is down or broken
    try:
        answered = session.tool_call(tool, arguments)
    except McpProblem as problem:
        status, error, http_status, excerpt = (
            problem.status,
            str(problem),
            problem.http_status,
            problem.excerpt,
        )
        rpc_error = status == ActionCall.Status.FAILED and http_status is not None and http_status < 300
        counts = status in FAILURES and not rpc_error and not (http_status is not None and http_status < 500)
        if rpc_error:
            told = RPC_ERROR.format(error=error[:200])
        else:
            told = TOLD[status].format(error=error, http_status=http_status or "none")
    else:
        http_status, excerpt = answered.http_status, answered.raw
        text = content_text(answered.content, answered.structured)
        if answered.is_error:
            status, error = ActionCall.Status.FAILED, "The tool answered an error: " + text[:200]
            told = TOOL_ERROR.format(error=_cut(text, 500) or "no details")
        else:
            status, error = ActionCall.Status.SUCCEEDED, ""
            told = _cut(text, settings.ACTIONS_RESULT_CHARS) or "Done (the tool answered with no content)."
    finally:
        session.close()
    _health(
        server, status if counts or status == ActionCall.Status.SUCCEEDED else ActionCall.Status.SUCCEEDED
    )
    call = ActionCall.objects.create(
        **log,
        status=status,
        result=told,
        error=error[:300],
        http_status=http_status,
        duration_ms=int((time.perf_counter() - started) * 1000),
        response_excerpt=excerpt[:EXCERPT_BYTES].decode("utf-8", errors="replace"),
    )
    return Outcome(status, told, call)


def mcp_tool_declined(
    *, server: McpServer, tool: str, arguments: dict[str, Any], contact: Contact | None,
    conversation: Conversation | None,
) -> Outcome:  # fmt: skip
    """The visitor said no to the confirmation: logged, nothing sent."""
    told = TOLD[ActionCall.Status.DECLINED]
    log = _log_fields(server, tool, arguments, contact, conversation, ActionCall.Source.ANSWER)
    call = ActionCall.objects.create(**log, status=ActionCall.Status.DECLINED, result=told)
    return Outcome(ActionCall.Status.DECLINED, told, call)


def mcp_tool_test(*, server: McpServer, tool: str, arguments: Any, visitor_id: str = "") -> Outcome:
    """The test runner: one real call of an allowed tool (of a turned-off server too), as a
    visitor whose verified id is ``visitor_id`` (empty: an anonymous visitor)."""
    if server_tool(server, tool) is None:
        raise _invalid(
            "tool", "Not one of the server's allowed tools (refresh its tools first).", "not_allowed"
        )
    return mcp_tool_call(
        server=server,
        tool=tool,
        arguments=arguments,
        source=ActionCall.Source.TEST,
        test_visitor_id=visitor_id.strip()[:200],
    )
