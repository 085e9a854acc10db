"""Factories for the widget builder (tenant schema: use them inside ``tenant_context``)."""

from __future__ import annotations

import factory
from factory.django import DjangoModelFactory

from widget_builder.models import Widget


class WidgetFactory(DjangoModelFactory):
    """A widget row. It is not in the public widget-key registry: a widget visitors must
    reach comes from ``widget_create`` (or is the workspace's default one)."""

    class Meta:
        model = Widget

    name = factory.Sequence(lambda n: f"Widget {n}")
