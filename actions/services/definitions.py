"""Defining actions: each field checked with a clear per-field problem, headers and the
signing secret stored encrypted, every change audited, the tools' cache forgotten; and
actions read from an OpenAPI document."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import referencing
import referencing.exceptions
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Count
from django.utils.text import capfirst

from audit.services import Caller, audit_record
from saas.crypto import secret_encrypt
from saas.errors import ValidationFailed
from saas.outbound import UnsafeAddress, host_port, url_host_check
from widget_builder.models import Widget

from .. import openapi_import, signing
from ..models import Action

NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
PLACE_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
HEADER_NAME_RE = re.compile(r"^[A-Za-z0-9-]{1,64}$")
FORBIDDEN_HEADERS = {"host", "content-length", "transfer-encoding", "connection", "content-type"}
MAX_ACTIONS = 50
# The tools offered to the model in one widget's conversations (actions.tools), cached.
OFFERED_KEY = "actions:offered:v2:{widget}"
TRIGGERS_KEY = "actions:triggers:v1"  # the offline keyword rule's phrases (confirmations), cached
MAX_TRIGGER_PHRASES = 20
MAX_TIMEOUT_SECONDS = 30

# --- defining actions -----------------------------------------------------------------


def _invalid(field_name: str, message: str, code: str = "invalid") -> ValidationFailed:
    return ValidationFailed(errors={field_name: [{"code": code, "message": message}]})


def _private_allowed(url: str) -> bool:
    if settings.ACTIONS_ALLOW_PRIVATE:
        return True
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:  # a port out of range: the address check refuses it by name
        return False
    allowed = {entry.strip().lower() for entry in settings.ACTIONS_PRIVATE_ALLOWLIST}
    return host_port(parts.hostname or "", port) in allowed


def _url_checked(url: str, parameters: dict[str, Any]) -> str:
    url = (url or "").strip()
    if not url:
        raise _invalid("url", "Enter the address of the endpoint.", "required")
    if len(url) > 2000:
        raise _invalid("url", "Keep the address under 2000 characters.", "too_long")
    private = _private_allowed(url.replace("{", "").replace("}", ""))
    if urlsplit(url).scheme != "https" and not private:
        raise _invalid(
            "url", "Use an https:// address: the call carries the visitor's identity.", "not_https"
        )
    if "{" in urlsplit(url).netloc or "}" in urlsplit(url).netloc:
        # The model would choose the host the headers and the visitor's id go to.
        raise _invalid("url", "Inputs may fill the path and the query, never the host.", "place_in_host")
    try:
        url_host_check(PLACE_RE.sub("x", url), allow_private=private)
    except UnsafeAddress as error:
        raise _invalid("url", str(error), error.code) from error
    properties = parameters.get("properties") or {}
    places = PLACE_RE.findall(url)
    unknown = [p for p in places if p not in properties]
    if unknown:
        raise _invalid("url", f"{{{unknown[0]}}} is not one of the parameters.", "unknown_parameter")
    optional = [p for p in places if p not in (parameters.get("required") or [])]
    if optional:
        raise _invalid("url", f"{{{optional[0]}}} must be a required parameter.", "place_not_required")
    return url


def _local_refs_only(node: Any, root: dict[str, Any]) -> None:
    """Every ``$ref`` of the schema points inside it, at something there: nothing is ever
    fetched, and no call meets a reference that does not resolve."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("$ref", "$dynamicRef"):
                if not (isinstance(value, str) and value.startswith("#")):
                    raise _invalid(
                        "parameters", "References must point inside the schema (#/...).", "remote_ref"
                    )
                if key == "$ref" and not _pointer_resolves(root, value[1:]):
                    raise _invalid("parameters", f"The reference {value} points at nothing.")
            _local_refs_only(value, root)
    elif isinstance(node, list):
        for item in node:
            _local_refs_only(item, root)


