"""widget_builder.snapshots: the widget row by key, cached until the widget changes (saved,
updated in bulk, deleted), a read that raced a change never served after it commits, and
each tenant's keys apart."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django_tenants.utils import tenant_context

from tests.widget_builder.factories import WidgetFactory
from widget_builder.models import Widget
from widget_builder.snapshots import _keys, widget_for_key

pytestmark = pytest.mark.django_db


def _first(seeded_tenant) -> Widget:
    with tenant_context(seeded_tenant.tenant):
        return Widget.objects.order_by("id").first()


def test_the_row_is_read_once_then_served_from_the_cache(tenant_a, django_assert_num_queries):
    widget = _first(tenant_a)
    with tenant_context(tenant_a.tenant):
        assert widget_for_key(widget.key).pk == widget.pk
        with django_assert_num_queries(0):
            assert widget_for_key(widget.key).pk == widget.pk
        assert widget_for_key("wk_nobody") is None
        with django_assert_num_queries(0):
            assert widget_for_key("wk_nobody") is None  # unknown keys are cached briefly too


def test_every_change_is_seen_once_it_commits(tenant_a, django_capture_on_commit_callbacks):
    widget = _first(tenant_a)
    with tenant_context(tenant_a.tenant):
        before = widget_for_key(widget.key)
        with django_capture_on_commit_callbacks(execute=True):
            widget.bot_name = "Nora"
            widget.save(update_fields=["bot_name"])
            # A request that read the row before the commit caches it again meanwhile.
            version_key, entry_key = _keys(widget.key)
            cache.set(f"{entry_key}:{cache.get(version_key, 0)}", before, 60)
        assert widget_for_key(widget.key).bot_name == "Nora"

        Widget.objects.filter(pk=widget.pk).update(is_enabled=False)  # no post_save
        assert widget_for_key(widget.key).is_enabled is False

        gone = WidgetFactory(name="Gone")
        assert widget_for_key(gone.key).pk == gone.pk
        gone.delete()
        assert widget_for_key(gone.key) is None


def test_each_tenant_has_its_own_entries(tenant_a, tenant_b):
    widget = _first(tenant_a)
    with tenant_context(tenant_a.tenant):
        assert widget_for_key(widget.key) is not None
    with tenant_context(tenant_b.tenant):
        assert widget_for_key(widget.key) is None  # not B's widget, whatever A cached
