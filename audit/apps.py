from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Workspace audit log"

    def ready(self) -> None:
        # The receivers import the models, which load after the app configs.
        from . import receivers

        receivers.connect()
