"""Writes of the scheduler: the declared schedule synchronised into the database, staff
changes to a job (enabled, interval, run now, each in the platform audit log), and the runs
of periodic jobs (started, finished, failed, lost, pruned).

The declared schedule (``settings.CELERY_BEAT_SCHEDULE``) holds the defaults. The database
holds the truth once a job exists: ``schedules_sync`` creates the jobs that are missing and
removes those no longer declared, but leaves an existing job's schedule and ``enabled``
as staff left them. django-celery-beat's own start-up (``update_from_dict``) would write the
declared schedule over them on every beat restart; ``scheduler.beat`` calls this instead.
"""

from __future__ import annotations

import json
import logging
import traceback
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from celery.schedules import crontab
from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Window
from django.db.models.functions import RowNumber
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask
from django_celery_beat.schedulers import ModelEntry
from django_tenants.utils import get_public_schema_name, schema_context

from saas.celery import app as celery_app
from saas.errors import ValidationFailed
from tenants.models import User
from tenants.services import audit_event_record

from .models import TaskRun

logger = logging.getLogger(__name__)

HEADER = "periodic_task_name"  # set by django-celery-beat on what beat sends, and by run now
RUN_NOW_HEADER = "scheduler_run_now"
DECLARED = "Declared in CELERY_BEAT_SCHEDULE"
MIN_EVERY_SECONDS = 5
MAX_EVERY_SECONDS = 31 * 24 * 3600
_RESULT_MAX_CHARS = 10_000
_ERROR_MAX_CHARS = 10_000


# --- the declared schedule -------------------------------------------------------------


def _job_create(name: str, entry: Mapping[str, Any]) -> None:
    model_schedule, field = ModelEntry.to_model_schedule(entry["schedule"])
    options = dict(entry.get("options") or {})
    PeriodicTask.objects.create(
        name=name,
        task=entry["task"],
        args=json.dumps(list(entry.get("args") or [])),
        kwargs=json.dumps(dict(entry.get("kwargs") or {})),
        queue=options.get("queue"),
        exchange=options.get("exchange"),
        routing_key=options.get("routing_key"),
        priority=options.get("priority"),
        headers=json.dumps(options.get("headers") or {}),
        expire_seconds=options.get("expire_seconds"),
        description=DECLARED,
        **{field: model_schedule},
    )


def schedules_sync(*, declared: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, int]:
    """Make the database hold every declared job: create the missing ones, remove the ones
    no longer declared, follow a renamed task; never touch a job's schedule or ``enabled``."""
    declared = settings.CELERY_BEAT_SCHEDULE if declared is None else declared
    counts = {"created": 0, "removed": 0, "renamed": 0}
    with schema_context(get_public_schema_name()), transaction.atomic():
        existing = {job.name: job for job in PeriodicTask.objects.select_for_update()}
        for name, entry in declared.items():
            job = existing.get(name)
            if job is None:
                _job_create(name, entry)
                counts["created"] += 1
            elif job.task != entry["task"]:
                job.task = entry["task"]
                job.save(update_fields=["task"])
                counts["renamed"] += 1
        for name, job in existing.items():
            if name not in declared:
                job.delete()
                counts["removed"] += 1
    if any(counts.values()):
        logger.info("scheduler: schedules synchronised %s", counts)
    return counts


# --- staff actions ---------------------------------------------------------------------


def _audit(*, actor: User | None, action: str, job: PeriodicTask, ip: str | None, **metadata: Any) -> None:
    audit_event_record(
        actor=actor,
        action=action,
        target_type="periodic_job",
        target_id=str(job.pk),
        target_repr=job.name,
        metadata={"task": job.task, **metadata},
        ip=ip,
    )


def schedule_enabled_set(
    *, job: PeriodicTask, enabled: bool, actor: User | None, ip: str | None = None
) -> bool:
    """Enable or disable a job (beat notices within its next tick). False when unchanged."""
    with schema_context(get_public_schema_name()), transaction.atomic():
        job = PeriodicTask.objects.select_for_update().get(pk=job.pk)
        if job.enabled == enabled:
            return False
        job.enabled = enabled
        job.save(update_fields=["enabled"])
        _audit(
            actor=actor, action="periodic_job.enabled" if enabled else "periodic_job.disabled", job=job, ip=ip
        )
    return True


