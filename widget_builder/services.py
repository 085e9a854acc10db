"""Writes for widgets. Preconditions: the tenant's schema is active."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from saas.errors import ValidationFailed
from tenants.services.widget_routes import widget_route_register

from .models import Widget
from .origins import origin_normalize
from .selectors import widget_public_config


def widget_ensure_default(*, tenant, owner) -> Widget:
    """Every workspace starts with one widget, published and ready to customize
    (workspace initializer)."""
    existing = Widget.objects.order_by("id").first()
    return existing or widget_create(tenant=tenant, name="Website chat")


def widget_create(*, tenant, name: str) -> Widget:
    """A new widget with its key registered in the public registry, in one transaction."""
    with transaction.atomic():
        widget = Widget.objects.create(name=name)
        widget_route_register(tenant=tenant, key=widget.key)
        return widget_publish(widget=widget)


def widget_publish(*, widget: Widget) -> Widget:
    widget.published_config = widget_public_config(widget)
    widget.published_at = timezone.now()
    widget.save(update_fields=["published_config", "published_at", "updated_at"])
    return widget


def widget_allowed_origins_set(*, widget: Widget, origins: list[str]) -> Widget:
    """Replace the allowed origins (effective at once, without publishing). Each entry is
    validated; errors name the entry."""
    normalized, errors = [], []
    for value in origins:
        try:
            normalized.append(origin_normalize(value))
        except ValidationError as exc:
            errors.append({"code": "invalid_origin", "message": exc.messages[0]})
    if errors:
        raise ValidationFailed(errors={"allowed_origins": errors})
    widget.allowed_origins = sorted(set(normalized))
    widget.save(update_fields=["allowed_origins", "updated_at"])
    return widget
