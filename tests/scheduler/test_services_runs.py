"""scheduler.services.task_runs_prune (the job scheduler-runs-prune): runs left "running"
past the longest task's time limit become lost; runs older than the keep period and beyond
the newest N per job are deleted; a second run changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from scheduler import services
from scheduler.models import TaskRun

pytestmark = pytest.mark.django_db


def _run(name: str, age: timedelta, outcome: str = TaskRun.Outcome.SUCCESS, n: int = 0) -> TaskRun:
    started = timezone.now() - age
    return TaskRun.objects.create(
        entry_name=name,
        task="t",
        task_id=f"{name}-{age.total_seconds()}-{n}",
        started_at=started,
        outcome=outcome,
    )


def test_prune_marks_lost_runs_and_deletes_old_and_surplus_ones(settings):
    settings.SCHEDULER_RUNS_KEEP_DAYS = 30
    settings.SCHEDULER_RUNS_KEEP_PER_TASK = 3
    longest = timedelta(seconds=settings.CELERY_LONGEST_TASK_SECONDS + 60)
    stuck = _run("a", longest + timedelta(seconds=5), TaskRun.Outcome.RUNNING)
    still_running = _run("a", longest - timedelta(seconds=30), TaskRun.Outcome.RUNNING)
    old = _run("b", timedelta(days=30, seconds=1))
    kept_at_limit = _run("b", timedelta(days=30) - timedelta(seconds=1))
    many = [_run("c", timedelta(minutes=i), n=i) for i in range(5)]

    assert services.task_runs_prune() == {"lost": 1, "deleted_old": 1, "deleted_surplus": 2}
    stuck.refresh_from_db()
    still_running.refresh_from_db()
    assert stuck.outcome == TaskRun.Outcome.LOST and "No end was recorded" in stuck.error
    assert still_running.outcome == TaskRun.Outcome.RUNNING
    assert not TaskRun.objects.filter(pk=old.pk).exists()
    assert TaskRun.objects.filter(pk=kept_at_limit.pk).exists()
    assert set(TaskRun.objects.filter(entry_name="c").values_list("pk", flat=True)) == {
        r.pk for r in many[:3]
    }

    assert services.task_runs_prune() == {"lost": 0, "deleted_old": 0, "deleted_surplus": 0}


def test_prune_is_a_declared_periodic_job(settings):
    assert settings.CELERY_BEAT_SCHEDULE["scheduler-runs-prune"]["task"] == "scheduler.tasks.task_runs_prune"
