"""tenants.services.status: suspend, reactivate and delete (schema, files and rows gone, other
tenants untouched; a delete that fails half way stops serving and leaves a trace)."""

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
from tenants.services import status as status_services
from tests.tenants.factories import TenantFactory, UserFactory
from tests.widget_builder.factories import WidgetFactory
from widget_builder.models import Widget

pytestmark = pytest.mark.django_db


@pytest.fixture
def doomed(db):
    owner = UserFactory(email="doomed@example.com")
    tenant = TenantFactory(slug="doomed-co", name="Doomed Co", owner=owner)
    with tenant_context(tenant):
        WidgetFactory(name="MARKER-DOOMED")
        name = default_storage.save("uploads/manual.txt", ContentFile(b"MARKER-DOOMED file"))
        cache.set("greeting", "MARKER-DOOMED cached")
    return tenant, owner, name


def test_suspend_keeps_everything_and_is_audited(tenant_a, staff_user):
    services.tenant_suspend(tenant=tenant_a.tenant, by=staff_user, reason="chargeback", ip="203.0.113.9")
    tenant = Tenant.objects.get(pk=tenant_a.tenant.pk)
    assert tenant.status == Tenant.Status.SUSPENDED
    assert tenant.suspended_reason == "chargeback"
    assert schema_exists(tenant.schema_name)
    with tenant_context(tenant):
        assert Widget.objects.count() == tenant_a.widget_count
    event = PlatformAuditEvent.objects.get(action="tenant.suspend", target_id=str(tenant.pk))
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
    # Other tests delete workspaces for good (committed): their events stay, append-only.
    event = PlatformAuditEvent.objects.get(action="tenant.delete", target_id=str(tenant.pk))
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


def test_a_delete_that_fails_half_way_stops_serving_and_leaves_a_trace(staff_user, client, monkeypatch):
    owner = UserFactory()
    tenant = TenantFactory(slug="half-gone", name="Half", owner=owner)

    def broken(*, schema_name):
        raise RuntimeError("lock timeout")

    monkeypatch.setattr(status_services, "schema_drop", broken)
    with pytest.raises(RuntimeError):
        services.tenant_delete(tenant=tenant, by=staff_user)
    assert Tenant.objects.get(pk=tenant.pk).status == "deleting"
    assert PlatformAuditEvent.objects.filter(
        action="tenant.delete_requested", target_id=str(tenant.pk)
    ).exists()
    client.force_login(owner, host="half-gone.saas.test")
    assert client.get("/dashboard/", HTTP_HOST="half-gone.saas.test").status_code == 404
    monkeypatch.undo()
    services.tenant_delete(tenant=Tenant.objects.get(pk=tenant.pk), by=staff_user)  # running again finishes
    assert not Tenant.objects.filter(pk=tenant.pk).exists()
