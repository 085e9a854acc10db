from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(acks_late=True, soft_time_limit=120, time_limit=150)
def task_runs_prune() -> dict[str, int]:
    """Runs still "running" past the longest time limit become lost; old runs are deleted
    (beat, hourly: ``scheduler-runs-prune``)."""
    return services.task_runs_prune()
