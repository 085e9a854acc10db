"""Accounts never verified (tenants.services.unverified): warned once, removed with the
workspaces nobody else used after UNVERIFIED_ACCOUNT_DAYS, both in the platform audit log."""

from __future__ import annotations

from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.db import connection
from django.utils import timezone

from tenants.models import PlatformAuditEvent, Tenant, User
from tenants.services.unverified import unverified_accounts_sweep
from tenants.tasks import unverified_accounts_sweep as sweep_task
from tests.tenants.factories import MembershipFactory, TenantFactory, UserFactory

SECOND = timedelta(seconds=1)
NOTHING = {"warned_users": 0, "removed_users": 0, "removed_workspaces": 0, "kept_users": 0, "failed_users": 0}
DAY = timedelta(days=1)


@pytest.fixture(autouse=True)
def _days(settings):
    settings.UNVERIFIED_ACCOUNT_DAYS = 7
    settings.UNVERIFIED_ACCOUNT_WARN_DAYS = 5


def _person(email: str, *, joined, verified: bool = False) -> User:
    user = UserFactory(email=email)
    User.objects.filter(pk=user.pk).update(date_joined=joined)
    EmailAddress.objects.create(user=user, email=email, verified=verified, primary=True)
    user.refresh_from_db()
    return user


def _schema_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [name])
        return cursor.fetchone() is not None


def test_warned_once_at_the_warning_age_then_removed_with_the_workspace(
    db, django_capture_on_commit_callbacks
):
    joined = timezone.now() - 30 * DAY
    person = _person("late@example.com", joined=joined)
    workspace = TenantFactory(slug="never-verified", owner=person)
    schema = workspace.schema_name
    warn_at = joined + 5 * DAY

    with django_capture_on_commit_callbacks(execute=True):
        assert unverified_accounts_sweep(now=warn_at - SECOND)["warned_users"] == 0
    assert mail.outbox == []

    with django_capture_on_commit_callbacks(execute=True):
        first = unverified_accounts_sweep(now=warn_at + SECOND)
    assert first == {
        "warned_users": 1,
        "removed_users": 0,
        "removed_workspaces": 0,
        "kept_users": 0,
        "failed_users": 0,
    }
    assert len(mail.outbox) == 1
    warning = mail.outbox[0]
    assert warning.to == ["late@example.com"]
    assert "Never Verified" in warning.body and "removed" in warning.body
    assert (
        PlatformAuditEvent.objects.filter(action="user.unverified_warned", target_id=str(person.pk)).count()
        == 1
    )

    with django_capture_on_commit_callbacks(execute=True):
        again = unverified_accounts_sweep(now=warn_at + DAY)
    assert again["warned_users"] == 0 and again["removed_users"] == 0
    assert len(mail.outbox) == 1  # the warning goes once

    remove_at = joined + 7 * DAY
    assert unverified_accounts_sweep(now=remove_at - SECOND)["removed_users"] == 0
    assert User.objects.filter(pk=person.pk).exists()

    with django_capture_on_commit_callbacks(execute=True):
        done = unverified_accounts_sweep(now=remove_at + SECOND)
    assert done == {
        "warned_users": 0,
        "removed_users": 1,
        "removed_workspaces": 1,
        "kept_users": 0,
        "failed_users": 0,
    }
    assert not User.objects.filter(pk=person.pk).exists()
    assert not Tenant.objects.filter(pk=workspace.pk).exists()
    assert not _schema_exists(schema)
    removed = PlatformAuditEvent.objects.get(action="user.unverified_removed", target_id=str(person.pk))
    assert removed.metadata["workspaces"] == [schema]
    assert PlatformAuditEvent.objects.filter(action="tenant.delete", target_id=str(workspace.pk)).exists()
    assert len(mail.outbox) == 1
    assert unverified_accounts_sweep(now=remove_at + DAY) == {
        "warned_users": 0,
        "removed_users": 0,
        "removed_workspaces": 0,
        "kept_users": 0,
        "failed_users": 0,
    }


def test_never_removed_without_the_notice_period_after_the_warning(db):
    joined = timezone.now() - 30 * DAY
    person = _person("unwarned@example.com", joined=joined)
    User.objects.filter(pk=person.pk).update(unverified_warned_at=joined + 7 * DAY)  # warned late
    assert unverified_accounts_sweep(now=joined + 9 * DAY - SECOND)["removed_users"] == 0
    assert unverified_accounts_sweep(now=joined + 9 * DAY + SECOND)["removed_users"] == 1


def test_verified_people_staff_and_shared_workspaces_are_left_alone(
    tenant_a, django_capture_on_commit_callbacks
):
    long_ago = timezone.now() - 60 * DAY
    verified = _person("fine@example.com", joined=long_ago, verified=True)
    staff = _person("staff@example.com", joined=long_ago)
    User.objects.filter(pk=staff.pk).update(is_staff=True)
    sharing = _person("sharing@example.com", joined=long_ago)
    MembershipFactory(tenant=tenant_a.tenant, user=sharing, role="owner")
    User.objects.filter(pk=sharing.pk).update(unverified_warned_at=long_ago)
    with django_capture_on_commit_callbacks(execute=True):
        counts = unverified_accounts_sweep()
    assert counts["kept_users"] == 1  # owns a workspace somebody else uses
    assert counts["removed_users"] == 0
    assert [m.to for m in mail.outbox] == []
    assert User.objects.filter(pk__in=[verified.pk, staff.pk, sharing.pk]).count() == 3
    assert Tenant.objects.filter(pk=tenant_a.tenant.pk).exists()


def test_the_daily_task_returns_its_counts(db):
    assert sweep_task.apply().get() == {
        "warned_users": 0,
        "removed_users": 0,
        "removed_workspaces": 0,
        "kept_users": 0,
        "failed_users": 0,
    }


def test_a_removal_that_failed_half_way_is_finished_by_the_next_run(db, settings, monkeypatch):
    from tenants.services import unverified

    settings.HOUSEKEEPING_BATCH_SIZE = 1  # a page per person: the kept one holds nobody back
    long_ago = timezone.now() - 60 * DAY
    kept = _person("kept@example.com", joined=long_ago)
    MembershipFactory(user=kept, role="agent")  # a member of somebody else's workspace
    person = _person("half@example.com", joined=long_ago)
    workspace = TenantFactory(slug="half-removed", owner=person)
    User.objects.filter(pk__in=[kept.pk, person.pk]).update(unverified_warned_at=long_ago)
    real = unverified.tenant_delete

    def dies_after_the_status(*, tenant, by):
        Tenant.objects.filter(pk=tenant.pk).update(status=Tenant.Status.DELETING)
        raise RuntimeError("worker killed")

    monkeypatch.setattr(unverified, "tenant_delete", dies_after_the_status)
    first = unverified_accounts_sweep()
    assert (first["failed_users"], first["kept_users"], first["removed_users"]) == (1, 1, 0)
    assert User.objects.filter(pk=person.pk).exists()
    monkeypatch.setattr(unverified, "tenant_delete", real)
    second = unverified_accounts_sweep()
    assert (second["removed_users"], second["removed_workspaces"], second["kept_users"]) == (1, 1, 1)
    assert not User.objects.filter(pk=person.pk).exists()
    assert not Tenant.objects.filter(pk=workspace.pk).exists()
    assert User.objects.filter(pk=kept.pk).exists()
