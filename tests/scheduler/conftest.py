from __future__ import annotations

import pytest

from saas.celery import app as celery_app
from scheduler.services import schedules_sync
from tests import celery_probe  # noqa: F401 - registers the probe jobs' tasks

# A schedule of jobs from tests/celery_probe.py on top of the declared one.
PROBE_JOBS = {
    "probe-job": {"task": "tests.celery_probe.job_probe", "schedule": 120.0, "kwargs": {"marker": "M-1"}},
    "probe-failing": {"task": "tests.celery_probe.job_failing", "schedule": 3600.0},
}


@pytest.fixture
def declared(settings):
    """The project's schedule plus the probe jobs, in the settings and in the database."""
    schedule = {**settings.CELERY_BEAT_SCHEDULE, **PROBE_JOBS}
    previous = celery_app.conf.beat_schedule
    celery_app.conf.beat_schedule = schedule
    # Through pytest-django's wrapper (not override_settings): its changes are undone in
    # reverse order, with the test's own.
    settings.CELERY_BEAT_SCHEDULE = schedule
    schedules_sync()
    yield schedule
    celery_app.conf.beat_schedule = previous


@pytest.fixture
def eager_celery():
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def beat_keeps_the_test_connection(monkeypatch):
    """Beat's scheduler closes "old" connections before it reads; in a test that would close
    the connection holding the test's transaction."""
    monkeypatch.setattr("django_celery_beat.schedulers.close_old_connections", lambda: None)
