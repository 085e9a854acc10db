"""Expired visitor sessions (chat.services.visitor_sessions, the hourly beat job)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from chat.models import Contact
from chat.services.visitor_sessions import visitor_sessions_expire
from chat.tasks import visitor_sessions_expire_task
from tests.chat.factories import ContactFactory, ConversationFactory
from widget_builder.models import Widget

SECOND = timedelta(seconds=1)


def test_anonymous_visitors_without_conversations_go_after_the_keep_period(tenant_a, settings):
    settings.VISITOR_SESSION_KEEP_DAYS = 30
    now = timezone.now()
    limit = now - timedelta(days=30)
    with tenant_context(tenant_a.tenant):
        widget = Widget.objects.first()
        gone = ContactFactory(widget=widget, last_seen_at=limit - SECOND)
        recent = ContactFactory(widget=widget, last_seen_at=limit + SECOND)
        talked = ContactFactory(widget=widget, last_seen_at=limit - SECOND)
        ConversationFactory(widget=widget, contact=talked)
        lead = ContactFactory(widget=widget, last_seen_at=limit - SECOND, email="lead@example.com")
        consented = ContactFactory(widget=widget, last_seen_at=limit - SECOND, consent_given_at=limit)
        identified = ContactFactory(widget=widget, last_seen_at=limit - SECOND, external_id="u-1")
        assert visitor_sessions_expire(now=now) == 1
        left = set(Contact.objects.values_list("pk", flat=True))
        assert gone.pk not in left
        assert {recent.pk, talked.pk, lead.pk, consented.pk, identified.pk} <= left
        assert visitor_sessions_expire(now=now) == 0


def test_the_job_runs_in_every_workspace_and_returns_its_counts(tenant_a, tenant_b):
    old = timezone.now() - timedelta(days=400)
    for seeded in (tenant_a, tenant_b):
        with tenant_context(seeded.tenant):
            ContactFactory(widget=Widget.objects.first(), last_seen_at=old)
    assert visitor_sessions_expire_task.apply().get()["expired_visitor_sessions"] >= 2
    assert visitor_sessions_expire_task.apply().get() == {"expired_visitor_sessions": 0}


def test_an_expiry_stopped_after_its_first_batch_finishes_on_the_next_run(tenant_a, settings, monkeypatch):
    from tenants import batches

    settings.HOUSEKEEPING_BATCH_SIZE = 2
    old = timezone.now() - timedelta(days=400)
    with tenant_context(tenant_a.tenant):
        widget = Widget.objects.first()
        ids = [ContactFactory(widget=widget, last_seen_at=old).pk for _ in range(5)]
        real = batches.batch_committed

        def die(what, count):
            real(what, count)
            raise RuntimeError("worker killed")

        monkeypatch.setattr(batches, "batch_committed", die)
        with pytest.raises(RuntimeError):
            visitor_sessions_expire()
        assert Contact.objects.filter(pk__in=ids).count() == 3
        monkeypatch.setattr(batches, "batch_committed", real)
        assert visitor_sessions_expire() == 3
        assert not Contact.objects.filter(pk__in=ids).exists()
