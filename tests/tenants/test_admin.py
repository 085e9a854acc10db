"""tenants.admin, the platform staff admin: tenant list with counts, search and filters,
confirmed actions (a permanent delete needs the delete permission), domains removed or
renamed at once, and the append-only audit log of every change."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.db import DatabaseError, connection, transaction
from django.test import Client

from tenants import services
from tenants.models import Domain, PlatformAuditEvent, Tenant
from tests.hosts import PUBLIC_HOST
from tests.tenants.factories import TenantFactory, UserFactory

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/tenants/tenant/"


def test_changelist_shows_status_plan_domain_and_counts_read_through_each_schema(
    staff_client, tenant_a, tenant_b
):
    response = staff_client.get(CHANGELIST)
    assert response.status_code == 200
    rows = {t.pk: t for t in response.context["cl"].result_list}
    assert rows[tenant_a.tenant.pk].usage_counts == {
        "members": 1,
        "widgets": tenant_a.widget_count,
        "conversations": tenant_a.conversation_count,
    }
    assert rows[tenant_b.tenant.pk].usage_counts == {
        "members": 1,
        "widgets": tenant_b.widget_count,
        "conversations": tenant_b.conversation_count,
    }
    html = response.content.decode()
    assert tenant_a.host in html and tenant_b.host in html
    assert "Active" in html and "free" in html.lower()


def test_changelist_query_count_does_not_grow_with_tenants(staff_client, seeded):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert staff_client.get(CHANGELIST).status_code == 200
        return len(queries)

    before = count()
    owner = UserFactory(email="many@example.com")
    for i in range(4):
        TenantFactory(slug=f"extra-{i}", name=f"Extra {i}", owner=owner)
    assert count() == before


def test_search_and_filters(staff_client, tenant_a, tenant_b, staff_user):
    found = staff_client.get(CHANGELIST, {"q": "tenant-b"}).context["cl"].result_list
    assert [t.pk for t in found] == [tenant_b.tenant.pk]
    found = staff_client.get(CHANGELIST, {"q": tenant_a.owner.email}).context["cl"].result_list
    assert [t.pk for t in found] == [tenant_a.tenant.pk]
    services.tenant_suspend(tenant=tenant_a.tenant, by=staff_user)
    found = staff_client.get(CHANGELIST, {"status__exact": "suspended"}).context["cl"].result_list
    assert [t.pk for t in found] == [tenant_a.tenant.pk]


def _action(client, action, tenant, **extra):
    return client.post(CHANGELIST, {"action": action, "_selected_action": [tenant.pk], **extra})


def test_suspend_asks_for_confirmation_then_suspends_and_audits(staff_client, staff_user, tenant_a):
    page = _action(staff_client, "suspend_tenants", tenant_a.tenant)
    assert page.status_code == 200
    assert b"Suspend workspaces" in page.content
    assert Tenant.objects.get(pk=tenant_a.tenant.pk).status == "active"  # nothing yet

    done = _action(staff_client, "suspend_tenants", tenant_a.tenant, confirmed="yes", reason="abuse report")
    assert done.status_code == 302
    assert Tenant.objects.get(pk=tenant_a.tenant.pk).status == "suspended"
    event = PlatformAuditEvent.objects.get(action="tenant.suspend", target_id=str(tenant_a.tenant.pk))
    assert event.actor_id == staff_user.pk and event.actor_email == staff_user.email
    assert event.target_type == "tenant" and event.target_id == str(tenant_a.tenant.pk)
    assert event.metadata["reason"] == "abuse report"
    assert event.ip_address == "127.0.0.1"


def test_reactivate_after_confirmation(staff_client, staff_user, tenant_a):
    services.tenant_suspend(tenant=tenant_a.tenant, by=staff_user)
    _action(staff_client, "reactivate_tenants", tenant_a.tenant, confirmed="yes")
    assert Tenant.objects.get(pk=tenant_a.tenant.pk).status == "active"
    assert (
        PlatformAuditEvent.objects.filter(
            action="tenant.reactivate", target_id=str(tenant_a.tenant.pk)
        ).count()
        == 1
    )


def test_delete_needs_the_word_delete(staff_client, staff_user):
    tenant = TenantFactory(slug="gone-co", name="Gone")

    page = _action(staff_client, "delete_tenants", tenant, confirmed="yes", confirm="yes please")
    assert page.status_code == 200 and b"Type" in page.content
    assert Tenant.objects.filter(pk=tenant.pk).exists()

    _action(staff_client, "delete_tenants", tenant, confirmed="yes", confirm="delete")
    assert not Tenant.objects.filter(pk=tenant.pk).exists()
    assert PlatformAuditEvent.objects.filter(action="tenant.delete", target_id=str(tenant.pk)).exists()


def test_stock_bulk_delete_is_not_offered(staff_client, tenant_a):
    response = staff_client.get(CHANGELIST)
    assert "delete_selected" not in response.context["action_form"].fields["action"].choices.__repr__()


def test_plain_admin_edits_are_audited_too(staff_client, staff_user, tenant_a):
    response = staff_client.post(
        f"/admin/tenants/user/{tenant_a.owner.pk}/change/",
        {
            "email": tenant_a.owner.email,
            "first_name": "Renamed",
            "last_name": "",
            "is_active": "on",
            "last_login_0": "",
            "last_login_1": "",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    event = PlatformAuditEvent.objects.get(action="user.change")
    assert event.target_id == str(tenant_a.owner.pk) and event.actor_email == staff_user.email


def test_audit_log_is_append_only_in_the_database(staff_user):
    event = services.audit_event_record(actor=staff_user, action="test.event", target_type="x", target_id="1")
    for statement in (
        "UPDATE tenants_platformauditevent SET action = 'rewritten' WHERE id = %s",
        "DELETE FROM tenants_platformauditevent WHERE id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as c,
        ):
            c.execute(statement, [event.pk])
    assert PlatformAuditEvent.objects.get(pk=event.pk).action == "test.event"


def test_audit_log_admin_is_read_only(staff_client, staff_user):
    event = services.audit_event_record(actor=staff_user, action="test.event", target_type="x", target_id="1")
    assert staff_client.get("/admin/tenants/platformauditevent/").status_code == 200
    assert staff_client.get("/admin/tenants/platformauditevent/add/").status_code == 403
    assert staff_client.post(f"/admin/tenants/platformauditevent/{event.pk}/delete/").status_code == 403


def test_admin_is_for_staff_only(client, tenant_a):
    client.force_login(tenant_a.owner, host=PUBLIC_HOST)
    response = client.get(CHANGELIST, HTTP_HOST=PUBLIC_HOST)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


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


def test_permanent_delete_needs_the_delete_permission_not_just_change(client):
    tenant = TenantFactory(slug="keep-me", name="Keep")
    clerk = UserFactory(email="clerk@example.com", is_staff=True)
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


def test_the_admin_login_form_is_rate_limited_like_sign_in(db):
    """Django's own admin login would otherwise let staff passwords be guessed at speed."""
    UserFactory(email="staffer@example.com", is_staff=True, password="right-password-1")
    client = Client()
    answers = [
        client.post(
            "/admin/login/",
            {"username": "staffer@example.com", "password": f"wrong-{n}"},
            HTTP_HOST=PUBLIC_HOST,
        ).status_code
        for n in range(6)
    ]
    assert answers == [200] * 5 + [429]
    refused = client.post(
        "/admin/login/",
        {"username": "staffer@example.com", "password": "right-password-1"},
        HTTP_HOST=PUBLIC_HOST,
    )
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    # Another address typed is counted apart (until the per-address limit of the client).
    other = client.post(
        "/admin/login/", {"username": "x@example.com", "password": "y"}, HTTP_HOST=PUBLIC_HOST
    )
    assert other.status_code == 200
