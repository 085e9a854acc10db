"""Widgets deleted: the actions limited to them follow (``services.widget_removed``).
Connected in ``ActionsConfig.ready``."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import pre_delete

from widget_builder.models import Widget

from . import services


def _widget_deleting(sender: type[Widget], instance: Widget, **kwargs: Any) -> None:
    services.widget_removed(widget=instance)


def connect() -> None:
    pre_delete.connect(_widget_deleting, sender=Widget, dispatch_uid="actions.widget_deleting")
