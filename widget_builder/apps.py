from django.apps import AppConfig


class WidgetBuilderConfig(AppConfig):
    name = "widget_builder"
    verbose_name = "Widgets"

    def ready(self) -> None:
        from tenants.selectors import counted_model_register

        from .models import Widget

        counted_model_register("widgets", Widget)
