from django.apps import AppConfig


class ObservabilityConfig(AppConfig):
    name = "saas.observability"
    label = "observability"
    verbose_name = "Observability"

    def ready(self) -> None:
        from . import tasks, tracing  # the app registry is ready: Celery's tasks may load

        tasks.connect()
        tracing.sentry_start()
        tracing.tracing_start()
