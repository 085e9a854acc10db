"""Reads of the scheduler page: a job's schedule in words, its next run, the last run of
each job (one query for a page of jobs) and a job's run history."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from .models import TaskRun

_UNITS = ((86400, "day"), (3600, "hour"), (60, "minute"), (1, "second"))


def seconds_in_words(seconds: float) -> str:
    """``every 15 seconds``, ``every minute``, ``every 2 hours``, ``every 90 minutes``."""
    whole = max(1, round(seconds))
    for size, unit in _UNITS:
        if whole % size == 0:
            count = whole // size
            return f"every {unit}" if count == 1 else f"every {count} {unit}s"
    return f"every {whole} seconds"  # pragma: no cover - the 1-second unit always divides


def remaining_in_words(seconds: float) -> str:
    """A wait as a person reads it at a glance: ``12 s``, ``4 min``, ``2 h 5 min``, ``3 d 2 h``."""
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole} s"
    if whole <= 3540:
        return f"{-(-whole // 60)} min"
    if whole < 3600:
        return "1 h"
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    minutes = rest // 60
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def schedule_words(job: PeriodicTask) -> str:
    """The job's schedule as a person says it."""
    if job.interval is not None:
        return seconds_in_words(job.interval.schedule.run_every.total_seconds())
    if job.crontab is not None:
        return f"{job.crontab.human_readable} ({job.crontab.timezone})"
    if job.clocked is not None:
        return f"once, at {job.clocked.clocked_time:%Y-%m-%d %H:%M} UTC"
    if job.solar is not None:
        return str(job.solar)
    return "no schedule"


def interval_seconds(job: PeriodicTask) -> int | None:
    if job.interval is None:
        return None
    return int(job.interval.schedule.run_every.total_seconds())


def next_run(job: PeriodicTask, *, now: datetime | None = None) -> datetime | None:
    """When beat will send the job next (an estimate from its last run, as beat computes
    it); None when it is disabled or will not run again."""
    if not job.enabled:
        return None
    now = now or timezone.now()
    if job.clocked is not None:
        due: datetime = job.clocked.clocked_time
        return due if job.total_run_count == 0 else None
    last = job.last_run_at or job.date_changed or now
    try:
        remaining: timedelta = job.schedule.remaining_estimate(last)
    except (AttributeError, ValueError, TypeError):
        return None
    return max(now, now + remaining)


def last_runs(names: Iterable[str]) -> dict[str, TaskRun]:
    """The newest run of each job named (one query)."""
    rows = TaskRun.objects.filter(entry_name__in=list(names)).order_by("entry_name", "-started_at", "-id")
    return {run.entry_name: run for run in rows.distinct("entry_name")}


def task_runs(entry_name: str, *, limit: int = 20) -> list[TaskRun]:
    """A job's newest runs, newest first."""
    return list(TaskRun.objects.filter(entry_name=entry_name).order_by("-started_at", "-id")[:limit])
