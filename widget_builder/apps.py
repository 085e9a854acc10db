# Imported as a module: Django picks the one AppConfig class defined in apps.py.
from tenants import contributions as tenancy


class WidgetBuilderConfig(tenancy.ContributingAppConfig):
    name = "widget_builder"
    verbose_name = "Widgets"

    def contributions(self) -> tenancy.Contributions:
        # Models load after the app configs: this runs once the registry is ready.
        from .models import Widget
        from .selectors import widget_first_url
        from .services import widget_ensure_default

        return tenancy.Contributions(
            counted_models={"widgets": Widget},
            usage_measures={"widgets": Widget.objects.count},
            workspace_initializers={"widget_builder.default_widget": widget_ensure_default},
            onboarding_steps=(
                tenancy.OnboardingStep(
                    "customize_widget",
                    "Customize your widget",
                    10,
                    lambda: Widget.objects.filter(customized_at__isnull=False).exists(),
                    "Colours, greeting and suggested questions, with a live preview.",
                    lambda: widget_first_url("widget_builder:edit"),
                ),
                tenancy.OnboardingStep(
                    "copy_snippet",
                    "Copy the embed snippet onto your site",
                    30,
                    lambda: Widget.objects.filter(snippet_copied_at__isnull=False).exists(),
                    "One script tag; the widget appears on your pages.",
                    lambda: widget_first_url("widget_builder:edit", "#embed"),
                ),
            ),
        )
