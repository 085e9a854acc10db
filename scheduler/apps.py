from __future__ import annotations

from django.apps import AppConfig


class SchedulerConfig(AppConfig):
    name = "scheduler"
    verbose_name = "Scheduler"

    def ready(self) -> None:
        # Imported once the app registry is ready: the receivers use the models, and the
        # worker's heartbeat bootstep is added to the Celery app before a worker builds its
        # consumer (the worker sets Django up before that).
        from saas.celery import app as celery_app

        from . import receivers
        from .heartbeat import WorkerHeartbeat

        receivers.connect()
        celery_app.steps["consumer"].add(WorkerHeartbeat)
