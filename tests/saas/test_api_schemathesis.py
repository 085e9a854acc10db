"""Both APIs answer as their OpenAPI documents say: schemathesis generates requests for every
operation of the workspace API (``/api/schema``, tenant A's host, an admin API key) and of
the widget API (``/api/widget/v1/schema``, the public host, a visitor's token) and checks
each answer (no server error; a documented status, content type, body and headers).

In-process through the WSGI application, on the test's database transaction (rolled back
after each test, mutating operations included). Bounded for CI: a few derandomized examples
per operation, positive and negative (invalid) inputs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.chat.visitors import ORIGIN, make_visitor
from tests.hosts import PUBLIC_HOST
from tests.tenants.factories import ApiKeyFactory

pytestmark = [
    pytest.mark.django_db,
    # The answer streamed as events is an async iterator, read here through WSGI.
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume asynchronous iterators"),
]

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
EXAMPLES = 6  # per operation and generation mode: the whole file stays well under a minute
SCHEMA_ACCEPT = "application/vnd.oai.openapi+json"
STATUSES: list[int] = []  # what the last run was answered (the tests check it reached the views)


@contextmanager
def connection_kept() -> Iterator[None]:
    """As Django's test client does around each request: neither the start nor the end of
    a request may close the connection that holds the test's transaction."""
    for signal in (signals.request_started, signals.request_finished):
        signal.disconnect(close_old_connections)
    try:
        yield
    finally:
        for signal in (signals.request_started, signals.request_finished):
            signal.connect(close_old_connections)


def _schema(client, path: str, host: str) -> Any:
    response = client.get(path, HTTP_HOST=host, HTTP_ACCEPT=SCHEMA_ACCEPT)
    assert response.status_code == 200
    schema = schemathesis.openapi.from_dict(response.json())
    schema.app = WSGIHandler()  # requests go through the whole Django stack, in this thread
    return schema


def _run(schema: Any, headers: dict[str, str], path_parameters: dict[str, Any]) -> list[str]:
    """Every operation, each mode; the failures as text (all of them, not the first)."""
    failures: list[str] = []
    STATUSES.clear()
    for result in schema.get_all_operations():
        operation = result.ok()
        known = {k: v for k, v in path_parameters.items() if "{" + k + "}" in operation.path}
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            test = _checked(operation.as_strategy(mode, path_parameters=known), headers)
            try:
                with connection_kept():
                    test()
            except Unsatisfiable:  # nothing to make invalid (the path's parameters are fixed)
                continue
            except Exception as error:  # collected, and reported together below
                failures.append(f"{operation.method.upper()} {operation.path} ({mode.value}): {error}")
    return failures


def _checked(strategy: Any, headers: dict[str, str]) -> Callable[[], None]:
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    @given(case=strategy)
    def test(case: Any) -> None:
        response = case.call_and_validate(headers=headers, checks=CHECKS)
        STATUSES.append(response.status_code)

    return test


def test_the_workspace_api_answers_as_its_document_says(client, tenant_a):
    secret = ApiKeyFactory(tenant=tenant_a.tenant, name="schemathesis", role="admin").secret
    schema = _schema(client, "/api/schema", tenant_a.host)
    headers = {"Host": tenant_a.host, "Authorization": f"Bearer {secret}"}
    failures = _run(schema, headers, {})
    assert not failures, "\n\n".join(failures)
    assert {200, 404, 422} <= set(STATUSES)


def test_the_widget_api_answers_as_its_document_says(client, tenant_a):
    visitor = make_visitor(tenant_a)
    schema = _schema(client, "/api/widget/v1/schema", PUBLIC_HOST)
    headers = {"Host": PUBLIC_HOST, "Origin": ORIGIN, "Authorization": f"Bearer {visitor.token}"}
    known = {"widget_key": visitor.widget.key, "conversation_id": visitor.conversation.pk}
    failures = _run(schema, headers, known)
    assert not failures, "\n\n".join(failures)
    assert {200, 201, 404, 422} <= set(STATUSES)
