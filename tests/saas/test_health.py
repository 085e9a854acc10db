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


def test_readyz_fails_fast_when_redis_is_down_and_leaks_no_address(client, settings):
    settings.REDIS_URL = settings.CELERY_BROKER_URL = "redis://:s3cret-password@127.0.0.1:1/0"
    response = client.get("/readyz", HTTP_HOST="saas.test")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"] == {"database": "ok", "redis": "error"}
    assert body["duration_ms"] < 5000
    text = json.dumps(body)
    assert "s3cret" not in text and "127.0.0.1" not in text


def test_readyz_checks_a_separate_broker(client, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = "amqp://guest:guest@127.0.0.1:1//"
    response = client.get("/readyz", HTTP_HOST="saas.test")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"] == "error"
