"""retention.views: the Data retention page (Settings), owners and admins; the plan's bound
as a form error; the notice after a downgrade."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from audit.models import AuditEvent
from retention.models import PurgeRun, RetentionPolicy
from retention.services import retention_policy_update

from .conftest import plan_set

pytestmark = pytest.mark.django_db
URL = "/dashboard/settings/retention/"


@pytest.mark.parametrize(("role", "status"), [("owner", 200), ("admin", 200), ("agent", 403), (None, 302)])
def test_who_opens_the_page(as_role, role, status):
    assert as_role(role).get(URL).status_code == status


def test_the_settings_page_links_here(owner):
    assert URL in owner.get("/dashboard/settings/").content.decode()


def test_saving_stores_and_audits_the_member(owner, tenant_a):
    with tenant_context(tenant_a.tenant):
        PurgeRun.objects.create(conversations=12, messages=80, attachments=3, contacts=4, status="done")
    page = owner.get(URL).content.decode()
    assert "at most 30 days" in page and "12 conversations, 3 attachments, 4 contacts" in page
    response = owner.post(
        URL, {"conversations_days": "30", "attachments_days": "7", "contacts_days": "14"}, follow=True
    )
    assert response.status_code == 200 and "Retention saved" in response.content.decode()
    with tenant_context(tenant_a.tenant):
        policy = RetentionPolicy.objects.get()
        assert (policy.conversations_days, policy.attachments_days, policy.contacts_days) == (30, 7, 14)
        event = AuditEvent.objects.get(action="retention.updated")
        assert event.actor_id == tenant_a.owner.pk and event.actor_label == tenant_a.owner.email


def test_longer_than_the_plan_is_a_form_error(owner, tenant_a):
    response = owner.post(
        URL, {"conversations_days": "forever", "attachments_days": "365", "contacts_days": "30"}
    )
    assert response.status_code == 422
    page = response.content.decode()
    assert "Retention was not saved" in page
    assert "The Free plan keeps data at most 30 days, not forever." in page
    assert "The Free plan keeps data at most 30 days, not 365 days." in page
    with tenant_context(tenant_a.tenant):
        assert not RetentionPolicy.objects.exists()


def test_a_downgrade_is_said_on_the_page(owner, tenant_a):
    plan_set(tenant_a.tenant, "pro")
    with tenant_context(tenant_a.tenant):
        retention_policy_update(
            tenant=tenant_a.tenant,
            request=None,
            conversations_days=730,
            attachments_days=90,
            contacts_days=30,
        )
    plan_set(tenant_a.tenant, "free")
    page = owner.get(URL).content.decode()
    assert "Your plan keeps data at most 30 days." in page
    assert "conversations and their messages (set to 2 years)" in page
    assert "attachments (set to 90 days)" in page
