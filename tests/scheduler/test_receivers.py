"""scheduler.receivers: a periodic job's run (its message carries ``periodic_task_name``)
is recorded from Celery's signals: started, finished, how long, the outcome, what it did
(the return value) or the error; other tasks are not recorded. In-process here (eager);
tests/scheduler/test_worker.py does the same on a real worker."""

from __future__ import annotations

import pytest

from scheduler.models import TaskRun
from tests.celery_probe import job_failing, job_probe, schema_probe

pytestmark = pytest.mark.django_db


def test_a_successful_run_is_recorded_with_what_it_did(eager_celery):
    result = job_probe.apply(
        kwargs={"marker": "M-7"}, task_id="run-ok-1", headers={"periodic_task_name": "probe-job"}
    )
    assert result.successful()
    run = TaskRun.objects.get(task_id="run-ok-1")
    assert run.entry_name == "probe-job"
    assert run.task == "tests.celery_probe.job_probe"
    assert run.outcome == TaskRun.Outcome.SUCCESS
    assert run.trigger == TaskRun.Trigger.BEAT
    assert run.result == {"checked": 3, "removed": 1, "marker": "M-7"}
    assert run.finished_at >= run.started_at
    assert run.duration_ms is not None and run.duration_ms >= 0
    assert run.error == ""


def test_a_failed_run_is_recorded_with_its_error(eager_celery):
    result = job_failing.apply(
        task_id="run-bad-1", headers={"periodic_task_name": "probe-failing"}, throw=False
    )
    assert result.failed()
    run = TaskRun.objects.get(task_id="run-bad-1")
    assert run.outcome == TaskRun.Outcome.FAILURE
    assert run.error.startswith("RuntimeError: job-failing: the disk is full")
    assert "job_failing" in run.error  # where it failed
    assert run.finished_at is not None and run.result is None


def test_run_now_is_told_apart(eager_celery):
    job_probe.apply(
        task_id="run-now-1", headers={"periodic_task_name": "probe-job", "scheduler_run_now": True}
    )
    assert TaskRun.objects.get(task_id="run-now-1").trigger == TaskRun.Trigger.RUN_NOW


def test_tasks_that_are_not_periodic_jobs_are_not_recorded(eager_celery):
    job_probe.apply(task_id="plain-1")
    schema_probe.apply(task_id="plain-2", headers={"_schema_name": "public"})
    assert not TaskRun.objects.filter(task_id__in=["plain-1", "plain-2"]).exists()


def test_a_recording_failure_never_fails_the_job(eager_celery, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("database down")

    monkeypatch.setattr("scheduler.services.task_run_started", broken)
    result = job_probe.apply(task_id="run-ok-2", headers={"periodic_task_name": "probe-job"})
    assert result.get() == {"checked": 3, "removed": 1, "marker": ""}
