"""/healthz and /readyz: JSON, no auth, any host, nothing secret in the body."""

from __future__ import annotations

import json
import time

import pytest

from saas import health, heartbeats

pytestmark = pytest.mark.django_db


def _forget_heartbeats() -> None:
    if heartbeats.store_url():
        client = heartbeats._client(heartbeats.store_url())
        for key in client.scan_iter(match=f"{heartbeats.PREFIX}*"):
            client.delete(key)


@pytest.fixture
def no_heartbeats():
    """No worker or beat has beaten (keys left by another test's worker are removed)."""
    _forget_heartbeats()
    yield
    _forget_heartbeats()


@pytest.fixture
def live_heartbeats(no_heartbeats):
    """A worker and beat that beat just now (as scheduler.heartbeat and scheduler.beat do)."""
    if heartbeats.store_configured():
        heartbeats.beat_write("worker", name="celery@test-worker", ttl_seconds=30)
        heartbeats.beat_write("beat", ttl_seconds=30)


@pytest.mark.parametrize("host", ["saas.test", "tenant-a.saas.test", "unknown.saas.test", "10.1.2.3"])
def test_healthz_answers_on_any_host(client, seeded, host, settings):
    settings.ALLOWED_HOSTS = ["*"]  # probes come with the pod's IP as Host
    response = client.get("/healthz", HTTP_HOST=host)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"] == "no-store"


def test_readyz_reports_database_and_configured_services(client, settings, live_heartbeats):
    response = client.get("/readyz", HTTP_HOST="saas.test")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == "ok"
    if settings.REDIS_URL:
        assert body["checks"]["redis"] == "ok"
        assert body["checks"]["workers"] == body["checks"]["beat"] == "ok"
    else:
        assert "redis" not in body["checks"]


def test_workers_and_beat_down_are_degraded_not_unready(client, settings, no_heartbeats, fresh_states):
    """Web pods stay in service when only the workers or beat are down: their own probes
    restart them (docs/deployment.md)."""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.REDIS_URL = settings.REDIS_URL or pytest.skip("needs Redis (REDIS_URL)")
    response = client.get("/readyz", HTTP_HOST="saas.test")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["workers"] == "degraded" and body["checks"]["beat"] == "degraded"
    assert body["checks"]["database"] == "ok"

    heartbeats.beat_write("worker", name="celery@w1", ttl_seconds=30)
    body = client.get("/readyz", HTTP_HOST="saas.test").json()
    assert (body["checks"]["workers"], body["checks"]["beat"]) == ("ok", "degraded")
    heartbeats.beat_write("beat", ttl_seconds=30)
    assert client.get("/readyz", HTTP_HOST="saas.test").json()["status"] == "ok"

    heartbeats.beat_forget("worker", name="celery@w1")  # the only worker stops
    response = client.get("/readyz", HTTP_HOST="saas.test")
    assert response.status_code == 200
    assert response.json()["checks"]["workers"] == "degraded"


def test_an_expired_heartbeat_is_a_stopped_process(client, settings, no_heartbeats, fresh_states):
    settings.REDIS_URL = settings.REDIS_URL or pytest.skip("needs Redis (REDIS_URL)")
    settings.CELERY_TASK_ALWAYS_EAGER = False
    heartbeats.beat_write("beat", ttl_seconds=1)
    assert client.get("/readyz", HTTP_HOST="saas.test").json()["checks"]["beat"] == "ok"
    time.sleep(1.3)
    assert client.get("/readyz", HTTP_HOST="saas.test").json()["checks"]["beat"] == "degraded"


def test_without_a_broker_there_are_no_workers_to_report(client, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True  # tasks run in-process
    checks = client.get("/readyz", HTTP_HOST="saas.test").json()["checks"]
    assert "workers" not in checks and "beat" not in checks


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
    # Nor can the heartbeats be read: workers and beat are unknown, so degraded too.
    assert body["checks"] == {
        "database": "ok",
        "redis": "degraded",
        "workers": "degraded",
        "beat": "degraded",
    }
    text = json.dumps(body)
    assert "s3cret" not in text and "127.0.0.1" not in text


def test_readyz_logs_one_line_per_state_change_without_traceback(
    client, settings, caplog, fresh_states, live_heartbeats
):
    working = settings.REDIS_URL
    caplog.set_level("WARNING", logger="saas.health")
    settings.REDIS_URL = settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    for _ in range(3):
        assert client.get("/readyz", HTTP_HOST="saas.test").status_code == 200
    down = [r for r in caplog.records if r.name == "saas.health"]
    assert [r.getMessage().split(" (")[0] for r in down] == [
        "readyz: redis is degraded",
        "readyz: workers is degraded",
        "readyz: beat is degraded",
    ]
    assert all(r.exc_info is None for r in down)
    if working:  # Redis returns: one more line
        settings.REDIS_URL = settings.CELERY_BROKER_URL = working
        caplog.clear()
        for _ in range(2):
            assert client.get("/readyz", HTTP_HOST="saas.test").json()["status"] == "ok"
        assert [r.getMessage() for r in caplog.records if r.name == "saas.health"] == [
            "readyz: redis is back (was degraded)",
            "readyz: workers is back (was degraded)",
            "readyz: beat is back (was degraded)",
        ]


def test_readyz_checks_a_separate_broker(client, settings, fresh_states):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = "amqp://guest:guest@127.0.0.1:1//"
    response = client.get("/readyz", HTTP_HOST="saas.test")
    assert response.status_code == 200
    assert response.json()["checks"]["broker"] == "degraded"