def _pointer_resolves(root: Any, pointer: str) -> bool:
    """Whether the JSON pointer (RFC 6901, after the "#") names something in ``root``."""
    target = root
    for part in [p for p in pointer.split("/")[1:]] if pointer else []:
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(target, dict) and part in target:
            target = target[part]
        elif isinstance(target, list) and part.isdigit() and int(part) < len(target):
            target = target[int(part)]
        else:
            return False
    return True


def _parameters_checked(parameters: Any) -> dict[str, Any]:
    if parameters in (None, ""):
        parameters = {"type": "object", "properties": {}}
    if not isinstance(parameters, dict) or parameters.get("type") != "object":
        raise _invalid("parameters", 'The parameters must be a JSON Schema with "type": "object".')
    if len(json.dumps(parameters)) > 20_000:
        raise _invalid("parameters", "Keep the schema under 20,000 characters.", "too_long")
    _local_refs_only(parameters, parameters)
    try:
        jsonschema.Draft202012Validator.check_schema(parameters)
        schema_validator(parameters).is_valid({})  # its references resolve
    except jsonschema.SchemaError as error:
        raise _invalid("parameters", f"Not a valid JSON Schema: {error.message}"[:300]) from error
    except referencing.exceptions.Unresolvable as error:
        raise _invalid("parameters", f"A reference does not resolve: {error}"[:300]) from error
    return parameters


def schema_validator(parameters: dict[str, Any]) -> jsonschema.Draft202012Validator:
    """The validator of an action's inputs, with an empty registry: a reference outside the
    schema is never fetched (jsonschema would fetch http(s) ones by itself)."""
    return jsonschema.Draft202012Validator(parameters, registry=referencing.Registry())


def _headers_checked(headers: Any) -> dict[str, str]:
    headers = headers or {}
    if not isinstance(headers, dict) or len(headers) > 20:
        raise _invalid("headers", "Headers are up to 20 names with their values.")
    for name, value in headers.items():
        if not isinstance(name, str) or not HEADER_NAME_RE.match(name):
            raise _invalid("headers", f"{name!r} is not a valid header name.")
        if name.lower() in FORBIDDEN_HEADERS | signing.RESERVED:
            raise _invalid("headers", f"{name} is set by the platform.", "reserved")
        if not isinstance(value, str) or len(value) > 4000 or "\n" in value or "\r" in value:
            raise _invalid("headers", f"The value of {name} must be one line of text.")
    return headers


def _fields_checked(data: dict[str, Any]) -> dict[str, Any]:
    name = str(data.get("name") or "").strip()
    if not NAME_RE.match(name):
        raise _invalid("name", "Use 1 to 64 letters, digits, _ or - (the model calls it by this name).")
    description = str(data.get("description") or "").strip()
    if not description:
        raise _invalid(
            "description", "Say what it does and when to use it: the model reads this.", "required"
        )
    parameters = _parameters_checked(data.get("parameters"))
    method = str(data.get("method") or "POST").upper()
    if method not in Action.Method.values:
        raise _invalid("method", f"Use one of {', '.join(Action.Method.values)}.")
    timeout = data.get("timeout_seconds", 10)
    if not isinstance(timeout, int) or not 1 <= timeout <= MAX_TIMEOUT_SECONDS:
        raise _invalid("timeout_seconds", f"Between 1 and {MAX_TIMEOUT_SECONDS} seconds.")
    fields = data.get("response_fields") or []
    if not isinstance(fields, list) or not all(isinstance(f, str) and 0 < len(f) <= 200 for f in fields):
        raise _invalid("response_fields", "A list of dotted paths, e.g. order.status.")
    audience = data.get("audience") or Action.Audience.ANYONE
    if audience not in Action.Audience.values:
        raise _invalid("audience", f"Use one of {', '.join(Action.Audience.values)}.")
    triggers = _triggers_checked(data.get("trigger_phrases"))
    return {
        "name": name,
        "title": (str(data.get("title") or "").strip() or capfirst(name.replace("_", " ")))[:120],
        "description": description[:4000],
        "parameters": parameters,
        "method": method,
        "url": _url_checked(str(data.get("url") or ""), parameters),
        "timeout_seconds": timeout,
        "response_fields": fields[:50],
        "audience": audience,
        "requires_confirmation": bool(data.get("requires_confirmation", False)),
        "trigger_phrases": triggers,
        "is_enabled": bool(data.get("is_enabled", True)),
    }


