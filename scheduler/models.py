"""The periodic jobs (django-celery-beat's ``PeriodicTask`` rows, seen through a proxy) and
one ``TaskRun`` row per run of a periodic job: started by beat or by "run now"."""

from __future__ import annotations

from django.db import models
from django_celery_beat.models import PeriodicTask


class PeriodicJob(PeriodicTask):  # type: ignore[misc]  # django-celery-beat has no type hints
    """A periodic task as the scheduler page shows it (same table, no columns of its own)."""

    class Meta:
        proxy = True
        verbose_name = "periodic job"
        verbose_name_plural = "periodic jobs"

    def __str__(self) -> str:
        return str(self.name)


class TaskRun(models.Model):
    """One run of a periodic job, recorded from Celery's signals in the worker."""

    class Outcome(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCESS = "success", "Success"
        FAILURE = "failure", "Failure"
        LOST = "lost", "Lost"

    class Trigger(models.TextChoices):
        BEAT = "beat", "Schedule"
        RUN_NOW = "run_now", "Run now"

    entry_name = models.CharField("job", max_length=200)
    task = models.CharField(max_length=200)
    task_id = models.CharField(max_length=255, unique=True)
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.BEAT)
    worker = models.CharField(max_length=255, blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField("duration (ms)", null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.RUNNING)
    # What the job did: the task's return value (the jobs return dicts of counts).
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ("-started_at", "-id")
        indexes = [
            models.Index(fields=["entry_name", "-started_at"], name="scheduler_run_entry_started"),
            models.Index(fields=["outcome", "started_at"], name="scheduler_run_outcome_started"),
        ]

    def __str__(self) -> str:
        return f"{self.entry_name} at {self.started_at:%Y-%m-%d %H:%M:%S}"
