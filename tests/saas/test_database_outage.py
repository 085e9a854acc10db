"""PostgreSQL unreachable: 503 ``service_unavailable`` with ``Retry-After`` everywhere (a
friendly page for browsers), one log line per state change, recovery without a restart.

The process's connections go through a proxy (``tests/db_proxy.py``) that the test cuts:
the suite's database stays up. These tests run without the usual test transaction (a
transaction cannot outlive its connection) and write nothing.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from asgiref.sync import async_to_sync, sync_to_async
from celery.signals import after_setup_task_logger
from django.db import OperationalError, close_old_connections
from django.db.utils import load_backend
from django.test import Client
from django_tenants.utils import tenant_context
from psycopg import errors as pg_errors
from psycopg_pool import PoolClosed, PoolTimeout

from chat.visitor_tokens import visitor_token_issue
from chat.widget_api.conversations import event_stream
from saas.database_outage import OUTAGE_POOL_TIMEOUT_S, OutageLogFilter, is_database_unavailable, note_outage
from saas.dependency_state import state_changed
from saas.tenant_connection import connection
from tenants.asgi import TenantWebSocketMiddleware
from tenants.models import Tenant
from tests.db_proxy import DatabaseProxy, database_behind_proxy
from tests.hosts import PUBLIC_HOST
from widget_builder.models import Widget

PROBLEM = "application/problem+json"


class ServedClient(Client):
    """Requests as a server runs them: connections are closed when a request starts and
    ends (CONN_MAX_AGE=0). Django's test client keeps them open for the test's transaction,
    which these tests do not have."""

    def __init__(self) -> None:
        super().__init__(raise_request_exception=False)

    def request(self, **request):
        close_old_connections()
        try:
            return super().request(**request)
        finally:
            close_old_connections()


@pytest.fixture
def db_proxy(seeded, django_db_blocker) -> Iterator[DatabaseProxy]:
    with database_behind_proxy(django_db_blocker) as proxy:
        yield proxy


@pytest.fixture
def widget(seeded, django_db_blocker) -> Widget:
    with django_db_blocker.unblock(), tenant_context(seeded["a"].tenant):
        return Widget.objects.order_by("pk")[0]


@pytest.fixture
def widget_key(widget) -> str:
    return widget.key


def _state_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "saas.dependencies"]


def _assert_no_trace(caplog) -> None:
    noisy = [r.getMessage() for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert noisy == []


def _assert_unavailable_problem(response) -> None:
    assert response.status_code == 503, response.content[:300]
    assert response["Content-Type"] == PROBLEM
    assert response["Retry-After"] == "5"
    body = response.json()
    assert body["code"] == "service_unavailable"
    assert body["status"] == 503
    assert body["type"] == "/docs/errors#service_unavailable"


def test_json_endpoints_answer_503_once_logged_and_recover(db_proxy, widget, widget_key, seeded, caplog):
    caplog.set_level(logging.INFO)
    # A visitor whose token is good: the widget comes from the cache, the visitor's contact
    # only from the database (a bad token would be refused before any query).
    token, _ = visitor_token_issue(
        tenant_id=seeded["a"].tenant.pk, widget_id=widget.pk, contact_public_id=uuid.uuid4()
    )
    client = ServedClient()
    config = f"/api/widget/v1/{widget_key}/config"
    assert client.get(config, HTTP_HOST=PUBLIC_HOST).status_code == 200

    db_proxy.cut()
    answers = [
        # the widget API: a visitor's message (the contact's query)
        client.post(
            f"/api/widget/v1/{widget_key}/conversations/1/messages",
            {"text": "hello"},
            content_type="application/json",
            HTTP_HOST=PUBLIC_HOST,
            HTTP_AUTHORIZATION=f"Bearer {token}",
            HTTP_ORIGIN="https://customer.example",
        ),
        # the workspace REST API: host resolution (a middleware) meets the outage first
        client.get("/api/v1/members", HTTP_HOST=seeded["a"].host),
        client.get("/api/v1/members", HTTP_HOST=seeded["b"].host, HTTP_ACCEPT="application/json"),
    ]
    for response in answers:
        _assert_unavailable_problem(response)
    # The widget's script on a customer's page can read it (the allowed origins are in the
    # database that is down); nothing else is opened to other origins.
    assert answers[0]["Access-Control-Allow-Origin"] == "https://customer.example"
    assert "Access-Control-Allow-Origin" not in answers[1]
    # The widget's configuration needs no query once cached (widget_builder.snapshots): the
    # launcher still loads on customers' pages while the database is away.
    assert client.get(config, HTTP_HOST=PUBLIC_HOST).status_code == 200

    db_proxy.restore()
    assert client.get(config, HTTP_HOST=PUBLIC_HOST).status_code == 200
    assert client.get("/api/v1/members", HTTP_HOST=seeded["a"].host).status_code == 401

    lines = _state_lines(caplog)
    assert len(lines) == 2, lines
    assert lines[0].startswith("database unreachable: OperationalError")
    assert lines[1] == "database reachable again"
    _assert_no_trace(caplog)


def test_a_browser_gets_a_friendly_503_page(db_proxy, seeded, caplog):
    client = ServedClient()
    db_proxy.cut()
    for _ in range(3):
        response = client.get("/", HTTP_HOST=seeded["a"].host, HTTP_ACCEPT="text/html,application/xhtml+xml")
        assert response.status_code == 503
        assert response["Content-Type"].startswith("text/html")
        assert response["Retry-After"] == "5"
        page = response.content.decode()
        assert "Back in a moment" in page
        assert "Traceback" not in page and "OperationalError" not in page
    assert len(_state_lines(caplog)) == 1
    _assert_no_trace(caplog)

    db_proxy.restore()
    assert client.get("/", HTTP_HOST=seeded["a"].host).status_code in (200, 302)


def test_readyz_logs_each_state_change_once(db_proxy, caplog):
    caplog.set_level(logging.INFO)
    client = ServedClient()
    db_proxy.cut()
    for _ in range(3):
        response = client.get("/readyz", HTTP_HOST=PUBLIC_HOST)
        assert response.status_code == 503
        assert response.json()["checks"]["database"] == "error"
    db_proxy.restore()
    for _ in range(2):
        assert client.get("/readyz", HTTP_HOST=PUBLIC_HOST).json()["checks"]["database"] == "ok"

    lines = _state_lines(caplog)
    assert len(lines) == 2, lines
    assert lines[0].startswith("database unreachable")
    assert lines[1] == "database reachable again"
    _assert_no_trace(caplog)


def _count_tenants() -> int:
    return Tenant.objects.count()


def test_a_stream_ends_with_an_error_event_when_the_database_goes(db_proxy, caplog):
    async def body():
        yield b"retry: 2000\n\n"
        db_proxy.cut()
        yield str(await sync_to_async(_count_tenants, thread_sensitive=True)()).encode()

    async def read(response) -> list[bytes]:
        return [chunk async for chunk in response.streaming_content]

    chunks = async_to_sync(read)(event_stream(body()))

    assert chunks[0] == b"retry: 2000\n\n"
    assert len(chunks) == 2
    assert chunks[1].startswith(b"event: error\ndata: {")
    assert b'"code":"service_unavailable"' in chunks[1]
    assert len(_state_lines(caplog)) == 1
    _assert_no_trace(caplog)


def test_a_websocket_is_closed_with_try_again_later(db_proxy, seeded, caplog):
    sent: list[dict] = []

    async def inner(scope, receive, send):
        raise AssertionError("no consumer runs without the database")

    async def receive():
        return {"type": "websocket.connect"}

    async def send(message):
        sent.append(message)

    scope = {"type": "websocket", "scheme": "ws", "headers": [(b"host", seeded["a"].host.encode())]}
    db_proxy.cut()
    async_to_sync(TenantWebSocketMiddleware(inner))(scope, receive, send)

    assert sent == [{"type": "websocket.accept"}, {"type": "websocket.close", "code": 1013}]
    assert len(_state_lines(caplog)) == 1
    _assert_no_trace(caplog)


@pytest.mark.parametrize(
    ("error", "unavailable"),
    [
        (psycopg.OperationalError("connection failed: Connection refused"), True),
        (pg_errors.AdminShutdown("terminating connection due to administrator command"), True),
        (pg_errors.TooManyConnections("sorry, too many clients already"), True),
        (PoolTimeout("couldn't get a connection after 10.00 sec"), True),
        (PoolClosed("the pool is closed"), True),
        (psycopg.InterfaceError("the connection is closed"), True),
        (pg_errors.DeadlockDetected("deadlock detected"), False),
        (pg_errors.QueryCanceled("canceling statement due to statement timeout"), False),
        (pg_errors.UniqueViolation("duplicate key"), False),
        (ValueError("not the database"), False),
    ],
)
def test_only_connection_failures_count_as_unavailable(error, unavailable):
    assert is_database_unavailable(error) is unavailable
    try:  # as Django re-raises the driver's errors
        raise OperationalError(str(error)) from error
    except OperationalError as wrapped:
        assert is_database_unavailable(wrapped) is unavailable


def test_the_connection_pool_recovers_after_the_outage(db_proxy, django_db_blocker, caplog):
    """With DATABASE_POOL_MAX_SIZE set: a pooled connection that died with the outage
    fails one query (an outage, so a 503) and is dropped; the pool connects again by
    itself, no restart."""
    params = dict(
        connection.settings_dict,
        OPTIONS={
            **connection.settings_dict["OPTIONS"],
            "pool": {"min_size": 1, "max_size": 2, "timeout": 30},
        },
    )
    pooled = load_backend(params["ENGINE"]).DatabaseWrapper(params, alias="outage_pool")

    def select_one() -> int:
        try:
            with pooled.cursor() as cursor:
                cursor.execute("SELECT 1")
                return cursor.fetchone()[0]
        except OperationalError as exc:
            note_outage(exc)  # as a request's 503 does
            raise
        finally:
            pooled.close()  # back to the pool, which drops a broken connection

    with django_db_blocker.unblock():
        try:
            assert select_one() == 1
            assert pooled.pool.timeout == 30
            db_proxy.cut()
            with pytest.raises(OperationalError) as failed:
                select_one()
            assert is_database_unavailable(failed.value)
            # Taken as down: a borrow waits a moment, not the pool's whole timeout.
            with pytest.raises(OperationalError) as failed:
                select_one()
            assert is_database_unavailable(failed.value)
            assert pooled.pool.timeout == OUTAGE_POOL_TIMEOUT_S
            db_proxy.restore()
            outcomes = []
            for _ in range(3):  # at most each pooled connection (max_size 2) fails once more
                try:
                    outcomes.append(select_one())
                    break
                except OperationalError as exc:
                    assert is_database_unavailable(exc)
                    outcomes.append("unavailable")
            assert outcomes[-1] == 1, outcomes
            select_one()
            assert pooled.pool.timeout == 30  # up again: the configured wait
            # A dead connection the pool lends is not taken for the database's return.
            assert [line.split(":")[0] for line in _state_lines(caplog)] == [
                "database unreachable",
                "database reachable again",
            ]
        finally:
            pooled.close_pool()


def _failure_logged(logger: logging.Logger, exc: BaseException) -> None:
    try:
        try:
            raise exc
        except psycopg.Error as driver_error:  # as Django re-raises the driver's errors
            raise OperationalError(str(driver_error)) from driver_error
    except Exception:
        logger.exception("periodic work failed")


def test_a_task_failing_in_an_outage_logs_the_state_line_not_a_traceback(caplog):
    """A Celery task or a periodic job that meets the outage: its handlers (the console's,
    and those a Celery worker sets up) keep the state line, once, and drop the traceback;
    any other failure keeps its traceback."""
    caplog.set_level(logging.INFO)
    emitted: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = emitted.append  # type: ignore[method-assign]
    logger = logging.getLogger("tests.outage.worker")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        after_setup_task_logger.send(sender=None, logger=logger, loglevel=logging.INFO, logfile=None)
        after_setup_task_logger.send(sender=None, logger=logger, loglevel=logging.INFO, logfile=None)
        assert sum(isinstance(f, OutageLogFilter) for f in handler.filters) == 1
        state_changed("database", True)
        for _ in range(3):
            _failure_logged(logger, psycopg.OperationalError("connection refused"))
        assert emitted == []
        _failure_logged(logger, ValueError("a bug"))
        assert [r.exc_info[0] for r in emitted] == [ValueError]
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
        state_changed("database", True)
    lines = [line.split(":")[0] for line in _state_lines(caplog)]
    assert lines == ["database unreachable", "database reachable again"]


def test_the_console_handler_carries_the_outage_filter(settings):
    assert "database_outage" in settings.LOGGING["handlers"]["console"]["filters"]
    assert settings.LOGGING["filters"]["database_outage"]["()"] == "saas.database_outage.OutageLogFilter"