def _widgets_checked(widgets: Any) -> list[Widget]:
    """The widgets an action is limited to (ids of the workspace's widgets; none: all)."""
    widgets = widgets or []
    if not isinstance(widgets, list) or not all(
        isinstance(w, int) and not isinstance(w, bool) for w in widgets
    ):
        raise _invalid("widgets", "A list of widget ids (empty: every widget).")
    found = list(Widget.objects.filter(pk__in=widgets).order_by("pk"))
    if len(found) != len(set(widgets)):
        missing = sorted(set(widgets) - {w.pk for w in found})
        raise _invalid("widgets", f"There is no widget {missing[0]} in this workspace.", "not_found")
    return found


def offered_key(widget_id: int) -> str:
    return OFFERED_KEY.format(widget=widget_id)


def offered_forget() -> None:
    """Forget every widget's cached tools now and once the change commits (a reader
    between the two would otherwise cache the old ones again)."""
    keys = [offered_key(pk) for pk in Widget.objects.values_list("pk", flat=True)] + [TRIGGERS_KEY]
    cache.delete_many(keys)
    transaction.on_commit(lambda: cache.delete_many(keys))


def _triggers_checked(phrases: Any) -> list[str]:
    """The offline keyword rule's phrases: up to 20, each 2 to 100 characters, kept once
    (in any case) and in their order."""
    phrases = phrases or []
    if not isinstance(phrases, list) or not all(isinstance(p, str) for p in phrases):
        raise _invalid("trigger_phrases", "A list of words or phrases, e.g. cancel my order.")
    kept: list[str] = []
    for phrase in (" ".join(p.split()) for p in phrases):
        if not phrase or phrase.lower() in (k.lower() for k in kept):
            continue
        if not 2 <= len(phrase) <= 100:
            raise _invalid("trigger_phrases", f"{phrase[:20]!r}: use 2 to 100 characters per phrase.")
        kept.append(phrase)
    if len(kept) > MAX_TRIGGER_PHRASES:
        raise _invalid("trigger_phrases", f"At most {MAX_TRIGGER_PHRASES} phrases.", "limit")
    return kept


def _audited(action: Action) -> dict[str, Any]:
    return {
        "name": action.name,
        "url": action.url.split("?", 1)[0],
        "method": action.method,
        "audience": action.audience,
        "requires_confirmation": action.requires_confirmation,
        "trigger_phrases": action.trigger_phrases,
        "is_enabled": action.is_enabled,
        "widgets": sorted(w.pk for w in action.widgets.all()) if action.pk else [],
    }


def action_create(*, data: dict[str, Any], request: Caller | None = None) -> Action:
    """A new action from ``data`` (the fields of :class:`Action`, ``headers`` a plain
    object); 422 ``validation_error`` per field."""
    fields = _fields_checked(data)
    headers = _headers_checked(data.get("headers"))
    widgets = _widgets_checked(data.get("widgets"))
    if Action.objects.filter(name=fields["name"]).exists():
        raise _invalid("name", "Another action has this name.", "unique")
    if Action.objects.count() >= MAX_ACTIONS:
        raise _invalid("name", f"A workspace has at most {MAX_ACTIONS} actions.", "limit")
    with transaction.atomic():
        action = Action.objects.create(
            **fields,
            headers=secret_encrypt(json.dumps(headers)) if headers else "",
            signing_secret=secret_encrypt(signing.secret_new()),
        )
        action.widgets.set(widgets)
        audit_record(action="action.created", request=request, target=action, metadata=_audited(action))
        offered_forget()
    return action


