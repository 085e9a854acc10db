"""Require SSO: a password session (or Google/Microsoft) cannot enter the workspace; the
member is told why and offered "Sign in with SSO"; owners keep their password."""

from __future__ import annotations

import pytest
from django.test import Client, TestCase
from django_tenants.utils import tenant_context

from audit.models import AuditEvent
from tenants.models import LoginHandoff
from tests.hosts import PUBLIC_HOST
from tests.sso.conftest import Flow, configure, handoff_path

pytestmark = pytest.mark.django_db


def _signed_in(user) -> Client:
    client = Client(HTTP_HOST=PUBLIC_HOST)
    client.force_login(user, host=PUBLIC_HOST)
    return client


def test_require_sso_blocks_a_password_session_with_a_way_forward(business, idp, agent):
    configure(business, idp, require_sso=True)
    response = _signed_in(agent).get("/workspaces/tenant-a/open")
    assert response.status_code == 403
    page = response.content.decode()
    assert "requires single sign-on" in page and "Sign in with SSO" in page
    assert 'action="/sso/"' in page and 'value="tenant-a"' in page
    assert not LoginHandoff.objects.exists()


def test_the_owner_keeps_the_password_way_in(business, idp):
    configure(business, idp, require_sso=True)
    response = _signed_in(business.owner).get("/workspaces/tenant-a/open")
    handoff_path(response, business.host)


def test_without_require_sso_passwords_still_work(business, idp, agent):
    configure(business, idp, require_sso=False)
    handoff_path(_signed_in(agent).get("/workspaces/tenant-a/open"), business.host)


def test_the_blocked_member_gets_in_through_sso(business, idp, agent):
    configure(business, idp, require_sso=True)
    client = _signed_in(agent)  # the same browser, signed in with a password
    response = Flow(client).run("tenant-a")
    path = handoff_path(response, business.host)
    assert Client(HTTP_HOST=business.host).get(path)["Location"] == "/dashboard/"


def test_require_sso_lapses_with_a_plan_without_sso(business, idp, agent):
    configure(business, idp, require_sso=True)
    business.tenant.plan = "starter"
    business.tenant.save(update_fields=["plan"])
    handoff_path(_signed_in(agent).get("/workspaces/tenant-a/open"), business.host)


def test_the_workspace_host_sends_the_blocked_member_to_the_explanation(business, idp, agent):
    configure(business, idp, require_sso=True)
    client = _signed_in(agent)
    to_public = Client(HTTP_HOST=business.host).get("/login/")
    assert to_public.status_code == 302 and to_public["Location"].endswith("/workspaces/tenant-a/open")
    assert client.get("/workspaces/tenant-a/open").status_code == 403


def test_turning_require_sso_on_signs_members_out_of_the_workspace_but_not_owners(business, idp, agent):
    configure(business, idp, require_sso=False)
    member_host = Client(HTTP_HOST=business.host)
    member_host.get(handoff_path(_signed_in(agent).get("/workspaces/tenant-a/open"), business.host))
    owner_host = Client(HTTP_HOST=business.host)
    owner_host.get(handoff_path(_signed_in(business.owner).get("/workspaces/tenant-a/open"), business.host))
    assert member_host.get("/dashboard/").status_code == 200

    with TestCase.captureOnCommitCallbacks(execute=True):
        configure(business, idp, require_sso=True)

    assert member_host.get("/dashboard/").status_code == 302  # to sign in again
    assert owner_host.get("/dashboard/").status_code == 200
    with tenant_context(business.tenant):
        event = AuditEvent.objects.order_by("-id").first()
    assert event.action == "sso.settings_changed" and event.metadata["sessions_ended"] == 1
