# Imported as a module: Django picks the one AppConfig class defined in apps.py.
from tenants import contributions as tenancy


class WidgetBuilderConfig(tenancy.ContributingAppConfig):
    name = "widget_builder"
    verbose_name = "Widgets"

    def ready(self) -> None:
        # Models load after the app configs (apps.py is imported first).
        from django.db.models.signals import post_delete, post_save

        from .models import Widget, widgets_updated
        from .snapshots import widget_snapshot_forget

        def forget(sender, instance, **kwargs):
            widget_snapshot_forget(instance.key)

        def forget_updated(sender, keys, **kwargs):
            for key in keys:
                widget_snapshot_forget(key)

        widgets_updated.connect(forget_updated, dispatch_uid="widget-snapshot-update", weak=False)

        post_save.connect(forget, sender=Widget, dispatch_uid="widget-snapshot-save", weak=False)
        post_delete.connect(forget, sender=Widget, dispatch_uid="widget-snapshot-delete", weak=False)

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
