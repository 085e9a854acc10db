"""Platform staff admin: tenant list with counts, search and filters, confirmed actions,
and the append-only audit log."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from tenants import services
from tenants.models import PlatformAuditEvent, Tenant, User
from tests.conftest import PUBLIC_HOST

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
    owner = User.objects.create_user(email="many@example.com", password="a-long-password-1")
    for i in range(4):
        services.tenant_provision(slug=f"extra-{i}", name=f"Extra {i}", owner=owner)
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
    event = PlatformAuditEvent.objects.get(action="tenant.suspend")
    assert event.actor_id == staff_user.pk and event.actor_email == staff_user.email
    assert event.target_type == "tenant" and event.target_id == str(tenant_a.tenant.pk)
    assert event.metadata["reason"] == "abuse report"
    assert event.ip_address == "127.0.0.1"


def test_reactivate_after_confirmation(staff_client, staff_user, tenant_a):
    services.tenant_suspend(tenant=tenant_a.tenant, by=staff_user)
    _action(staff_client, "reactivate_tenants", tenant_a.tenant, confirmed="yes")
    assert Tenant.objects.get(pk=tenant_a.tenant.pk).status == "active"
    assert PlatformAuditEvent.objects.filter(action="tenant.reactivate").count() == 1


def test_delete_needs_the_word_delete(staff_client, staff_user):
    owner = User.objects.create_user(email="gone@example.com", password="a-long-password-1")
    tenant = services.tenant_provision(slug="gone-co", name="Gone", owner=owner)

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