def schedule_interval_set(
    *, job: PeriodicTask, every_seconds: int, actor: User | None, ip: str | None = None
) -> bool:
    """Run the job every ``every_seconds`` (a crontab or one-time schedule becomes an
    interval). False when unchanged."""
    if not MIN_EVERY_SECONDS <= every_seconds <= MAX_EVERY_SECONDS:
        message = f"Between {MIN_EVERY_SECONDS} seconds and {MAX_EVERY_SECONDS // 86400} days."
        raise ValidationFailed(errors={"every_seconds": [{"code": "out_of_range", "message": message}]})
    with schema_context(get_public_schema_name()), transaction.atomic():
        job = PeriodicTask.objects.select_for_update(of=("self",)).select_related("interval").get(pk=job.pk)
        before = _schedule_seconds(job)
        if before == every_seconds and job.interval is not None:
            return False
        interval, _ = IntervalSchedule.objects.get_or_create(
            every=every_seconds, period=IntervalSchedule.SECONDS
        )
        job.interval = interval
        job.crontab = job.solar = job.clocked = None
        job.one_off = False
        job.save(update_fields=["interval", "crontab", "solar", "clocked", "one_off"])
        _audit(
            actor=actor,
            action="periodic_job.interval_changed",
            job=job,
            ip=ip,
            before_seconds=before,
            after_seconds=every_seconds,
        )
    return True


CRON_FIELDS = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")


def crontab_fields(expression: str) -> dict[str, str]:
    """``"30 3 * * *"`` as the five fields of a crontab, checked by Celery's own parser."""
    parts = expression.split()
    if len(parts) != len(CRON_FIELDS):
        message = "Five fields: minute hour day-of-month month day-of-week, e.g. 30 3 * * *."
        raise ValidationFailed(errors={"cron": [{"code": "invalid_cron", "message": message}]})
    fields = dict(zip(CRON_FIELDS, parts, strict=True))
    try:
        crontab(**fields)
    except (ValueError, TypeError) as error:
        message = f"Not a valid crontab: {error}"
        raise ValidationFailed(errors={"cron": [{"code": "invalid_cron", "message": message}]}) from error
    return fields


def cron_expression(job: PeriodicTask) -> str | None:
    if job.crontab is None:
        return None
    return " ".join(str(getattr(job.crontab, field)) for field in CRON_FIELDS)


def schedule_crontab_set(
    *, job: PeriodicTask, expression: str, actor: User | None, ip: str | None = None
) -> bool:
    """Run the job on a crontab (in the crontab's time zone, UTC for a job that had none).
    False when unchanged."""
    fields = crontab_fields(expression)
    with schema_context(get_public_schema_name()), transaction.atomic():
        job = (
            PeriodicTask.objects.select_for_update(of=("self",))
            .select_related("crontab", "interval")
            .get(pk=job.pk)
        )
        before = cron_expression(job)
        before_seconds = _schedule_seconds(job)
        if before == " ".join(fields.values()):
            return False
        zone = job.crontab.timezone if job.crontab is not None else "UTC"
        schedule, _ = CrontabSchedule.objects.get_or_create(**fields, timezone=zone)
        job.crontab = schedule
        job.interval = job.solar = job.clocked = None
        job.one_off = False
        job.save(update_fields=["interval", "crontab", "solar", "clocked", "one_off"])
        _audit(
            actor=actor,
            action="periodic_job.schedule_changed",
            job=job,
            ip=ip,
            before_cron=before,
            before_seconds=before_seconds,
            after_cron=" ".join(fields.values()),
        )
    return True


def _schedule_seconds(job: PeriodicTask) -> int | None:
    if job.interval is None:
        return None
    return int(job.interval.schedule.run_every.total_seconds())


def schedule_run_now(*, job: PeriodicTask, actor: User | None, ip: str | None = None) -> str:
    """Send the job's task now, with its arguments and queue, marked so its run is recorded.
    Sent once the audit event commits; without a broker it runs in this process then.
    Returns the task id (its ``TaskRun`` row appears when a worker starts it)."""
    task_id = str(uuid.uuid4())
    with schema_context(get_public_schema_name()), transaction.atomic():
        _audit(actor=actor, action="periodic_job.run_requested", job=job, ip=ip, task_id=task_id)
        send = _sender(job, task_id)
        transaction.on_commit(send)
    return task_id


def _sender(job: PeriodicTask, task_id: str) -> Callable[[], None]:
    args = json.loads(job.args or "[]")
    kwargs = json.loads(job.kwargs or "{}")
    headers = {
        **json.loads(job.headers or "{}"),
        HEADER: job.name,
        RUN_NOW_HEADER: True,
        "_schema_name": get_public_schema_name(),
    }
    options = {
        k: getattr(job, k) for k in ("queue", "exchange", "routing_key", "priority") if getattr(job, k)
    }

    def send() -> None:
        try:
            if celery_app.conf.task_always_eager:
                # No broker: run it here, in the public schema, now (the page waits for it).
                with schema_context(get_public_schema_name()):
                    task = celery_app.tasks[job.task]
                    task.apply(args=args, kwargs=kwargs, task_id=task_id, headers=headers, throw=False)
                return
            celery_app.send_task(
                job.task, args=args, kwargs=kwargs, task_id=task_id, headers=headers, **options
            )
        except Exception as error:  # refused (broker down, unknown task): a failed run, not a lost one
            logger.warning(
                "scheduler: run now of %s not sent (%s: %s)", job.name, type(error).__name__, error
            )
            now = timezone.now()
            TaskRun.objects.update_or_create(
                task_id=task_id,
                defaults={
                    "entry_name": job.name,
                    "task": job.task,
                    "trigger": TaskRun.Trigger.RUN_NOW,
                    "started_at": now,
                    "finished_at": now,
                    "duration_ms": 0,
                    "outcome": TaskRun.Outcome.FAILURE,
                    "error": f"Not sent ({type(error).__name__}: {error})",
                },
            )

    return send


