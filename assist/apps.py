from django.apps import AppConfig


class AssistConfig(AppConfig):
    name = "assist"
    verbose_name = "Agent assist and translation"

    def ready(self) -> None:
        # The receivers import models, which load after the app configs; the audit
        # catalogue learns this app's action at start-up.
        from audit.actions import action_register

        from . import receivers

        receivers.connect()
        action_register(
            code="assist.settings_changed",
            label="Changed the assist and translation settings",
            category="inbox",
        )
