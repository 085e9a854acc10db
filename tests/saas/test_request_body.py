"""Hostile bodies are refused early: nesting bounded before parsing (400 ``json_too_deep``),
a size limit per endpoint (413 ``payload_too_large``), on every endpoint of the widget API
and the workspace API, enumerated from their URL confs so a new endpoint is covered."""

from __future__ import annotations

import io
import json
import re

import pytest
from django.urls import URLPattern, URLResolver
from django_tenants.utils import tenant_context

from chat.services.messages import message_append
from saas import urls_tenant, urls_widget_api
from saas.errors import REGISTRY, PayloadTooLarge
from saas.request_body import (
    DEFAULT_MAX_BODY_BYTES,
    MAX_JSON_DEPTH,
    BodyLimitMixin,
    JsonTooDeep,
    MalformedBody,
    json_body,
    json_depth_exceeds,
    json_loads_bounded,
    json_stream_parse,
    view_body_limit,
)
from tests.chat.visitors import make_visitor
from tests.hosts import PUBLIC_HOST
from tests.tenants.factories import ApiKeyFactory

PROBLEM = "application/problem+json"
DEEP = "[" * 100_000  # the ~100 KB body that made the JSON parser recurse (RecursionError)
DEEP_SMALL = "[" * 5_000  # as deep, under every size limit


# --- the scan ------------------------------------------------------------------------------


