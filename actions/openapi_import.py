"""Actions from an OpenAPI 3 document: each operation becomes an action's definition (its
name from the ``operationId``, its description from the summary and description, its
parameters from the path and query parameters and the JSON request body, local ``$ref`` s
resolved), on the document's first server. Only reads the document; creating the actions
is :func:`actions.services.actions_import`."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urljoin

METHODS = ("get", "post", "put", "patch", "delete")
MAX_OPERATIONS = 100
MAX_DEPTH = 8
MAX_NODES = 5000  # per operation, references expanded


class NotOpenAPI(ValueError):
    pass


class _Budget:
    """How many nodes one operation's expansion may still produce: references are expanded
    where they are used, so a document of a few KB could otherwise expand to gigabytes."""

    def __init__(self, nodes: int = MAX_NODES) -> None:
        self.left = nodes

    def spend(self) -> bool:
        self.left -= 1
        return self.left >= 0


def _resolve(document: dict[str, Any], node: Any, budget: _Budget, refs: frozenset[str] = frozenset()) -> Any:
    """``node`` with its local ``$ref`` s (``#/components/...``) replaced by what they name;
    a reference met again inside itself (a recursive schema), more than ``MAX_DEPTH`` deep or
    past the budget becomes ``{}`` (anything)."""
    if not budget.spend():
        return {}
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            if not ref.startswith("#/") or ref in refs or len(refs) >= MAX_DEPTH:
                return {}  # another document, a cycle, or too deep: not followed
            target: Any = document
            for part in ref[2:].split("/"):
                target = (
                    target.get(part.replace("~1", "/").replace("~0", "~"))
                    if isinstance(target, dict)
                    else None
                )
            return _resolve(document, target or {}, budget, refs | {ref})
        return {k: _resolve(document, v, budget, refs) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(document, item, budget, refs) for item in node]
    return node


def _name(operation: dict[str, Any], method: str, path: str) -> str:
    raw = str(operation.get("operationId") or f"{method}_{path}")
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", raw).strip("_")
    return name[:64] or method


def _parameters(document: dict[str, Any], operation: dict[str, Any], shared: list[Any]) -> dict[str, Any]:
    budget = _Budget()
    properties: dict[str, Any] = {}
    required: list[str] = []
    own = operation.get("parameters")
    for parameter in [*shared, *(own if isinstance(own, list) else [])]:
        parameter = _resolve(document, parameter, budget)
        if not isinstance(parameter, dict) or parameter.get("in") not in ("path", "query"):
            continue  # headers and cookies are the action's own, not the model's
        name = str(parameter.get("name") or "")
        if not name:
            continue
        schema = parameter.get("schema")
        schema = dict(schema) if isinstance(schema, dict) else {"type": "string"}
        if parameter.get("description"):
            schema.setdefault("description", str(parameter["description"])[:500])
        properties[name] = schema
        if parameter.get("required") or parameter.get("in") == "path":
            required.append(name)
    body = _resolve(document, operation.get("requestBody"), budget)
    content = body.get("content") if isinstance(body, dict) else None
    json_body = content.get("application/json") if isinstance(content, dict) else None
    schema = json_body.get("schema") if isinstance(json_body, dict) else None
    if isinstance(schema, dict) and schema.get("type", "object") == "object":
        body_properties = schema.get("properties")
        for name, spec in (body_properties if isinstance(body_properties, dict) else {}).items():
            properties.setdefault(str(name), spec if isinstance(spec, dict) else {})
        body_required = schema.get("required")
        required += [
            str(r) for r in (body_required if isinstance(body_required, list) else []) if r not in required
        ]
    result: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        result["required"] = required
    return result


def operations_read(document: Any) -> list[dict[str, Any]]:
    """Every operation of ``document`` as an action's fields (name, description,
    parameters, method, url); raises :class:`NotOpenAPI` when it is not an OpenAPI 3
    document with a server."""
    if not isinstance(document, dict) or not str(document.get("openapi", "")).startswith("3."):
        raise NotOpenAPI('Not an OpenAPI 3 document (no "openapi": "3.x").')
    servers = document.get("servers") or []
    base = servers[0].get("url") if servers and isinstance(servers[0], dict) else None
    if not isinstance(base, str) or not base.startswith(("https://", "http://")):
        raise NotOpenAPI("The document names no absolute server URL (servers[0].url).")
    paths = document.get("paths")
    if not isinstance(paths, dict):
        raise NotOpenAPI('The document has no "paths".')
    found = []
    for path, item in paths.items():
        if not isinstance(item, dict):
            continue
        shared = item.get("parameters") or []
        for method in METHODS:
            operation = item.get(method)
            if not isinstance(operation, dict):
                continue
            words = [str(operation.get("summary") or ""), str(operation.get("description") or "")]
            found.append(
                {
                    "name": _name(operation, method, str(path)),
                    "title": str(operation.get("summary") or "")[:120],
                    "description": " ".join(w.strip() for w in words if w.strip())[:4000]
                    or f"{method.upper()} {path}",
                    "parameters": _parameters(
                        document, operation, shared if isinstance(shared, list) else []
                    ),
                    "method": method.upper(),
                    "url": urljoin(base.rstrip("/") + "/", str(path).lstrip("/")),
                }
            )
            if len(found) >= MAX_OPERATIONS:
                return found
    return found
