"""Edge cases around caching, permissions, failures and leftovers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context, schema_exists

from saas import celery as saas_celery
from tenants import services
from tenants.models import Domain, PlatformAuditEvent, Tenant, User, new_schema_name
from tenants.selectors import _cache_keys, tenant_host_cache_forget, tenant_resolve_host
from tenants.services import provisioning
from tenants.services import status as status_services
from tests.conftest import PUBLIC_HOST

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(db) -> User:
    return User.objects.create_user(email="hardening@example.com", password="a-long-password-1")


# --- host cache ---------------------------------------------------------------------------


def test_a_stale_answer_written_after_a_change_is_never_read(tenant_a):
    from django.core.cache import cache

    version_key, entry_key = _cache_keys("host", tenant_a.host)
    assert tenant_resolve_host(tenant_a.host).status == "active"
    # A request read the row (active) just before a suspend committed ...
    version_seen = cache.get(version_key, 0)
    stale = tenant_resolve_host(tenant_a.host)
    Tenant.objects.filter(pk=tenant_a.tenant.pk).update(status="suspended")
    tenant_host_cache_forget(tenant_a.host)
    # ... and writes its stale answer after the invalidation:
    with schema_context("public"):
        cache.set(f"{entry_key}:{version_seen}", stale)
    assert tenant_resolve_host(tenant_a.host).status == "suspended"


def test_removing_a_domain_in_the_admin_stops_it_serving_at_once(staff_client, tenant_a):
    client = Client()
    client.force_login(tenant_a.owner, host=tenant_a.host)
    assert client.get("/dashboard/", HTTP_HOST=tenant_a.host).status_code == 200  # cached
    domain = Domain.objects.get(domain=tenant_a.host)
    response = staff_client.post(f"/admin/tenants/domain/{domain.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert client.get("/dashboard/", HTTP_HOST=tenant_a.host).status_code == 404
    assert PlatformAuditEvent.objects.filter(action="domain.delete", target_id=str(domain.pk)).exists()


def test_renaming_a_domain_in_the_admin_moves_the_workspace(staff_client, tenant_a):
    client = Client()
    client.force_login(tenant_a.owner, host=tenant_a.host)
    assert client.get("/dashboard/", HTTP_HOST=tenant_a.host).status_code == 200
    domain = Domain.objects.get(domain=tenant_a.host)
    assert client.get("/dashboard/", HTTP_HOST="renamed.saas.test").status_code == 404  # cached unknown
    staff_client.post(
        f"/admin/tenants/domain/{domain.pk}/change/",
        {"domain": "renamed.saas.test", "tenant": tenant_a.tenant.pk, "is_primary": "on"},
    )
    assert client.get("/dashboard/", HTTP_HOST=tenant_a.host).status_code == 404
    assert client.get("/dashboard/", HTTP_HOST="renamed.saas.test").status_code == 200


# --- tasks carry the schema of the call, not of the commit ----------------------------------


def test_enqueue_on_commit_sends_the_schema_active_at_the_call(tenant_a, django_capture_on_commit_callbacks):
    sent = []

    class RecordingTask:
        def apply_async(self, *, args, kwargs, headers):
            sent.append(headers["_schema_name"])

    previous = saas_celery.app.conf.task_always_eager
    saas_celery.app.conf.task_always_eager = False
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks, schema_context(tenant_a.schema):
            saas_celery.enqueue_on_commit(RecordingTask())
        assert connection.schema_name == "public"  # the commit happens back in public
        for callback in callbacks:
            callback()
    finally:
        saas_celery.app.conf.task_always_eager = previous
    assert sent == [tenant_a.schema]


# --- permissions and audit -------------------------------------------------------------------


def test_permanent_delete_needs_the_delete_permission_not_just_change(client, owner):
    tenant = services.tenant_provision(slug="keep-me", name="Keep", owner=owner)
    clerk = User.objects.create_user(email="clerk@example.com", password="a-long-password-1", is_staff=True)
    clerk.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["view_tenant", "change_tenant"], content_type__app_label="tenants"
        )
    )
    client.force_login(clerk, host=PUBLIC_HOST)
    page = client.get("/admin/tenants/tenant/", HTTP_HOST=PUBLIC_HOST)
    choices = dict(page.context["action_form"].fields["action"].choices)
    assert "suspend_tenants" in choices and "delete_tenants" not in choices
    client.post(
        "/admin/tenants/tenant/",
        {
            "action": "delete_tenants",
            "_selected_action": [tenant.pk],
            "confirmed": "yes",
            "confirm": "delete",
        },
        HTTP_HOST=PUBLIC_HOST,
    )
    assert Tenant.objects.filter(pk=tenant.pk).exists()


def test_group_changes_are_audited(staff_client, staff_user):
    response = staff_client.post("/admin/auth/group/add/", {"name": "Support", "permissions": []})
    assert response.status_code == 302
    event = PlatformAuditEvent.objects.get(action="group.add")
    assert event.actor_email == staff_user.email and event.target_repr == "Support"


def test_a_delete_that_fails_half_way_stops_serving_and_leaves_a_trace(
    owner, staff_user, client, monkeypatch
):
    tenant = services.tenant_provision(slug="half-gone", name="Half", owner=owner)

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


# --- provisioning leftovers and races ----------------------------------------------------------


def test_a_suspend_during_slow_provisioning_is_not_undone(owner, monkeypatch):
    from tenants.models import SpareSchema

    SpareSchema.objects.all().delete()
    real = provisioning.schema_create_migrated

    def create_then_staff_suspends(*, schema_name):
        real(schema_name=schema_name)
        Tenant.objects.filter(schema_name=schema_name).update(status="suspended")

    monkeypatch.setattr(provisioning, "schema_create_migrated", create_then_staff_suspends)
    tenant = services.tenant_provision(slug="raced", name="Raced", owner=owner)
    assert tenant.status == "suspended"


def test_tenants_stuck_in_provisioning_are_reaped(owner):
    old = Tenant.objects.create(
        schema_name=new_schema_name(),
        slug="stuck-old",
        name="Old",
        status="provisioning",
        created_at=timezone.now() - timedelta(hours=1),
    )
    Domain.objects.create(domain="stuck-old.saas.test", tenant=old, is_primary=True)
    fresh = Tenant.objects.create(
        schema_name=new_schema_name(), slug="stuck-new", name="New", status="provisioning"
    )

    assert services.tenant_provisioning_reap() == 1
    assert not Tenant.objects.filter(pk=old.pk).exists()
    assert Tenant.objects.filter(pk=fresh.pk).exists()
    assert services.tenant_provision(slug="stuck-old", name="Again", owner=owner).status == "active"


def test_migrate_schemas_skips_tenants_whose_schema_does_not_exist_yet(tenant_a):
    Tenant.objects.create(
        schema_name=new_schema_name(), slug="no-schema-yet", name="X", status="provisioning"
    )
    call_command("migrate_schemas", tenant=True, interactive=False, verbosity=0)  # does not raise


def test_ddl_refuses_schema_names_we_did_not_generate():
    for name in ("public", "pg_catalog", 't_aaaaaaaaaaaaaaa"', "t_short", "T_AAAAAAAAAAAAAAAA"):
        with pytest.raises(ValueError, match="refusing"):
            services.schema_drop(schema_name=name)
    assert schema_exists("public")
