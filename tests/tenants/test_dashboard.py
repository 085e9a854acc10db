"""tenants.dashboard, the dashboard shell: role matrix over every section, and an onboarding checklist that
ticks itself from the tenant's data."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from chat.models import Conversation
from tenants.dashboard import SECTIONS
from tests.tenants.factories import MembershipFactory, UserFactory
from widget_builder.models import Widget

pytestmark = pytest.mark.django_db


@pytest.fixture
def as_role(tenant_a):
    def make(role: str | None) -> Client:
        client = Client()
        if role is None:
            return client
        if role == "stranger":
            user = UserFactory()
        else:
            user = MembershipFactory(tenant=tenant_a.tenant, role=role).user
        client.force_login(user, host=tenant_a.host)
        return client

    return make


@pytest.mark.parametrize("role", ["owner", "admin", "agent", "stranger", None])
def test_role_matrix_for_every_dashboard_page(as_role, tenant_a, role):
    client = as_role(role)
    pages = [("/dashboard/", {"owner", "admin", "agent"})] + [
        (f"/dashboard/{s.key}/", set(s.roles)) for s in SECTIONS
    ]
    for path, allowed in pages:
        status = client.get(path, HTTP_HOST=tenant_a.host).status_code
        if role is None:
            expected = 302
        elif role == "stranger":
            expected = 404
        else:
            expected = 200 if role in allowed else 403
        assert status == expected, (path, role, status)


def test_agents_do_not_see_billing_team_or_api_in_the_navigation(as_role, tenant_a):
    page = as_role("agent").get("/dashboard/", HTTP_HOST=tenant_a.host).content.decode()
    assert "/dashboard/widgets/" in page
    for hidden in ("/dashboard/billing/", "/dashboard/team/", "/dashboard/api/", "/dashboard/settings/"):
        assert hidden not in page
    owner_page = as_role("owner").get("/dashboard/", HTTP_HOST=tenant_a.host).content.decode()
    assert "/dashboard/billing/" in owner_page and "/dashboard/api/" in owner_page


def test_unknown_section_is_404(as_role, tenant_a):
    assert as_role("owner").get("/dashboard/nope/", HTTP_HOST=tenant_a.host).status_code == 404


def _checklist(client, tenant):
    context = client.get("/dashboard/", HTTP_HOST=tenant.host).context
    return {step.key: done for step, done in context["checklist"]}, context["checklist_done"]


def test_onboarding_checklist_ticks_itself_from_the_data(as_role, tenant_b):
    client = as_role(None)
    client.force_login(tenant_b.owner, host=tenant_b.host)
    steps, done = _checklist(client, tenant_b)
    assert list(steps) == ["customize_widget", "add_knowledge", "copy_snippet", "test_chat"]
    assert steps["test_chat"] is True  # tenant B has conversations
    assert steps["customize_widget"] is False and steps["copy_snippet"] is False

    with tenant_context(tenant_b.tenant):
        Widget.objects.filter(pk=Widget.objects.first().pk).update(
            customized_at=timezone.now(), snippet_copied_at=timezone.now()
        )
    steps, done = _checklist(client, tenant_b)
    assert steps["customize_widget"] and steps["copy_snippet"] and done == 3


def test_a_new_workspace_starts_with_nothing_ticked(client, tenant_a):
    with tenant_context(tenant_a.tenant):
        Conversation.objects.all().delete()
    client.force_login(tenant_a.owner, host=tenant_a.host)
    steps, done = _checklist(client, tenant_a)
    assert done == 0 and not any(steps.values())


def test_a_signed_out_htmx_partial_sends_the_whole_page_to_sign_in(client, tenant_a):
    """A page polling a partial after its session ended: htmx gets HX-Redirect (the whole
    page goes to sign in, and back to that page), not the sign-in page as a fragment."""
    page = f"http://{tenant_a.host}/dashboard/knowledge/1/?tab=files"
    response = client.get(
        "/dashboard/conversations/", HTTP_HOST=tenant_a.host, HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL=page
    )
    assert response.status_code == 204
    assert "next=/dashboard/knowledge/1/%3Ftab%3Dfiles" in response["HX-Redirect"]
    # a plain request is redirected as before
    plain = client.get("/dashboard/conversations/", HTTP_HOST=tenant_a.host)
    assert plain.status_code == 302 and "next=/dashboard/conversations/" in plain["Location"]
    # a header naming another site's address never becomes the way back
    elsewhere = client.get(
        "/dashboard/",
        HTTP_HOST=tenant_a.host,
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL="http://x//evil.test/",
    )
    assert "evil" not in elsewhere["HX-Redirect"]
