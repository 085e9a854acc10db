"""saas.observability: the request id in and out, one structured log line per request, the
metrics endpoint (refused to the public, served to the scraper), route labels, tracing and
Sentry off unless their variables are set."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import structlog
from django.test import Client
from prometheus_client import REGISTRY

from saas.observability.logs import formatter_config
from tests.hosts import PUBLIC_HOST

pytestmark = pytest.mark.django_db
BEARER = "Bearer scrape-token-1234567890"
BASE_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture
def json_log():
    """The root logger's records rendered as production renders them (LOG_FORMAT=json)."""
    config = formatter_config("json")
    factory = config.pop("()")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(factory(**config))
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.INFO)

    def lines() -> list[dict]:
        return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]

    try:
        yield lines
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        structlog.contextvars.clear_contextvars()


def _request_lines(lines: list[dict]) -> list[dict]:
    return [line for line in lines if line.get("logger") == "saas.request"]


def test_a_valid_incoming_request_id_is_kept_and_returned(client):
    response = client.get("/", HTTP_HOST=PUBLIC_HOST, HTTP_X_REQUEST_ID="lb-3f9a1c2e-0001")
    assert response["X-Request-ID"] == "lb-3f9a1c2e-0001"


@pytest.mark.parametrize(
    "incoming", [None, "short", "has spaces in it", "x" * 200, "<script>alert(1)</script>"]
)
def test_a_missing_or_invalid_request_id_is_replaced_by_a_new_one(client, incoming):
    extra = {"HTTP_X_REQUEST_ID": incoming} if incoming is not None else {}
    first = client.get("/", HTTP_HOST=PUBLIC_HOST, **extra)["X-Request-ID"]
    second = client.get("/", HTTP_HOST=PUBLIC_HOST, **extra)["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", first) and first != second


def test_one_json_line_per_request_with_workspace_user_route_and_latency(tenant_a, json_log):
    client = Client(HTTP_HOST=tenant_a.host)
    client.force_login(tenant_a.owner)
    response = client.get("/dashboard/", HTTP_X_REQUEST_ID="req-dashboard-0001")
    assert response.status_code == 200
    (line,) = [line for line in _request_lines(json_log()) if line["request_id"] == "req-dashboard-0001"]
    assert line["event"] == "request" and line["level"] == "info"
    assert line["workspace"] == tenant_a.schema and line["workspace_slug"] == tenant_a.tenant.slug
    assert line["user_id"] == tenant_a.owner.pk
    assert line["method"] == "GET" and line["status"] == 200 and line["path"] == "/dashboard/"
    assert line["route"] == response.wsgi_request.resolver_match.view_name
    assert isinstance(line["latency_ms"], float) and line["latency_ms"] >= 0
    assert line["timestamp"].endswith("Z")


def test_stdlib_loggers_carry_the_request_context(tenant_a, json_log):
    """A plain ``logging.getLogger`` call inside a request gets the request's id."""
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id="req-stdlib-0001", workspace=tenant_a.schema)
    logging.getLogger("chat.somewhere").warning("provider %s slow", "anthropic", extra={"attempt": 2})
    (line,) = [line for line in json_log() if line.get("logger") == "chat.somewhere"]
    assert line["event"] == "provider anthropic slow" and line["level"] == "warning"
    assert line["request_id"] == "req-stdlib-0001" and line["workspace"] == tenant_a.schema
    assert line["attempt"] == 2


def test_log_format_refuses_an_unknown_value():
    with pytest.raises(ValueError, match="LOG_FORMAT"):
        formatter_config("xml")


# --- metrics ------------------------------------------------------------------------------


def test_metrics_are_not_answered_to_the_public(client, settings):
    settings.METRICS_TOKEN = "scrape-token-1234567890"
    settings.METRICS_ALLOWED_NETWORKS = []
    for headers in (
        {},
        {"HTTP_AUTHORIZATION": "Bearer wrong-token"},
        {"HTTP_AUTHORIZATION": "scrape-token-1234567890"},
    ):
        response = client.get("/metrics", HTTP_HOST=PUBLIC_HOST, **headers)
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
        assert b"saas_http_request_duration_seconds" not in response.content


