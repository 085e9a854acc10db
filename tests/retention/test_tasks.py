"""retention.tasks: the nightly beat task purges every active workspace in its own schema
and returns the counts; one workspace failing leaves the others their turn."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from django_tenants.utils import tenant_context

from chat.models import Conversation
from retention.models import PurgeRun
from retention.tasks import retention_purge_all

from .conftest import conversation_at

pytestmark = pytest.mark.django_db


def test_the_beat_schedule_runs_it_nightly():
    entry = settings.CELERY_BEAT_SCHEDULE["retention-purge"]
    assert entry["task"] == "retention.tasks.retention_purge_all"
    assert entry["schedule"].hour == {3} and entry["schedule"].minute == {15}


def test_every_active_workspace_in_its_own_schema(tenant_a, tenant_b, monkeypatch):
    old = timezone.now() - timedelta(days=45)
    with tenant_context(tenant_a.tenant):
        mine = conversation_at(old)
    with tenant_context(tenant_b.tenant):
        theirs = [conversation_at(old), conversation_at(old)]
    totals = retention_purge_all.apply().get()
    assert totals["conversations"] >= 3 and totals["messages"] >= 3
    assert totals["workspaces"] >= 2 and totals["failed"] == 0
    with tenant_context(tenant_a.tenant):
        assert not Conversation.objects.filter(pk=mine.pk).exists()
        assert PurgeRun.objects.get().conversations == 1
    with tenant_context(tenant_b.tenant):
        assert not Conversation.objects.filter(pk__in=[c.pk for c in theirs]).exists()
        assert PurgeRun.objects.get().conversations == 2


def test_one_workspace_failing_leaves_the_others_their_turn(tenant_a, tenant_b, monkeypatch):
    from retention import tasks

    real = tasks.retention_purge

    def fails_in_a(*, tenant, deadline):
        if tenant.pk == tenant_a.tenant.pk:
            raise RuntimeError("a bad row")
        return real(tenant=tenant, deadline=deadline)

    monkeypatch.setattr(tasks, "retention_purge", fails_in_a)
    with tenant_context(tenant_b.tenant):
        theirs = conversation_at(timezone.now() - timedelta(days=45))
    totals = retention_purge_all.apply().get()
    assert totals["failed"] == 1 and totals["conversations"] >= 1
    with tenant_context(tenant_b.tenant):
        assert not Conversation.objects.filter(pk=theirs.pk).exists()