def action_update(*, action: Action, data: dict[str, Any], request: Caller | None = None) -> Action:
    """Change the action; ``headers`` replaces them only when given (they are never shown)."""
    before = _audited(action)
    fields = _fields_checked({**_current(action), **data})
    widgets = _widgets_checked(data["widgets"]) if "widgets" in data else None
    if Action.objects.filter(name=fields["name"]).exclude(pk=action.pk).exists():
        raise _invalid("name", "Another action has this name.", "unique")
    for name, value in fields.items():
        setattr(action, name, value)
    if "headers" in data:
        headers = _headers_checked(data["headers"])
        action.headers = secret_encrypt(json.dumps(headers)) if headers else ""
    with transaction.atomic():
        action.save()
        if widgets is not None:
            action.widgets.set(widgets)
        changed = {k: [before[k], v] for k, v in _audited(action).items() if before[k] != v}
        if "headers" in data:
            changed["headers"] = ["(hidden)", "(changed)"]
        if changed:
            audit_record(action="action.updated", request=request, target=action, metadata=changed)
        offered_forget()
    return action


def _current(action: Action) -> dict[str, Any]:
    return {
        f: getattr(action, f)
        for f in (
            "name", "title", "description", "parameters", "method", "url", "timeout_seconds",
            "response_fields", "audience", "requires_confirmation", "trigger_phrases", "is_enabled",
        )
    }  # fmt: skip


def action_delete(*, action: Action, request: Caller | None = None) -> None:
    """Gone; its calls stay in the transcripts under its name."""
    with transaction.atomic():
        audit_record(action="action.deleted", request=request, target=action, metadata=_audited(action))
        action.delete()
        offered_forget()


def widget_removed(*, widget: Widget) -> None:
    """``widget`` is being deleted (inside its transaction): an action limited to it alone
    would otherwise be offered on every widget (no widgets: all), so it is turned off
    first; every widget's cached tools are forgotten."""
    # Counted before the filter on the widget (which would otherwise count its join alone).
    alone = Action.objects.annotate(scoped=Count("widgets")).filter(scoped=1, widgets=widget, is_enabled=True)
    for action in alone:
        action.is_enabled = False
        action.save(update_fields=["is_enabled", "updated_at"])
        audit_record(
            action="action.updated",
            target=action,
            metadata={"is_enabled": [True, False], "reason": f"its only widget {widget.name!r} was deleted"},
        )
    offered_forget()


def action_secret_rotate(*, action: Action, request: Caller | None = None) -> str:
    """A new signing secret, answered once (the old one stops signing at once)."""
    secret = signing.secret_new()
    action.signing_secret = secret_encrypt(secret)
    with transaction.atomic():
        action.save(update_fields=["signing_secret", "updated_at"])
        audit_record(action="action.secret_rotated", request=request, target=action)
    return secret


def actions_import(
    *,
    document: Any,
    operations: list[str] | None = None,
    headers: dict[str, str] | None = None,
    create: bool = True,
    request: Caller | None = None,
) -> list[dict[str, Any]]:
    """Actions from an OpenAPI 3 document: each operation (or those named in
    ``operations``) checked as :func:`action_create` checks it and, with ``create``,
    created (``headers`` on each). One result per operation: its name and either the new
    action's id or the problems that kept it out; the others are created all the same."""
    try:
        found = openapi_import.operations_read(document)
    except openapi_import.NotOpenAPI as error:
        raise _invalid("document", str(error)) from error
    if operations is not None:
        found = [f for f in found if f["name"] in set(operations)]
    results: list[dict[str, Any]] = []
    for fields in found:
        data = {**fields, "headers": headers or {}}
        shown = {key: fields.get(key, "") for key in ("method", "url", "description")}
        try:
            if create:
                action = action_create(data=data, request=request)
                results.append({"name": fields["name"], "id": str(action.public_id), "errors": {}, **shown})
            else:
                _fields_checked(data)
                _headers_checked(data["headers"])
                if Action.objects.filter(name=fields["name"]).exists():
                    raise _invalid("name", "Another action has this name.", "unique")
                results.append({"name": fields["name"], "id": None, "errors": {}, **shown})
        except ValidationFailed as problem:
            results.append({"name": fields["name"], "id": None, "errors": problem.errors or {}, **shown})
    return results
