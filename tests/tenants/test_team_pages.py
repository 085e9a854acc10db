"""The team and API keys pages: a refusal is shown as an error (on its field, else an error
alert; never a success), the form keeps what was typed; success is a success toast."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client

from billing.quotas import tenant_plan
from tenants.models import ApiKey, Invitation

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(tenant_a) -> Client:
    client = Client()
    client.force_login(tenant_a.owner, host=tenant_a.host)
    return client


def _invite(client, tenant_a, **data):
    return client.post("/dashboard/team/", {"action": "invite", **data}, HTTP_HOST=tenant_a.host)


def test_the_seat_limit_is_an_error_and_the_form_keeps_what_was_typed(owner, tenant_a):
    plan = tenant_plan(tenant_a.tenant)
    assert (plan.code, plan.seats) == ("free", 1)  # the owner takes the only seat
    response = _invite(owner, tenant_a, email="Someone@Example.com", role="admin")
    assert response.status_code == 403
    assert not Invitation.objects.filter(tenant=tenant_a.tenant).exists() and not mail.outbox
    page = response.content.decode()
    alert = page[page.index('id="invite"') :]
    assert '<div class="alert alert-error" role="alert"' in alert
    assert "The Free plan includes 1 team seat." in alert
    assert "alert-success" not in page
    assert 'value="Someone@Example.com"' in alert
    assert '<option value="admin" selected>Admin</option>' in alert


def test_an_invalid_address_is_an_error_on_its_field(owner, tenant_a):
    response = _invite(owner, tenant_a, email="not-an-address", role="agent")
    assert response.status_code == 400
    page = response.content.decode()
    assert 'id="id_email_errors"' in page and "Enter a valid email address." in page
    assert 'value="not-an-address"' in page and 'aria-invalid="true"' in page


def test_a_sent_invitation_is_a_success_toast(owner, tenant_a, django_capture_on_commit_callbacks):
    tenant = tenant_a.tenant
    tenant.plan = "business"
    tenant.save(update_fields=["plan"])
    with django_capture_on_commit_callbacks(execute=True):
        response = _invite(owner, tenant_a, email="new@example.com", role="agent")
    assert response.status_code == 302
    page = owner.get(response["Location"], HTTP_HOST=tenant_a.host).content.decode()
    assert (
        '<div class="alert alert-success" role="status"' in page
        and "Invitation sent to new@example.com." in page
    )
    assert "new@example.com" in page[page.index('id="invitations"') :]  # listed as pending
    assert 'data-confirm="Revoke the invitation to new@example.com?' in page


def test_members_table_with_role_select_and_a_confirmed_remove(owner, tenant_a):
    from tests.tenants.factories import MembershipFactory

    agent = MembershipFactory(tenant=tenant_a.tenant, role="agent").user
    page = owner.get("/dashboard/team/", HTTP_HOST=tenant_a.host).content.decode()
    assert 'class="table-wrap" role="region" aria-label="Members"' in page
    assert '<label class="visually-hidden" for="role-' in page and "Role of " + agent.email in page
    assert f'data-confirm="Remove {agent.email} from' in page
    # the only owner is offered neither a role change nor removal
    assert "Role of " + tenant_a.owner.email not in page and f"Remove {tenant_a.owner.email}" not in page
    assert "The only owner" in page


def test_a_new_key_is_shown_once_with_copy_and_a_warning(owner, tenant_a):
    response = owner.post(
        "/dashboard/api/", {"action": "create", "name": "CRM sync", "role": "agent"}, HTTP_HOST=tenant_a.host
    )
    assert response.status_code == 200
    page = response.content.decode()
    secret = response.context["secret"]
    assert f'<code id="new-secret">{secret}</code>' in page and 'data-copy-target="new-secret"' in page
    assert "it will not be shown again" in page
    assert ApiKey.objects.get(tenant=tenant_a.tenant, name="CRM sync").role == "agent"
    assert 'value="CRM sync"' not in page  # the form is fresh for the next key
    listing = owner.get("/dashboard/api/", HTTP_HOST=tenant_a.host).content.decode()
    assert secret not in listing and "new-secret" not in listing
    assert 'data-confirm="Revoke “CRM sync”?' in listing


def test_a_refused_key_keeps_the_typed_name_with_the_error_on_its_field(owner, tenant_a):
    name = "A name far too long for a key, " + "x" * 60
    response = owner.post(
        "/dashboard/api/", {"action": "create", "name": name, "role": "agent"}, HTTP_HOST=tenant_a.host
    )
    assert response.status_code == 400 and not ApiKey.objects.filter(tenant=tenant_a.tenant).exists()
    page = response.content.decode()
    assert 'id="id_name_errors"' in page and f'value="{name}"' in page
    assert '<option value="agent" selected>Agent</option>' in page
    assert "new-secret" not in page and "alert-success" not in page


def test_a_revoked_key_is_a_success_toast_and_stops_being_listed(owner, tenant_a):
    owner.post(
        "/dashboard/api/", {"action": "create", "name": "Old", "role": "admin"}, HTTP_HOST=tenant_a.host
    )
    key = ApiKey.objects.get(tenant=tenant_a.tenant, name="Old")
    response = owner.post(
        "/dashboard/api/", {"action": "revoke", "key": key.pk}, HTTP_HOST=tenant_a.host, follow=True
    )
    page = response.content.decode()
    assert "alert-success" in page and "revoked" in page
    assert "<strong>Old</strong>" not in page
