from django.apps import AppConfig


class WidgetBuilderConfig(AppConfig):
    name = "widget_builder"
    verbose_name = "Widgets"

    def ready(self) -> None:
        from tenants.initializers import workspace_initializer_register
        from tenants.selectors import counted_model_register

        from .models import Widget
        from .services import widget_ensure_default

        counted_model_register("widgets", Widget)
        workspace_initializer_register("widget_builder.default_widget", widget_ensure_default)
