"""Both OpenAPI documents (the workspace API, the widget API) show an example of every
operation's success and, where the operation takes a JSON body, of its request; and every
example they show is valid against the schema it illustrates."""

from __future__ import annotations

from typing import Any

import pytest
from openapi_schema_validator import OAS30Validator

from tests.hosts import PUBLIC_HOST

pytestmark = pytest.mark.django_db

SCHEMA_ACCEPT = "application/vnd.oai.openapi+json"
METHODS = ("get", "post", "put", "patch", "delete")
BINARY = {"application/octet-stream", "application/zip"}  # files, shown by no example


@pytest.fixture(params=["workspace", "widget"])
def document(request, client, tenant_a) -> dict[str, Any]:
    path, host = {
        "workspace": ("/api/schema", tenant_a.host),
        "widget": ("/api/widget/v1/schema", PUBLIC_HOST),
    }[request.param]
    response = client.get(path, HTTP_HOST=host, HTTP_ACCEPT=SCHEMA_ACCEPT)
    assert response.status_code == 200
    return response.json()


def _operations(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{method.upper()} {path}", operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def _json_media(content: dict[str, Any]) -> list[dict[str, Any]]:
    return [media for media_type, media in content.items() if media_type.endswith("json")]


def _missing(operation: dict[str, Any]) -> list[str]:
    """What of this operation has no example: its JSON request body, its 2xx answers."""
    missing = []
    request = _json_media(operation.get("requestBody", {}).get("content", {}))
    if request and not any(media.get("examples") for media in request):
        missing.append("request")
    for status, response in operation["responses"].items():
        content = {
            media_type: media
            for media_type, media in response.get("content", {}).items()
            if media_type not in BINARY  # a file, shown by no example
        }
        if (
            status.startswith("2")
            and content
            and not any(media.get("examples") for media in content.values())
        ):
            missing.append(status)
    return missing


def test_every_operation_has_an_example_of_its_request_and_its_success(document):
    assert len(_operations(document)) > 20
    missing = {name: gaps for name, operation in _operations(document) if (gaps := _missing(operation))}
    assert not missing, "\n".join(f"{name}: {', '.join(gaps)}" for name, gaps in sorted(missing.items()))


def _resolved(node: Any, components: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        if node.get("nullable") and len(node.get("allOf", ())) == 1:
            # drf-spectacular's nullable reference: the referenced schema, or null (the
            # validator applies ``nullable`` to the schema that has a ``type`` only).
            inner = _resolved(node["allOf"][0], components)
            return {**inner, **{k: v for k, v in node.items() if k != "allOf"}, "nullable": True}
        if "$ref" in node:
            return _resolved(components[node["$ref"].rsplit("/", 1)[-1]], components)
        return {key: _resolved(value, components) for key, value in node.items()}
    if isinstance(node, list):
        return [_resolved(value, components) for value in node]
    return node


def _examples(operation: dict[str, Any]) -> list[tuple[str, dict[str, Any], Any]]:
    """(where, media's schema, example value) of every JSON example of the operation."""
    bodies = {"request": operation.get("requestBody", {})} | operation["responses"]
    return [
        (f"{where} {media_type} {title}", media["schema"], example["value"])
        for where, body in bodies.items()
        for media_type, media in body.get("content", {}).items()
        if media_type.endswith("json") and "schema" in media
        for title, example in media.get("examples", {}).items()
    ]


def test_every_example_is_valid_against_its_schema(document):
    components = document["components"]["schemas"]
    invalid, checked = [], 0
    for name, operation in _operations(document):
        for where, schema, value in _examples(operation):
            checked += 1
            # Every error of every example, reported together.
            for error in OAS30Validator(_resolved(schema, components)).iter_errors(value):
                invalid.append(f"{name} {where}: {error.message} at {list(error.absolute_path)}")
    assert not invalid, "\n".join(invalid)
    assert checked > 20
