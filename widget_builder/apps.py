from django.apps import AppConfig


class WidgetBuilderConfig(AppConfig):
    name = "widget_builder"
    verbose_name = "Widgets"

    def ready(self) -> None:
        from billing.selectors import usage_measure_register
        from tenants.dashboard import OnboardingStep, onboarding_step_register
        from tenants.initializers import workspace_initializer_register
        from tenants.selectors import counted_model_register

        from .models import Widget
        from .services import widget_ensure_default

        counted_model_register("widgets", Widget)
        usage_measure_register("widgets", Widget.objects.count)
        workspace_initializer_register("widget_builder.default_widget", widget_ensure_default)
        onboarding_step_register(
            OnboardingStep(
                "customize_widget",
                "Customize your widget",
                10,
                lambda: Widget.objects.filter(customized_at__isnull=False).exists(),
                "Colours, greeting and suggested questions, with a live preview.",
            )
        )
        onboarding_step_register(
            OnboardingStep(
                "copy_snippet",
                "Copy the embed snippet onto your site",
                30,
                lambda: Widget.objects.filter(snippet_copied_at__isnull=False).exists(),
                "One script tag; the widget appears on your pages.",
            )
        )
