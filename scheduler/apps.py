from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_migrate


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
        post_migrate.connect(receivers.after_migrate, sender=self, dispatch_uid="scheduler.after_migrate")
        celery_app.steps["consumer"].add(WorkerHeartbeat)
