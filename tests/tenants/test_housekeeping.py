"""The public schema's housekeeping (tenants.services.housekeeping, the hourly
``tenants-housekeeping``): each purge at its limit (a second either side), idempotent, and
finishing after a run stopped half-way."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from tenants import batches
from tenants.models import Invitation, LoginHandoff, SupportAccess
from tenants.services import housekeeping
from tenants.services.handoffs import login_handoff_create, login_handoff_purge
from tenants.services.team import INVITATION_MAX_AGE
from tenants.tasks import tenants_housekeeping

SECOND = timedelta(seconds=1)


def _sessions(n: int, *, expire_date) -> list[str]:
    keys = []
    for _ in range(n):
        store = SessionStore()
        store["x"] = 1
        store.create()
        keys.append(store.session_key)
    Session.objects.filter(session_key__in=keys).update(expire_date=expire_date)
    return keys


def test_sessions_go_a_second_after_their_expiry_not_before(db):
    now = timezone.now()
    expired = _sessions(1, expire_date=now - SECOND)
    valid = _sessions(1, expire_date=now + SECOND)
    assert housekeeping.sessions_expired_purge(now=now) == 1
    assert not Session.objects.filter(session_key__in=expired).exists()
    assert Session.objects.filter(session_key__in=valid).exists()
    assert housekeeping.sessions_expired_purge(now=now) == 0  # a second run changes nothing


def test_a_purge_stopped_after_its_first_batch_finishes_on_the_next_run(db, settings, monkeypatch):
    settings.HOUSEKEEPING_BATCH_SIZE = 2
    now = timezone.now()
    keys = _sessions(5, expire_date=now - timedelta(days=1))
    real = batches.batch_committed

    def die_after_first(what, count):
        real(what, count)
        raise RuntimeError("worker killed")

    monkeypatch.setattr(batches, "batch_committed", die_after_first)
    with pytest.raises(RuntimeError):
        housekeeping.sessions_expired_purge(now=now)
    assert Session.objects.filter(session_key__in=keys).count() == 3  # the first batch committed
    monkeypatch.setattr(batches, "batch_committed", real)
    assert housekeeping.sessions_expired_purge(now=now) == 3
    assert not Session.objects.filter(session_key__in=keys).exists()


def test_invitations_go_after_the_link_expired_and_the_keep_period(tenant_a, settings):
    settings.INVITATION_KEEP_DAYS = 30
    now = timezone.now()
    limit = now - INVITATION_MAX_AGE - timedelta(days=30)
    old = Invitation.objects.create(
        tenant=tenant_a.tenant, email="old@example.com", role="agent", sent_at=limit - SECOND
    )
    kept = Invitation.objects.create(
        tenant=tenant_a.tenant, email="kept@example.com", role="agent", sent_at=limit + SECOND
    )
    assert housekeeping.invitations_expired_purge(now=now) == 1
    assert not Invitation.objects.filter(pk=old.pk).exists()
    assert Invitation.objects.filter(pk=kept.pk).exists()
    assert housekeeping.invitations_expired_purge(now=now) == 0


def test_support_grants_go_a_keep_period_after_they_ended(tenant_a, settings):
    settings.SUPPORT_ACCESS_KEEP_DAYS = 365
    now = timezone.now()
    limit = now - timedelta(days=365)

    def grant(n: int, **times) -> SupportAccess:
        defaults = {"expires_at": now, "handoff_expires_at": now}
        return SupportAccess.objects.create(
            tenant=tenant_a.tenant,
            staff_email="s@example.com",
            reason="r",
            handoff_hash=f"h{n}",
            **{**defaults, **times},
        )

    ended_old = grant(
        1,
        started_at=limit - timedelta(hours=2),
        expires_at=limit + timedelta(hours=1),
        ended_at=limit - SECOND,
    )
    ended_recent = grant(2, ended_at=limit + SECOND)
    expired_old = grant(3, started_at=limit - timedelta(hours=2), expires_at=limit - SECOND)
    expired_recent = grant(4, expires_at=limit + SECOND)
    assert housekeeping.support_accesses_expired_purge(now=now) == 2
    left = set(SupportAccess.objects.filter(tenant=tenant_a.tenant).values_list("pk", flat=True))
    assert {ended_recent.pk, expired_recent.pk} <= left
    assert not left & {ended_old.pk, expired_old.pk}
    assert housekeeping.support_accesses_expired_purge(now=now) == 0


def test_unspent_handoffs_go_an_hour_after_expiry(tenant_a):
    now = timezone.now()
    login_handoff_create(user=tenant_a.owner, tenant=tenant_a.tenant, public_session_key="old")
    login_handoff_create(user=tenant_a.owner, tenant=tenant_a.tenant, public_session_key="new")
    LoginHandoff.objects.filter(public_session_key="old").update(expires_at=now - timedelta(hours=1) - SECOND)
    LoginHandoff.objects.filter(public_session_key="new").update(expires_at=now - timedelta(hours=1) + SECOND)
    assert login_handoff_purge(now=now) == 1
    assert list(LoginHandoff.objects.values_list("public_session_key", flat=True)) == ["new"]


def test_the_hourly_job_returns_what_it_did_and_changes_nothing_the_second_time(tenant_a, caplog):
    _sessions(2, expire_date=timezone.now() - timedelta(days=1))
    with caplog.at_level("INFO", logger="tenants.tasks"):
        first = tenants_housekeeping.apply().get()
    [line] = [r.getMessage() for r in caplog.records if r.name == "tenants.tasks"]
    assert line.startswith("tenants-housekeeping: ")
    assert f"expired_sessions={first['expired_sessions']}" in line
    assert first["expired_sessions"] >= 2
    assert set(first) >= {
        "reaped_tenants",
        "expired_sessions",
        "expired_email_confirmations",
        "purged_handoffs",
        "expired_invitations",
        "expired_support_accesses",
        "expired_idempotency_keys",
    }
    second = tenants_housekeeping.apply().get()
    assert all(value == 0 for value in second.values()), second


def test_every_housekeeping_job_is_scheduled_and_its_task_exists(settings):
    from saas.celery import app

    app.loader.import_default_modules()
    for name in (
        "tenants-housekeeping",
        "housekeeping-visitor-sessions",
        "housekeeping-unverified-accounts",
        "housekeeping-storage-reconcile",
        "webhooks-expire",
        "billing-stripe-events-expire",
        "platform-usage-daily",
    ):
        assert settings.CELERY_BEAT_SCHEDULE[name]["task"] in app.tasks, name
