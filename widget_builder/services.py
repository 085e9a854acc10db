"""Writes for widgets. Preconditions: the tenant's schema is active."""

from .models import Widget


def widget_ensure_default(*, tenant, owner) -> Widget:
    """Every workspace starts with one widget, ready to customize (workspace initializer)."""
    existing = Widget.objects.order_by("id").first()
    return existing or Widget.objects.create(name="Website chat")
