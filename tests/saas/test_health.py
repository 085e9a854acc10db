"""/healthz and /readyz: JSON, no auth, any host, nothing secret in the body."""

from __future__ import annotations

import json

import pytest

from saas import health

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("host", ["saas.test", "tenant-a.saas.test", "unknown.saas.test", "10.1.2.3"])
def test_healthz_answers_on_any_host(client, seeded, host, settings):
    settings.ALLOWED_HOSTS = ["*"]  # probes come with the pod's IP as Host
    response = client.get("/healthz", HTTP_HOST=host)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"] == "no-store"


def test_readyz_reports_database_and_configured_services(client, settings):
    response = client.get("/readyz", HTTP_HOST="saas.test")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == "ok"
    if settings.REDIS_URL:
        assert body["checks"]["redis"] == "ok"
    else:
        assert "redis" not in body["checks"]


def test_readyz_fails_when_a_migration_is_missing(client, monkeypatch):
    expected = health._expected_migrations() | {("tenants", "9999_not_applied")}
    monkeypatch.setattr(health, "_expected_migrations", lambda: expected)
    response = client.get("/readyz", HTTP_HOST="saas.test")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "error"


@pytest.fixture
def fresh_states(monkeypatch):
    """Each test starts with every check last seen ok (the log is per state change)."""
    monkeypatch.setattr(health, "_last_state", {})


def test_redis_down_is_degraded_not_unready_and_leaks_no_address(client, settings, fresh_states):
    # The web still serves without Redis (cache fallback, polling, outbox): ready, degraded.
    settings.REDIS_URL = settings.CELERY_BROKER_URL = "redis://:s3cret-password@127.0.0.1:1/0"
    response = client.get("/readyz", HTTP_HOST="saas.test")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"] == {"database": "ok", "redis": "degraded"}
    text = json.dumps(body)
    assert "s3cret" not in text and "127.0.0.1" not in text


def test_readyz_logs_one_line_per_state_change_without_traceback(client, settings, caplog, fresh_states):
    working = settings.REDIS_URL
    caplog.set_level("WARNING", logger="saas.health")
    settings.REDIS_URL = settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    for _ in range(3):
        assert client.get("/readyz", HTTP_HOST="saas.test").status_code == 200
    down = [r for r in caplog.records if r.name == "saas.health"]
    assert [r.getMessage().split(" (")[0] for r in down] == ["readyz: redis is degraded"]
    assert all(r.exc_info is None for r in down)
    if working:  # Redis returns: one more line
        settings.REDIS_URL = settings.CELERY_BROKER_URL = working
        caplog.clear()
        for _ in range(2):
            assert client.get("/readyz", HTTP_HOST="saas.test").json()["status"] == "ok"
        assert [r.getMessage() for r in caplog.records if r.name == "saas.health"] == [
            "readyz: redis is back (was degraded)"
        ]


def test_readyz_checks_a_separate_broker(client, settings, fresh_states):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = "amqp://guest:guest@127.0.0.1:1//"
    response = client.get("/readyz", HTTP_HOST="saas.test")
    assert response.status_code == 200
    assert response.json()["checks"]["broker"] == "degraded"
