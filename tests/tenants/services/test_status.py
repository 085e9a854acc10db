"""Suspend, reactivate and delete; stored files live under the tenant's own prefix."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django_tenants.utils import schema_context, schema_exists, tenant_context

from tenants import services
from tenants.models import Domain, Membership, PlatformAuditEvent, Tenant, User
from widget_builder.models import Widget

pytestmark = pytest.mark.django_db


@pytest.fixture
def doomed(db):
    owner = User.objects.create_user(email="doomed@example.com", password="a-long-password-1")
    tenant = services.tenant_provision(slug="doomed-co", name="Doomed Co", owner=owner)
    with tenant_context(tenant):
        Widget.objects.create(name="MARKER-DOOMED")
        name = default_storage.save("uploads/manual.txt", ContentFile(b"MARKER-DOOMED file"))
        cache.set("greeting", "MARKER-DOOMED cached")
    return tenant, owner, name


def test_files_saved_for_a_tenant_land_under_its_own_prefix(tenant_a, tenant_b):
    with tenant_context(tenant_a.tenant):
        name_a = default_storage.save("docs/a.txt", ContentFile(b"MARKER-A"))
    with tenant_context(tenant_b.tenant):
        name_b = default_storage.save("docs/a.txt", ContentFile(b"MARKER-B"))
    try:
        assert name_a.startswith(f"tenants/{tenant_a.schema}/docs/")
        assert name_b.startswith(f"tenants/{tenant_b.schema}/docs/")
        assert (Path(settings.MEDIA_ROOT) / name_a).read_bytes() == b"MARKER-A"
        with tenant_context(tenant_a.tenant):
            assert default_storage.open(name_a).read() == b"MARKER-A"
        with tenant_context(tenant_b.tenant):
            assert default_storage.open(name_b).read() == b"MARKER-B"
    finally:
        with tenant_context(tenant_a.tenant):
            default_storage.delete(name_a)
        with tenant_context(tenant_b.tenant):
            default_storage.delete(name_b)


def test_a_tenant_cannot_reach_another_tenants_file_by_name(tenant_a, tenant_b):
    with tenant_context(tenant_b.tenant):
        name_b = default_storage.save("secret.txt", ContentFile(b"MARKER-B secret"))
    try:
        with tenant_context(tenant_a.tenant):
            assert not default_storage.exists(name_b)
            with pytest.raises(FileNotFoundError):
                default_storage.open(name_b)
            default_storage.delete(name_b)  # re-rooted under A: deletes nothing of B's
        assert (Path(settings.MEDIA_ROOT) / name_b).exists()
    finally:
        with tenant_context(tenant_b.tenant):
            default_storage.delete(name_b)


def test_a_name_cannot_climb_out_of_the_tenant_prefix(tenant_a):
    from django.core.exceptions import SuspiciousFileOperation

    with tenant_context(tenant_a.tenant), pytest.raises(SuspiciousFileOperation):
        default_storage.save("../../etc/passwd", ContentFile(b"x"))


def test_suspend_keeps_everything_and_is_audited(tenant_a, staff_user):
    services.tenant_suspend(tenant=tenant_a.tenant, by=staff_user, reason="chargeback", ip="203.0.113.9")
    tenant = Tenant.objects.get(pk=tenant_a.tenant.pk)
    assert tenant.status == Tenant.Status.SUSPENDED
    assert tenant.suspended_reason == "chargeback"
    assert schema_exists(tenant.schema_name)
    with tenant_context(tenant):
        assert Widget.objects.count() == tenant_a.widget_count
    event = PlatformAuditEvent.objects.get(action="tenant.suspend")
    assert (event.actor_email, event.target_id, event.ip_address) == (
        staff_user.email,
        str(tenant.pk),
        "203.0.113.9",
    )
    assert event.metadata == {"reason": "chargeback"}


def test_delete_drops_the_schema_files_and_rows(doomed, staff_user, client):
    tenant, owner, file_name = doomed
    file_path = Path(settings.MEDIA_ROOT) / file_name
    assert file_path.exists()
    assert file_name.startswith(f"tenants/{tenant.schema_name}/")
    client.force_login(owner, host="doomed-co.saas.test")  # a session opened for the workspace

    services.tenant_delete(tenant=tenant, by=staff_user)

    assert not schema_exists(tenant.schema_name)
    with schema_context(tenant.schema_name):
        assert cache.get("greeting") is None
    assert not file_path.exists()
    assert not (Path(settings.MEDIA_ROOT) / "tenants" / tenant.schema_name).exists()
    assert not Tenant.objects.filter(pk=tenant.pk).exists()
    assert not Domain.objects.filter(domain="doomed-co.saas.test").exists()
    assert not Membership.objects.filter(tenant_id=tenant.pk).exists()
    assert User.objects.filter(pk=owner.pk).exists()  # people outlive workspaces
    event = PlatformAuditEvent.objects.get(action="tenant.delete")
    assert event.target_id == str(tenant.pk) and event.actor_email == staff_user.email
    assert client.get("/dashboard/", HTTP_HOST="doomed-co.saas.test").status_code == 404


def test_delete_leaves_other_tenants_untouched(doomed, tenant_a, staff_user):
    with tenant_context(tenant_a.tenant):
        cache.set("greeting", "MARKER-A cached")
    services.tenant_delete(tenant=doomed[0], by=staff_user)
    assert schema_exists(tenant_a.schema)
    with tenant_context(tenant_a.tenant):
        assert Widget.objects.count() == tenant_a.widget_count
        assert cache.get("greeting") == "MARKER-A cached"


def test_schema_drop_refuses_anything_but_a_tenant_schema():
    for name in ("public", "pg_catalog", "information_schema"):
        with pytest.raises(ValueError, match="refusing"):
            services.schema_drop(schema_name=name)
