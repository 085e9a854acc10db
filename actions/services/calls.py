"""Calling an action for a visitor (:func:`action_call`), the single path every call takes:
the rules first (enabled, who may trigger it, the visitor's confirmation, the inputs against
the parameters' schema, the per-visitor rate limit, the pause after repeated failures), then
one signed request through the outbound module, then the answer read for the model and the
call logged. Nothing is retried: an action may have side effects."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import httpx2
import jsonschema
import referencing.exceptions
from django.conf import settings
from django.core.cache import cache
from django.utils.text import capfirst

from billing.services import usage_take
from chat.models import Contact, Conversation
from saas.crypto import secret_decrypt
from saas.ratelimit import rate_limit_hit
from saas.tenant_connection import connection
from tenants.models import Tenant

from .. import mapping, sending, signing
from ..models import Action, ActionCall, McpServer
from .definitions import PLACE_RE, schema_validator

BODY_METHODS = {"POST", "PUT", "PATCH"}
EXCERPT_BYTES = 2048
MAX_INPUT_CHARS = 8000  # a call's inputs as JSON
MASK = "••••••"  # a header value of the workspace's, as shown
TESTS_PER_MINUTE = 30  # test runner calls a workspace may make (API and dashboard together)

# What the model is told when a call is not made or fails; it words the visitor's answer.
TOLD: dict[str, str] = {
    ActionCall.Status.DENIED: "Not done: this can only be done for a visitor who is signed in on the website "
    "(verified identity). Tell the visitor to sign in and try again; do not pretend it was done.",
    ActionCall.Status.INVALID: "Not done: the inputs were not valid ({error}). Ask the visitor for what is "
    "missing or wrong, then try again.",
    ActionCall.Status.RATE_LIMITED: "Not done: this was asked too often just now. Tell the visitor to try "
    "again in a minute.",
    ActionCall.Status.PAUSED: "Not done: this service is failing right now and is paused for a moment. "
    "Tell the visitor it is unavailable at the moment; do not try again in this answer.",
    ActionCall.Status.TIMED_OUT: "Not done: the service did not answer in time. Tell the visitor it is "
    "unavailable at the moment; do not try again in this answer.",
    ActionCall.Status.FAILED: "Not done: the service answered with an error (HTTP {http_status}). Tell the "
    "visitor it could not be done; do not try again in this answer.",
    ActionCall.Status.UNREADABLE: "Unknown outcome: the service's answer could not be read. Tell the visitor "
    "you could not confirm it; do not try again in this answer.",
    ActionCall.Status.REFUSED: "Not done: the service cannot be reached. Tell the visitor it is unavailable.",
    ActionCall.Status.DECLINED: "Not done: the visitor declined. Do not do it unless they ask again.",
    ActionCall.Status.QUOTA_EXCEEDED: "Not done: this workspace's AI actions are used up for this month. "
    "Tell the visitor it cannot be done here right now and offer another way (a person); do not try again.",
}
# What counts toward pausing an action: the service is down or broken (5xx, no answer,
# unreadable answers), never a refusal the inputs caused (4xx): a visitor asking about
# orders that do not exist must not pause it for everyone.
FAILURES = {ActionCall.Status.FAILED, ActionCall.Status.TIMED_OUT, ActionCall.Status.UNREADABLE}


@dataclass(frozen=True)
class Outcome:
    """What a call gave: ``result`` is the text for the model; ``call`` the log row (None
    when confirmation is still needed: nothing was called, nothing logged)."""

    status: str
    result: str
    call: ActionCall | None = None
    needs_confirmation: bool = False
    summary: list[tuple[str, str]] = field(default_factory=list)
    # The request as sent (method, url, headers with the workspace's values masked, body),
    # for the test runner; None when nothing was sent.
    sent: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.status == ActionCall.Status.SUCCEEDED


# --- calling an action ------------------------------------------------------------------


def confirmation_summary(action: Action, arguments: dict[str, Any]) -> list[tuple[str, str]]:
    """The inputs in plain words for the visitor's confirmation: each parameter's title (or
    its name, words spaced) and its value."""
    return schema_summary(action.parameters, arguments)


def schema_summary(schema: dict[str, Any], arguments: dict[str, Any]) -> list[tuple[str, str]]:
    """``arguments`` in plain words: for each, the title the JSON Schema ``schema`` gives
    its property (or its name, words spaced) and its value."""
    properties = schema.get("properties") or {}
    lines = []
    for name, value in arguments.items():
        spec = properties.get(name) or {}
        label = str(spec.get("title") or capfirst(name.replace("_", " ")))
        if isinstance(value, bool):
            shown = "Yes" if value else "No"
        elif isinstance(value, (dict, list)):
            shown = json.dumps(value, ensure_ascii=False)
        else:
            shown = str(value)
        lines.append((label, shown[:200]))
    return lines


def _request_of(action: Action, arguments: dict[str, Any]) -> tuple[str, bytes]:
    """The URL (places filled, URL-encoded; the rest of a GET's or DELETE's inputs as its
    query) and the body (JSON of the rest, for POST, PUT, PATCH)."""
    rest = dict(arguments)
    url = PLACE_RE.sub(lambda m: quote(str(rest.pop(m.group(1))), safe=""), action.url)
    body = b""
    if action.method in BODY_METHODS:
        body = json.dumps(rest, ensure_ascii=False, separators=(",", ":")).encode()
    elif rest:
        query = {k: (json.dumps(v) if isinstance(v, (dict, list)) else v) for k, v in rest.items()}
        url += ("&" if "?" in url else "?") + urlencode(query, doseq=False)
    # As it goes on the wire (the HTTP library's normal form): what is signed is what is sent.
    return str(httpx2.URL(url)), body


def _size_problem(arguments: dict[str, Any]) -> str:
    """Inputs too long to check: the schema's patterns (the tenant's regular expressions)
    run on them, so their length is bounded first."""
    if len(json.dumps(arguments, ensure_ascii=False)) > MAX_INPUT_CHARS:
        return f"the inputs are longer than {MAX_INPUT_CHARS} characters"
    return ""


def _inputs_problem(action: Action, arguments: dict[str, Any]) -> str:
    """Why the model's inputs cannot be sent ("" when they can): beyond the schema, no input
    the parameters do not name, none too long (the schema's patterns run on them), and a
    value that fills a place of the URL is a plain path segment (no "/", not "." or "..":
    never a way to another path of the tenant's server)."""
    properties = action.parameters.get("properties") or {}
    extra = sorted(set(arguments) - set(properties))
    if extra and action.parameters.get("additionalProperties") is not True:
        return f"{extra[0]} is not one of the parameters"
    for name in PLACE_RE.findall(action.url):
        value = str(arguments.get(name, ""))
        if value in ("", ".", "..") or "/" in value or "\\" in value:
            return f"{name} must be a plain value (not empty, no /)"
    return ""


def _breaker_keys(action: Action | McpServer) -> tuple[str, str]:
    kind = "mcp" if isinstance(action, McpServer) else "actions"  # an MCP server: one for its tools
    return f"{kind}:failures:{action.pk}", f"{kind}:paused:{action.pk}"


def _paused(action: Action | McpServer) -> bool:
    return bool(cache.get(_breaker_keys(action)[1]))


def _health(action: Action | McpServer, status: str) -> None:
    """Failures in a row pause the action for ``ACTIONS_PAUSE_SECONDS``: no retry storm
    against a service that is down, whatever the model or the visitors do."""
    failures, paused = _breaker_keys(action)
    if status not in FAILURES:
        if status == ActionCall.Status.SUCCEEDED:
            cache.delete(failures)
        return
    if cache.add(failures, 1, timeout=settings.ACTIONS_PAUSE_SECONDS * 4):
        count = 1
    else:
        try:
            count = cache.incr(failures)
        except ValueError:
            cache.set(failures, 1, timeout=settings.ACTIONS_PAUSE_SECONDS * 4)
            count = 1
    if count >= settings.ACTIONS_PAUSE_AFTER_FAILURES:
        cache.set(paused, 1, timeout=settings.ACTIONS_PAUSE_SECONDS)
        cache.delete(failures)


def _log(
    action: Action,
    arguments: dict[str, Any],
    status: str,
    *,
    contact: Contact | None,
    conversation: Conversation | None,
    source: str,
    result: str,
    http_status: int | None = None,
    duration_ms: int | None = None,
    error: str = "",
    call_id: Any = None,
    response_excerpt: str = "",
) -> ActionCall:
    extra = {"public_id": call_id} if call_id is not None else {}
    return ActionCall.objects.create(
        action=action,
        action_name=action.name,
        conversation=conversation,
        contact=contact,
        source=source,
        arguments=arguments,
        status=status,
        http_status=http_status,
        duration_ms=duration_ms,
        result=result,
        error=error[:300],
        response_excerpt=response_excerpt,
        **extra,
    )


def _visitor_id(action: Action | McpServer, contact: Contact | None, test_visitor_id: str = "") -> str | None:
    """The verified user id sent along ("" for anyone else), or None when the action (or
    MCP server) is for verified visitors and this one is not. ``test_visitor_id``: the test runner's
    stand-in for a verified visitor."""
    if test_visitor_id:
        return test_visitor_id
    verified = contact is not None and contact.identity_verified and bool(contact.external_id)
    if action.audience == Action.Audience.VERIFIED and not verified:
        return None
    return contact.external_id if verified and contact is not None else ""


def _schema_problem(
    schema: dict[str, Any], arguments: dict[str, Any], what: str = "the action's parameters"
) -> str:
    """The first way the inputs fail ``schema`` ("" when they pass); ``what`` names it."""
    try:
        errors = sorted(schema_validator(schema).iter_errors(arguments), key=str)
    except (referencing.exceptions.Unresolvable, jsonschema.SchemaError) as exc:
        return f"{what} cannot be checked ({type(exc).__name__})"
    if not errors:
        return ""
    where = "/".join(str(p) for p in errors[0].absolute_path)
    return (f"{where}: " if where else "") + str(errors[0].message)[:200]


def _precheck(
    action: Action,
    arguments: Any,
    contact: Contact | None,
    source: str,
    arguments_error: str = "",
    test_visitor_id: str = "",
) -> tuple[str, str] | None:
    """The status and error that stop the call before anything is sent, if any."""
    if not action.is_enabled and source != ActionCall.Source.TEST:
        return ActionCall.Status.DENIED, "The action is turned off."
    if _visitor_id(action, contact, test_visitor_id) is None:
        return ActionCall.Status.DENIED, "Only for visitors with a verified identity."
    if arguments_error:
        return ActionCall.Status.INVALID, arguments_error[:200]
    if not isinstance(arguments, dict):
        return ActionCall.Status.INVALID, "The inputs must be an object."
    problem = (
        _size_problem(arguments)
        or _schema_problem(action.parameters, arguments)
        or _inputs_problem(action, arguments)
    )
    if problem:
        return ActionCall.Status.INVALID, problem
    if source == ActionCall.Source.ANSWER and contact is not None:
        limit = settings.ACTIONS_CALLS_PER_MINUTE
        if rate_limit_hit(f"action:{action.pk}", key=str(contact.public_id), limit=limit, period_s=60):
            return ActionCall.Status.RATE_LIMITED, f"More than {limit} calls a minute by this visitor."
    if _paused(action):
        return ActionCall.Status.PAUSED, "Paused after failing several times in a row."
    return None


def action_call(
    *,
    action: Action,
    arguments: Any,
    contact: Contact | None = None,
    conversation: Conversation | None = None,
    source: str = ActionCall.Source.ANSWER,
    confirmed: bool = False,
    arguments_error: str = "",
    test_visitor_id: str = "",
) -> Outcome:
    """Call ``action`` with the model's ``arguments`` for the visitor ``contact``. An
    action that needs the visitor's confirmation answers ``needs_confirmation`` (with the
    inputs in plain words) until called again with ``confirmed``; nothing is sent before.
    ``arguments_error``: the model's arguments could not be read (chat.llm ToolCall)."""
    stopped = _precheck(action, arguments, contact, source, arguments_error, test_visitor_id)
    if stopped is None and conversation is not None and not _offered_on(action, conversation):
        stopped = ActionCall.Status.DENIED, "Not offered on this conversation's widget."
    if (
        stopped is None
        and action.requires_confirmation
        and not confirmed
        and source == ActionCall.Source.ANSWER
    ):
        return Outcome(
            "needs_confirmation", "", needs_confirmation=True, summary=confirmation_summary(action, arguments)
        )
    if stopped is None and source == ActionCall.Source.ANSWER and not _quota_taken():
        # Counted once past every rule and the confirmation: a call about to be sent.
        stopped = ActionCall.Status.QUOTA_EXCEEDED, "The plan's AI action calls for this month are used up."
    if stopped is not None:
        status, error = stopped
        told = TOLD[status].format(error=error, http_status="")
        call = _log(
            action, arguments if isinstance(arguments, dict) else {}, status,
            contact=contact, conversation=conversation, source=source, result=told, error=error,
        )  # fmt: skip
        return Outcome(status, told, call)
    return _send(
        action,
        arguments,
        contact=contact,
        conversation=conversation,
        source=source,
        test_visitor_id=test_visitor_id,
    )


def _offered_on(action: Action, conversation: Conversation) -> bool:
    """An action limited to some widgets is called only in their conversations."""
    scoped = list(action.widgets.values_list("pk", flat=True))
    return not scoped or conversation.widget_id in scoped


def _quota_taken() -> bool:
    """One of the plan's monthly AI action calls (billing.services.usage_take), or False
    past the quota. Test runner calls are not counted."""
    tenant = Tenant.objects.get(schema_name=connection.schema_name)
    return usage_take(tenant, "action_calls")


def action_test(*, action: Action, arguments: Any, visitor_id: str = "") -> Outcome:
    """The dashboard's test runner: one real call with sample inputs (a turned-off action
    too), as a visitor whose verified id is ``visitor_id`` (empty: an anonymous visitor),
    no confirmation asked; logged as a test call."""
    return action_call(
        action=action,
        arguments=arguments,
        source=ActionCall.Source.TEST,
        confirmed=True,
        test_visitor_id=visitor_id.strip()[:200],
    )


def action_declined(
    *, action: Action, arguments: dict[str, Any], contact: Contact | None, conversation: Conversation | None
) -> Outcome:
    """The visitor said no to the confirmation: logged, nothing sent."""
    told = TOLD[ActionCall.Status.DECLINED]
    call = _log(
        action, arguments, ActionCall.Status.DECLINED,
        contact=contact, conversation=conversation, source=ActionCall.Source.ANSWER, result=told,
    )  # fmt: skip
    return Outcome(ActionCall.Status.DECLINED, told, call)


def _send(
    action: Action,
    arguments: dict[str, Any],
    *,
    contact: Contact | None,
    conversation: Conversation | None,
    source: str,
    test_visitor_id: str = "",
) -> Outcome:
    call_id = uuid.uuid4()
    url, body = _request_of(action, arguments)
    headers: dict[str, str] = json.loads(secret_decrypt(action.headers)) if action.headers else {}
    masked = {name: MASK for name in headers}
    headers.update(
        signing.signed_headers(
            secret_decrypt(action.signing_secret),
            action=action.name,
            call_id=str(call_id),
            method=action.method,
            url=url,
            visitor_id=_visitor_id(action, contact, test_visitor_id) or "",
            body=body,
        )
    )
    headers["User-Agent"] = "chatbot-actions/1"
    headers["Accept"] = "application/json, text/plain;q=0.9"
    headers["Accept-Encoding"] = "identity"  # the read limit counts the bytes as they arrive
    if body:
        headers["Content-Type"] = "application/json"
    reply = sending.send(
        action.method, url, body=body, headers=headers, timeout=float(action.timeout_seconds)
    )
    status, result, error = _read(action, reply)
    client_error = reply.status is not None and 400 <= reply.status < 500
    _health(action, ActionCall.Status.SUCCEEDED if client_error else status)
    call = _log(
        action, arguments, status,
        contact=contact, conversation=conversation, source=source, result=result,
        http_status=reply.status, duration_ms=reply.duration_ms, error=error, call_id=call_id,
        response_excerpt=reply.body[:EXCERPT_BYTES].decode("utf-8", errors="replace"),
    )  # fmt: skip
    sent = {"method": action.method, "url": url, "headers": {**headers, **masked}, "body": body.decode()}
    return Outcome(status, result, call, sent=sent)


def _read(action: Action, reply: sending.Reply) -> tuple[str, str, str]:
    """(status, what the model is told, the error kept in the log)."""
    if reply.refused:
        return ActionCall.Status.REFUSED, TOLD[ActionCall.Status.REFUSED], reply.error
    if reply.timed_out:
        return ActionCall.Status.TIMED_OUT, TOLD[ActionCall.Status.TIMED_OUT], reply.error
    if reply.status is None:
        return (
            ActionCall.Status.FAILED,
            TOLD[ActionCall.Status.FAILED].format(http_status="none"),
            reply.error,
        )
    if not 200 <= reply.status < 300:
        excerpt = reply.body[:200].decode("utf-8", errors="replace")
        told = TOLD[ActionCall.Status.FAILED].format(http_status=reply.status)
        return ActionCall.Status.FAILED, told, f"HTTP {reply.status}: {excerpt}"
    try:
        text = mapping.result_text(
            reply.body,
            reply.content_type,
            action.response_fields,
            limit=settings.ACTIONS_RESULT_CHARS,
            truncated=reply.truncated,
        )
    except mapping.Unreadable as exc:
        return ActionCall.Status.UNREADABLE, TOLD[ActionCall.Status.UNREADABLE], str(exc)
    return ActionCall.Status.SUCCEEDED, text, ""