def test_metrics_without_any_scraper_configured_are_refused_to_everyone(client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = []
    assert client.get("/metrics", HTTP_HOST=PUBLIC_HOST, HTTP_AUTHORIZATION="Bearer ").status_code == 404


def test_metrics_are_served_to_the_scraper_with_the_token_on_any_host(client, settings, tenant_a):
    settings.METRICS_TOKEN = "scrape-token-1234567890"
    client.get("/", HTTP_HOST=PUBLIC_HOST)
    response = client.get("/metrics", HTTP_HOST="10.0.3.7", HTTP_AUTHORIZATION=BEARER)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    body = response.content.decode()
    assert "saas_http_request_duration_seconds_bucket" in body
    assert "saas_chat_time_to_first_token_seconds" in body
    assert "saas_realtime_open_connections" in body


def test_metrics_by_network_only_for_direct_connections(client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    ok = client.get("/metrics", HTTP_HOST="10.0.3.7", REMOTE_ADDR="10.1.2.3")
    assert ok.status_code == 200
    outside = client.get("/metrics", HTTP_HOST="10.0.3.7", REMOTE_ADDR="203.0.113.9")
    assert outside.status_code == 404
    # Through a proxy (an ingress in the same network): the address says nothing.
    proxied = client.get(
        "/metrics", HTTP_HOST=PUBLIC_HOST, REMOTE_ADDR="10.1.2.3", HTTP_X_FORWARDED_FOR="198.51.100.1"
    )
    assert proxied.status_code == 404


def test_request_latency_is_labelled_by_the_url_pattern_name_not_the_path(tenant_a, settings):
    client = Client(HTTP_HOST=tenant_a.host)
    client.force_login(tenant_a.owner)
    labels = {"route": "", "method": "GET", "status": "2xx"}
    response = client.get("/dashboard/")
    labels["route"] = response.wsgi_request.resolver_match.view_name
    assert labels["route"] and "/" not in labels["route"]
    before = REGISTRY.get_sample_value("saas_http_request_duration_seconds_count", labels) or 0
    client.get("/dashboard/")
    assert REGISTRY.get_sample_value("saas_http_request_duration_seconds_count", labels) == before + 1
    # An unknown path is one series, whatever the path.
    client.get("/no-such-page-4711/", HTTP_HOST=PUBLIC_HOST)
    settings.METRICS_TOKEN = "scrape-token-1234567890"
    body = client.get("/metrics", HTTP_AUTHORIZATION=BEARER).content.decode()
    assert "no-such-page-4711" not in body and 'route="<unmatched>"' in body
    assert tenant_a.schema not in body and tenant_a.tenant.slug not in body


def test_queue_depth_is_sampled_from_the_redis_broker(client, settings):
    from tests.conftest import require_service

    require_service(bool(settings.REDIS_URL), "Redis (REDIS_URL)")
    import redis

    settings.CELERY_BROKER_URL = settings.REDIS_URL
    settings.METRICS_CELERY_QUEUES = ["obs-test-queue"]
    settings.METRICS_TOKEN = "scrape-token-1234567890"
    server = redis.Redis.from_url(settings.REDIS_URL)
    server.delete("obs-test-queue")
    server.rpush("obs-test-queue", "a", "b", "c")
    try:
        body = client.get("/metrics", HTTP_HOST=PUBLIC_HOST, HTTP_AUTHORIZATION=BEARER)
        assert 'saas_celery_queue_depth{queue="obs-test-queue"} 3.0' in body.content.decode()
    finally:
        server.delete("obs-test-queue")


# --- tracing and Sentry -------------------------------------------------------------------

_PROBE = """
import sys, django
django.setup()
# The redis client imports the OpenTelemetry SDK's metrics when installed: what counts is
# that our instrumentation is not loaded and no tracer provider is set.
loaded = "opentelemetry.instrumentation.django" in sys.modules
print("otel_instrumented" if loaded else "no_otel_instrumentation")
print("sentry" if "sentry_sdk" in sys.modules else "no_sentry")
from django.conf import settings
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
print("provider" if isinstance(trace.get_tracer_provider(), TracerProvider) else "no_provider")
print("django_mw" if any("opentelemetry" in m for m in settings.MIDDLEWARE) else "no_django_mw")
if loaded:  # uvicorn's requests are ASGI requests: traced only with the ASGI instrumentation
    from opentelemetry.instrumentation.django.middleware import otel_middleware
    print("asgi_traced" if otel_middleware._is_asgi_supported else "asgi_untraced")
if "sentry_sdk" in sys.modules:
    import sentry_sdk
    print("sentry_active" if sentry_sdk.get_client().is_active() else "sentry_inactive")
"""


def _probe(**env: str) -> set[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "SENTRY_"))}
    result = subprocess.run(
        [sys.executable, "-c", _PROBE],
        env={**clean, "DJANGO_SETTINGS_MODULE": "saas.settings.test", **env},
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return set(result.stdout.split())


def test_tracing_and_sentry_are_off_and_not_imported_when_unset():
    assert _probe() == {"no_otel_instrumentation", "no_provider", "no_django_mw", "no_sentry"}


def test_tracing_and_sentry_start_when_their_variables_are_set():
    # An unused local port: nothing is sent during the probe (spans are batched).
    seen = _probe(
        OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9",
        SENTRY_DSN="http://public@127.0.0.1:9/1",
    )
    assert seen == {"otel_instrumented", "provider", "django_mw", "asgi_traced", "sentry", "sentry_active"}


_RECORD = """
import sys
from saas.observability.metrics import REALTIME_CONNECTIONS, WEBHOOK_DELIVERIES
WEBHOOK_DELIVERIES.labels("delivered").inc()
REALTIME_CONNECTIONS.labels("sse").inc()
if sys.argv[1] == "exits-cleanly":
    from saas.observability.apps import _process_dead
    _process_dead()  # what atexit runs in a process leaving cleanly
"""
_SCRAPE = """
import django.conf
django.conf.settings.configure(CELERY_BROKER_URL="memory://", METRICS_CELERY_QUEUES=[])
from prometheus_client import generate_latest
from saas.observability.endpoint import metrics_registry
print(generate_latest(metrics_registry()).decode())
"""


def test_multiprocess_mode_adds_up_every_process(tmp_path):
    """Two processes record (uvicorn workers); a third's scrape reports their sum. A process
    that left cleanly no longer counts in the open connections."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    for how in ("still-running", "exits-cleanly"):
        subprocess.run([sys.executable, "-c", _RECORD, how], env=env, cwd=BASE_DIR, check=True, timeout=60)
    scrape = subprocess.run(
        [sys.executable, "-c", _SCRAPE],
        env=env,
        cwd=BASE_DIR,
        check=True,
        timeout=60,
        capture_output=True,
        text=True,
    ).stdout
    assert 'saas_webhook_delivery_attempts_total{outcome="delivered"} 2.0' in scrape
    assert 'saas_realtime_open_connections{kind="sse"} 1.0' in scrape


def test_the_queues_watched_follow_the_task_routes_unless_listed(settings):
    from saas.observability.endpoint import queues_watched

    settings.METRICS_CELERY_QUEUES = []
    settings.CELERY_TASK_DEFAULT_QUEUE = "celery"
    settings.CELERY_TASK_ROUTES = {
        "knowledge.tasks.*": {"queue": "ingestion"},
        "webhooks.tasks.*": {"queue": "webhooks"},
        "chat.tasks.notify": {"queue": "webhooks"},
    }
    assert queues_watched() == ["celery", "ingestion", "webhooks"]
    settings.CELERY_TASK_DEFAULT_QUEUE = "default"
    assert queues_watched()[0] == "default"
    settings.METRICS_CELERY_QUEUES = ["only-this"]
    assert queues_watched() == ["only-this"]


def test_a_sentry_event_is_tagged_with_the_request_id_and_workspace():
    from saas.observability.tracing import sentry_event_tag

    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id="req-sentry-0001", workspace="t_abc")
    try:
        event = sentry_event_tag({"tags": {"kept": "yes"}}, {})
    finally:
        structlog.contextvars.clear_contextvars()
    assert event["tags"] == {"kept": "yes", "request_id": "req-sentry-0001", "workspace": "t_abc"}
    assert sentry_event_tag({}, {}) == {"tags": {}}
