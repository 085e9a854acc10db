from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Outbound webhooks"

    def ready(self) -> None:
        # The receivers import models, which load after the app configs.
        from . import receivers

        receivers.connect()
