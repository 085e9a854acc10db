import atexit
import os

from django.apps import AppConfig


def _process_dead() -> None:
    """A process leaving cleanly takes its live gauges (open connections) out of the sum."""
    from prometheus_client import multiprocess  # only in multiprocess mode, at exit

    multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


class ObservabilityConfig(AppConfig):
    name = "saas.observability"
    label = "observability"
    verbose_name = "Observability"

    def ready(self) -> None:
        from . import tasks, tracing  # the app registry is ready: Celery's tasks may load

        tasks.connect()
        tracing.sentry_start()
        tracing.tracing_start()
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            atexit.register(_process_dead)