def test_the_depth_scan_counts_brackets_outside_strings_only():
    assert not json_depth_exceeds("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH)
    assert json_depth_exceeds("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1))
    assert json_depth_exceeds(DEEP.encode())
    in_a_string = json.dumps({"text": "[" * 10_000 + '\\"[{' * 100})
    assert not json_depth_exceeds(in_a_string) and not json_depth_exceeds(in_a_string.encode())
    # Side by side is not nested.
    assert not json_depth_exceeds(json.dumps([[1]] * 10_000))


def test_bounded_loads_refuses_deep_json_and_reads_the_rest_as_json_does():
    with pytest.raises(JsonTooDeep):
        json_loads_bounded(DEEP)
    with pytest.raises(ValueError):
        json_loads_bounded("[1, NaN]")
    assert json_loads_bounded(b'{"a": [1, {"b": "[["}]}') == {"a": [1, {"b": "[["}]}


def test_a_body_without_a_length_is_cut_at_the_limit_while_read():
    class View:
        max_body_bytes = 100

    with pytest.raises(PayloadTooLarge):
        json_stream_parse(io.BytesIO(b'{"text": "' + b"x" * 200 + b'"}'), {"view": View()})
    assert json_stream_parse(io.BytesIO(b'{"text": "x"}'), {"view": View()}) == {"text": "x"}


def test_plain_views_read_json_through_one_helper(rf):
    def post(body: bytes, **extra):
        return rf.post("/hook", body, content_type="application/json", **extra)

    assert json_body(post(b'{"ok": true}')) == {"ok": True}
    with pytest.raises(PayloadTooLarge):
        json_body(post(b'{"text": "' + b"x" * 100 + b'"}'), max_bytes=50)
    with pytest.raises(JsonTooDeep):
        json_body(post(DEEP_SMALL.encode()))
    with pytest.raises(MalformedBody):
        json_body(post(b"{"))


def test_the_error_reference_lists_the_code(client):
    assert REGISTRY["json_too_deep"] == (400, "The JSON is nested too deeply")
    page = client.get("/docs/errors/", HTTP_HOST=PUBLIC_HOST)
    assert page.status_code == 200 and b"json_too_deep" in page.content


# --- every endpoint ------------------------------------------------------------------------


def _endpoints(patterns, prefix: str = "") -> list[tuple[str, type]]:
    """(route, view class) of every DRF view under ``patterns``."""
    found = []
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            found += _endpoints(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern) and hasattr(pattern.callback, "cls"):
            found.append((prefix + str(pattern.pattern), pattern.callback.cls))
    return found


def _methods(view: type) -> list[str]:
    return [m for m in ("get", "post", "put", "patch", "delete") if hasattr(view, m)]


WIDGET_ENDPOINTS = [
    (route, method, view)
    for route, view in _endpoints(urls_widget_api.urlpatterns)
    for method in _methods(view)
]
TENANT_ENDPOINTS = [
    (route, method, view)
    for route, view in _endpoints(urls_tenant.urlpatterns)
    if route.startswith("api/v1/") and issubclass(view, BodyLimitMixin)
    for method in _methods(view)
]


def test_every_api_view_has_a_body_limit():
    assert len(WIDGET_ENDPOINTS) >= 20 and len(TENANT_ENDPOINTS) >= 10
    assert all(issubclass(view, BodyLimitMixin) for _, _, view in WIDGET_ENDPOINTS)
    api_views = [view for route, view in _endpoints(urls_tenant.urlpatterns) if route.startswith("api/v1/")]
    assert {view for view in api_views if not issubclass(view, BodyLimitMixin)} <= {
        view for view in api_views if view.__module__.startswith("drf_spectacular")
    }


def _sender(client, method: str):
    """Sends a JSON body with any method (the test client's get() would make it a query)."""

    def send(path: str, body, **headers):
        raw = body if isinstance(body, str) else json.dumps(body)
        return client.generic(method.upper(), path, raw, content_type="application/json", **headers)

    return send


def _problem(response, *statuses: int) -> str:
    assert response.status_code in statuses, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith(PROBLEM)
    return response.json()["code"]


@pytest.fixture
def visitor(tenant_a):
    visitor = make_visitor(tenant_a)
    with tenant_context(tenant_a.tenant):
        message_append(conversation=visitor.conversation, role="bot", text="Hello!")
    return visitor


def _widget_path(route: str, visitor) -> str:
    return "/" + (
        route.replace("<str:widget_key>", visitor.widget.key)
        .replace("<int:conversation_id>", str(visitor.conversation.pk))
        .replace("<int:seq>", "2")
        .replace("<str:attachment_id>", "nope")
        .replace("<uuid:confirmation_id>", "00000000-0000-4000-8000-000000000001")
    )


@pytest.mark.parametrize(("route", "method", "view"), WIDGET_ENDPOINTS)
def test_widget_endpoints_refuse_nested_and_oversize_bodies(client, visitor, route, method, view):
    path, headers = _widget_path(route, visitor), visitor.headers()
    send = _sender(client, method)
    deep = send(path, DEEP, **headers)
    assert _problem(deep, 413) == "payload_too_large"  # 100 KB: above every JSON limit
    nested = send(path, DEEP_SMALL, **headers)
    if method != "get" or nested.status_code >= 300:  # a GET never reads its body
        # Read (400), or refused unread (413: a body it never takes), or nothing there (404).
        assert _problem(nested, 400, 404, 413) in ("json_too_deep", "payload_too_large", "not_found")
    limit = view.max_body_bytes
    huge = send(path, {"text": "x" * (limit + 1)}, **headers)
    assert _problem(huge, 413) == "payload_too_large"


def test_the_bodies_widget_calls_read_are_bounded_at_what_they_take(client, visitor):
    """The endpoints the issue found recursing: session, prechat, identify, feedback, rating."""
    base = f"/api/widget/v1/{visitor.widget.key}/"
    conversation = f"conversations/{visitor.conversation.pk}/"
    for name in (
        "session",
        "prechat",
        "identify",
        conversation + "messages/2/feedback",
        conversation + "rating",
    ):
        path = base + name
        nested = client.post(path, DEEP_SMALL, content_type="application/json", **visitor.headers())
        assert _problem(nested, 400) == "json_too_deep", name
    renew = client.post(
        f"/api/widget/v1/{visitor.widget.key}/session/renew",
        {"padding": "x" * 2_000_000},
        content_type="application/json",
        **visitor.headers(),
    )
    assert _problem(renew, 413) == "payload_too_large"
    assert renew["Access-Control-Allow-Origin"]  # the widget can read the answer


def _tenant_path(route: str) -> str:
    """The route with every id filled in (1: a row that may or may not exist), every other
    parameter with a value of its type."""
    route = re.sub(r"<int:\w+>", "1", route)
    route = re.sub(r"<uuid:\w+>", "00000000-0000-4000-8000-000000000001", route)
    return "/" + re.sub(r"<(?:str:)?\w+>", "x", route)


@pytest.mark.parametrize(("route", "method", "view"), TENANT_ENDPOINTS)
def test_workspace_api_endpoints_refuse_nested_and_oversize_bodies(client, tenant_a, route, method, view):
    secret = ApiKeyFactory(tenant=tenant_a.tenant, name="hostile", role="admin").secret
    headers = {"HTTP_HOST": tenant_a.host, "HTTP_AUTHORIZATION": f"Bearer {secret}"}
    send, path = _sender(client, method), _tenant_path(route)
    # An upload endpoint takes larger bodies, as multipart only: JSON there is 415 unread.
    refusals = (413, 415) if view_body_limit(view) > DEFAULT_MAX_BODY_BYTES else (413,)
    assert _problem(send(path, DEEP, **headers), *refusals) in ("payload_too_large", "unsupported_media_type")
    nested = send(path, DEEP_SMALL, **headers)
    if nested.status_code not in (200, 204):  # a method that reads no body may answer
        # (409: a delete that reads no body, refused for the row's state)
        assert _problem(nested, 400, 403, 404, 405, 409, 413, 415, 422)
    big = send(path, {"x": "x" * DEFAULT_MAX_BODY_BYTES}, **headers)
    assert _problem(big, *refusals) in ("payload_too_large", "unsupported_media_type")


def test_the_member_role_change_parses_before_it_looks_up(client, tenant_a):
    secret = ApiKeyFactory(tenant=tenant_a.tenant, name="hostile", role="admin").secret
    response = client.patch(
        "/api/v1/members/1",
        DEEP_SMALL,
        content_type="application/json",
        HTTP_HOST=tenant_a.host,
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert _problem(response, 400) == "json_too_deep"


def test_malformed_json_is_a_parse_error(client, visitor):
    for body in ('{"page_url": ', '{"page_url": NaN}', b'{"a": "\xff"}'):
        response = client.post(
            f"/api/widget/v1/{visitor.widget.key}/session",
            body,
            content_type="application/json",
            **visitor.headers(),
        )
        assert _problem(response, 400) == "parse_error", body
