"""On a real Celery worker (Redis): "run now" from the scheduler page runs the job on the
worker, which records the run (success with what it did, failure with the error); the
worker's heartbeat feeds its liveness probe (``python -m scheduler.probe``) and ``/readyz``,
and both see a stopped worker (the probe fails, ``workers`` turns degraded while the web
stays ready)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django_celery_beat.models import PeriodicTask

from saas import heartbeats
from scheduler.models import TaskRun
from scheduler.services import schedules_sync
from tenants.models import PlatformAuditEvent
from tests.conftest import require_service

pytestmark = [pytest.mark.django_db, pytest.mark.worker]
BASE_DIR = Path(__file__).resolve().parents[2]
LIST = "/admin/scheduler/periodicjob/"


def _start_worker(queue: str, heartbeat_file: Path) -> subprocess.Popen:
    require_service(bool(settings.REDIS_URL) and not settings.CELERY_TASK_ALWAYS_EAGER, "Redis (REDIS_URL)")
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "saas.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "WORKER_HEARTBEAT_FILE": str(heartbeat_file),
        "WORKER_HEARTBEAT_SECONDS": "1",
    }
    command = [sys.executable, "-m", "celery", "-A", "saas", "worker", "--pool", "solo", "-Q", queue]
    command += ["-n", f"{queue}@%h", "-I", "tests.celery_probe", "--without-mingle", "--without-gossip"]
    return subprocess.Popen([*command, "--loglevel", "WARNING"], env=env, cwd=BASE_DIR)


def _stop(worker: subprocess.Popen) -> None:
    worker.terminate()
    try:
        worker.wait(timeout=20)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()


def _wait_for(condition, timeout: float = 60.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def _probe(heartbeat_file: Path, max_age: int = 5) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "scheduler.probe", "--file", str(heartbeat_file), "--max-age", str(max_age)],
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.fixture(scope="module")
def worker_queue(django_db_setup, django_db_blocker, tmp_path_factory):
    queue = f"test-sched-{uuid.uuid4().hex[:8]}"
    worker = _start_worker(queue, tmp_path_factory.mktemp("hb") / "worker-heartbeat")
    yield queue
    _stop(worker)


@pytest.fixture
def worker_jobs(settings, worker_queue):
    """Two jobs of tests/celery_probe.py, routed to the test worker's queue."""
    names = {"worker-probe-job": "job_probe", "worker-probe-failing": "job_failing"}
    schedule = {
        **settings.CELERY_BEAT_SCHEDULE,
        **{
            name: {
                "task": f"tests.celery_probe.{task}",
                "schedule": 300.0,
                "options": {"queue": worker_queue},
            }
            for name, task in names.items()
        },
    }
    settings.CELERY_BEAT_SCHEDULE = schedule
    schedules_sync()
    return {name: PeriodicTask.objects.get(name=name) for name in names}


def _run_now(client, job: PeriodicTask, capture) -> TaskRun:
    with capture(execute=True):
        client.post(LIST, {"action": "run_now", "_selected_action": [str(job.pk)]})
    task_id = (
        PlatformAuditEvent.objects.filter(action="periodic_job.run_requested", target_repr=job.name)
        .latest("id")
        .metadata["task_id"]
    )
    finished = (TaskRun.Outcome.SUCCESS, TaskRun.Outcome.FAILURE)
    return _wait_for(
        lambda: TaskRun.objects.filter(task_id=task_id, outcome__in=finished).first(),
        what=f"the run of {job.name}",
    )


def test_run_now_runs_the_job_on_the_worker_and_records_it(
    staff_client, worker_jobs, django_capture_on_commit_callbacks
):
    run = _run_now(staff_client, worker_jobs["worker-probe-job"], django_capture_on_commit_callbacks)
    assert run.outcome == TaskRun.Outcome.SUCCESS
    assert run.trigger == TaskRun.Trigger.RUN_NOW
    assert run.result == {"checked": 3, "removed": 1, "marker": ""}
    assert run.worker.startswith("test-sched-")  # it ran on the worker, not here
    assert run.duration_ms is not None and run.finished_at >= run.started_at


def test_a_failing_job_on_the_worker_is_recorded_with_its_error(
    staff_client, worker_jobs, django_capture_on_commit_callbacks
):
    run = _run_now(staff_client, worker_jobs["worker-probe-failing"], django_capture_on_commit_callbacks)
    assert run.outcome == TaskRun.Outcome.FAILURE
    assert "RuntimeError: job-failing: the disk is full" in run.error


def test_what_beat_sends_is_recorded_as_a_scheduled_run(worker_jobs, monkeypatch):
    """Beat's own sending (django-celery-beat's entry, with its periodic_task_name header)."""
    from django.utils import timezone

    from saas.celery import app as celery_app
    from scheduler.beat import ProjectScheduler

    monkeypatch.setattr("django_celery_beat.schedulers.close_old_connections", lambda: None)
    previous = celery_app.conf.beat_schedule
    celery_app.conf.beat_schedule = settings.CELERY_BEAT_SCHEDULE
    since = timezone.now()
    try:
        beat = ProjectScheduler(app=celery_app)
        beat.apply_async(beat.schedule["worker-probe-job"], advance=False)
    finally:
        celery_app.conf.beat_schedule = previous
    run = _wait_for(
        lambda: TaskRun.objects.filter(
            entry_name="worker-probe-job", started_at__gte=since, outcome=TaskRun.Outcome.SUCCESS
        ).first(),
        what="the scheduled run",
    )
    assert run.trigger == TaskRun.Trigger.BEAT
    assert run.result == {"checked": 3, "removed": 1, "marker": ""}


def test_worker_heartbeat_probe_and_readyz_see_a_stopped_worker(client, tmp_path):
    require_service(heartbeats.store_configured(), "Redis (REDIS_URL)")
    heartbeat_file = tmp_path / "worker-heartbeat"
    queue = f"test-hb-{uuid.uuid4().hex[:8]}"
    assert _probe(heartbeat_file).returncode == 1  # no worker yet

    worker = _start_worker(queue, heartbeat_file)
    try:
        _wait_for(heartbeat_file.exists, what="the worker's heartbeat file")
        alive = _probe(heartbeat_file)
        assert alive.returncode == 0, alive.stderr
        _wait_for(
            lambda: any(name.startswith(queue) for name in heartbeats.alive("worker")), what="the Redis key"
        )
        body = client.get("/readyz").json()
        assert body["checks"]["workers"] == "ok"
        first = heartbeat_file.read_text()
        _wait_for(
            lambda: heartbeat_file.exists() and heartbeat_file.read_text() != first, what="a second beat"
        )
    finally:
        _stop(worker)

    stopped = _probe(heartbeat_file)
    assert stopped.returncode == 1 and "no heartbeat" in stopped.stderr
    assert not any(name.startswith(queue) for name in heartbeats.alive("worker"))


def test_the_probe_fails_on_a_heartbeat_older_than_its_limit(tmp_path):
    """A worker killed without a clean stop leaves its file: its age fails the probe."""
    heartbeat_file = tmp_path / "worker-heartbeat"
    heartbeat_file.write_text(f"{time.time() - 30:.3f}\n")
    old = _probe(heartbeat_file, max_age=20)
    assert old.returncode == 1 and "30 s ago" in old.stderr
    assert _probe(heartbeat_file, max_age=60).returncode == 0