# --- runs ------------------------------------------------------------------------------


def task_run_started(*, entry_name: str, task: str, task_id: str, run_now: bool, worker: str = "") -> None:
    """A worker starts a periodic job's task (again, if it is retried: the row restarts)."""
    with schema_context(get_public_schema_name()):
        TaskRun.objects.update_or_create(
            task_id=task_id,
            defaults={
                "entry_name": entry_name[:200],
                "task": task[:200],
                "trigger": TaskRun.Trigger.RUN_NOW if run_now else TaskRun.Trigger.BEAT,
                "worker": worker[:255],
                "started_at": timezone.now(),
                "finished_at": None,
                "duration_ms": None,
                "outcome": TaskRun.Outcome.RUNNING,
                "result": None,
                "error": "",
            },
        )


def task_run_failed(*, task_id: str, error: BaseException, tb: Any = None) -> None:
    """The task raised: keep the error (and where), the run finishes in ``task_run_finished``."""
    lines = traceback.format_exception(type(error), error, tb) if tb is not None else []
    text = f"{type(error).__name__}: {error}"
    if lines:
        text += "\n\n" + "".join(lines[-12:])
    with schema_context(get_public_schema_name()):
        TaskRun.objects.filter(task_id=task_id).update(
            outcome=TaskRun.Outcome.FAILURE, error=text[:_ERROR_MAX_CHARS]
        )


def task_run_finished(*, task_id: str, succeeded: bool, result: Any, state: str) -> None:
    """The task returned (or failed, or was retried): time, outcome and what it did."""
    now = timezone.now()
    with schema_context(get_public_schema_name()), transaction.atomic():
        run = TaskRun.objects.select_for_update().filter(task_id=task_id).first()
        if run is None:
            return
        run.finished_at = now
        run.duration_ms = max(0, int((now - run.started_at).total_seconds() * 1000))
        if succeeded:
            run.outcome = TaskRun.Outcome.SUCCESS
            run.result = _as_json(result)
        else:
            run.outcome = TaskRun.Outcome.FAILURE
            run.error = run.error or f"{state}: {result}"[:_ERROR_MAX_CHARS]
        run.save(update_fields=["finished_at", "duration_ms", "outcome", "result", "error"])


def _as_json(value: Any) -> Any:
    """The return value as JSON (the jobs return dicts of counts); anything else as text."""
    try:
        text = json.dumps(value, default=str)
    except (TypeError, ValueError):
        text = json.dumps(str(value))
    if len(text) > _RESULT_MAX_CHARS:
        return {"truncated": text[:_RESULT_MAX_CHARS]}
    return json.loads(text)


def task_runs_prune(*, now: datetime | None = None) -> dict[str, int]:
    """Mark runs still ``running`` past the longest task's time limit as lost, then delete
    runs older than ``SCHEDULER_RUNS_KEEP_DAYS`` and beyond the newest
    ``SCHEDULER_RUNS_KEEP_PER_TASK`` of each job. Idempotent; a second call changes nothing."""
    now = now or timezone.now()
    lost_before = now - timedelta(seconds=settings.CELERY_LONGEST_TASK_SECONDS + 60)
    old_before = now - timedelta(days=settings.SCHEDULER_RUNS_KEEP_DAYS)
    keep = settings.SCHEDULER_RUNS_KEEP_PER_TASK
    with schema_context(get_public_schema_name()), transaction.atomic():
        lost = TaskRun.objects.filter(outcome=TaskRun.Outcome.RUNNING, started_at__lt=lost_before).update(
            outcome=TaskRun.Outcome.LOST,
            error="No end was recorded: the worker stopped or lost the task.",
        )
        old, _ = TaskRun.objects.filter(started_at__lt=old_before).delete()
        crowded = (
            TaskRun.objects.values("entry_name")
            .annotate(n=Count("id"))
            .filter(n__gt=keep)
            .values_list("entry_name")
        )
        surplus_ids = [
            row["id"]
            for row in TaskRun.objects.filter(entry_name__in=crowded)
            .annotate(rank=Window(RowNumber(), partition_by=F("entry_name"), order_by=F("started_at").desc()))
            .values("id", "rank")
            if row["rank"] > keep
        ]
        surplus, _ = TaskRun.objects.filter(id__in=surplus_ids).delete()
    return {"lost": lost, "deleted_old": old, "deleted_surplus": surplus}
