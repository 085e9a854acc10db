from django.apps import AppConfig


class UiConfig(AppConfig):
    """The design system: template tags for the components (templates/cotton/), the
    platform's icons and favicons, and the stylesheet and script in static/ui/."""

    name = "ui"
    verbose_name = "Design system"
