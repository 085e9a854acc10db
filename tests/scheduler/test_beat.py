"""scheduler.beat.ProjectScheduler: every tick renews beat's heartbeat, which /readyz reads."""

from __future__ import annotations

import pytest
from django_celery_beat.models import PeriodicTask

from saas import heartbeats
from saas.celery import app as celery_app
from scheduler import probe
from scheduler.beat import ProjectScheduler
from tests.saas.test_health import _forget_heartbeats

pytestmark = pytest.mark.django_db


def test_each_tick_renews_the_beat_heartbeat(declared, client, settings, monkeypatch, tmp_path):
    settings.BEAT_HEARTBEAT_FILE = str(tmp_path / "beat-heartbeat")
    if not heartbeats.store_configured():
        pytest.skip("needs Redis (REDIS_URL)")
    _forget_heartbeats()
    PeriodicTask.objects.update(enabled=False)  # the tick sends nothing
    celery_app.conf.beat_schedule = declared
    beat = ProjectScheduler(app=celery_app)
    assert heartbeats.alive("beat") == {}
    assert client.get("/readyz", HTTP_HOST="saas.test").json()["checks"]["beat"] == "degraded"

    beat.tick()
    assert set(heartbeats.alive("beat")) == {"beat"}
    assert probe.heartbeat_age(settings.BEAT_HEARTBEAT_FILE) < 5  # the beat pod's liveness probe
    assert client.get("/readyz", HTTP_HOST="saas.test").json()["checks"]["beat"] == "ok"

    heartbeats.beat_forget("beat")
    beat.tick()  # within 5 s of the last beat: not written again (one write per 5 s at most)
    assert heartbeats.alive("beat") == {}
    monkeypatch.setattr(beat, "_last_heartbeat", 0.0)
    beat.tick()
    assert set(heartbeats.alive("beat")) == {"beat"}
    _forget_heartbeats()


def test_beat_uses_the_project_scheduler_everywhere(settings):
    assert settings.CELERY_BEAT_SCHEDULER == "scheduler.beat:ProjectScheduler"
    assert celery_app.conf.beat_scheduler == "scheduler.beat:ProjectScheduler"


def test_with_redis_down_beat_goes_on_and_logs_once(declared, settings, caplog, tmp_path):
    settings.BEAT_HEARTBEAT_FILE = str(tmp_path / "beat-heartbeat")
    PeriodicTask.objects.update(enabled=False)
    celery_app.conf.beat_schedule = declared
    beat = ProjectScheduler(app=celery_app)
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    caplog.set_level("INFO", logger="saas.dependencies")
    for _ in range(3):
        beat._last_heartbeat = 0.0
        assert beat.tick() > 0
    lines = [r.getMessage() for r in caplog.records if r.name == "saas.dependencies"]
    assert len(lines) == 1 and lines[0].startswith("Redis (beat heartbeat) unreachable")
    assert probe.heartbeat_age(settings.BEAT_HEARTBEAT_FILE) < 5  # the file (its probe) still beats
