"""tenants.services.team, through the team page: invitations (signed, expiring, single
use), roles, removal, the last owner."""

from __future__ import annotations

import re
import time

import pytest
from allauth.account.models import EmailAddress
from django.core import mail, signing
from django.test import Client

from tenants.models import Invitation, Membership, Tenant, User
from tenants.services import team as team_services
from tests.emails import assert_product_email
from tests.hosts import PUBLIC_HOST
from tests.tenants.factories import InvitationFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def seats_for_a_team(tenant_a):
    """These tests build teams: a plan with seats to spare (the seat limit has its own tests)."""
    before = Tenant.objects.get(pk=tenant_a.tenant.pk).plan
    Tenant.objects.filter(pk=tenant_a.tenant.pk).update(plan="business")
    yield
    Tenant.objects.filter(pk=tenant_a.tenant.pk).update(plan=before)


@pytest.fixture
def owner_client(tenant_a):
    client = Client()
    client.force_login(tenant_a.owner, host=tenant_a.host)
    return client


def _team_post(client, tenant, **data):
    return client.post("/dashboard/team/", data, HTTP_HOST=tenant.host)


@pytest.fixture
def invite(django_capture_on_commit_callbacks):
    def send(owner_client, tenant, email="new.agent@example.com", role="agent") -> str:
        # The email leaves after commit: run the request's on-commit callbacks.
        with django_capture_on_commit_callbacks(execute=True):
            response = _team_post(owner_client, tenant, action="invite", email=email, role=role)
        assert response.status_code == 302
        return _link()

    return send


def _link() -> str:
    assert mail.outbox, "no invitation email"
    body = mail.outbox[-1].body
    return re.search(r"https?://saas\.test(/invitations/[^/\s]+/)", body).group(1)


def _member(tenant, email) -> Membership:
    return Membership.objects.get(tenant=tenant.tenant, user__email=email)


def test_invite_then_accept_by_creating_the_account(invite, owner_client, tenant_a):
    link = invite(owner_client, tenant_a)
    assert mail.outbox[-1].to == ["new.agent@example.com"]
    # text and HTML (the layout), both with the link, the workspace and who invited
    assert_product_email(
        mail.outbox[-1], link, tenant_a.tenant.name, tenant_a.owner.email, "Accept the invitation"
    )
    page = owner_client.get("/dashboard/team/", HTTP_HOST=tenant_a.host)
    assert b"new.agent@example.com" in page.content  # pending

    visitor = Client()
    assert b"Choose a password" in visitor.get(link, HTTP_HOST=PUBLIC_HOST).content
    weak = visitor.post(link, {"password": "short"}, HTTP_HOST=PUBLIC_HOST)
    assert weak.status_code == 422 and not User.objects.filter(email="new.agent@example.com").exists()

    response = visitor.post(link, {"password": "a-sturdy-passphrase-7"}, HTTP_HOST=PUBLIC_HOST)
    assert response["Location"] == f"/workspaces/{tenant_a.tenant.slug}/open"
    assert _member(tenant_a, "new.agent@example.com").role == "agent"
    assert EmailAddress.objects.get(email="new.agent@example.com").verified
    # single use
    again = Client().get(link, HTTP_HOST=PUBLIC_HOST)
    assert again.status_code == 410 and b"already been used" in again.content


def test_existing_account_signs_in_then_accepts(invite, owner_client, tenant_a, tenant_b):
    link = invite(owner_client, tenant_a, email=tenant_b.owner.email, role="admin")
    invitee = Client()
    page = invitee.get(link, HTTP_HOST=PUBLIC_HOST)
    assert b"Sign in as" in page.content
    assert invitee.post(link, HTTP_HOST=PUBLIC_HOST)["Location"].startswith(
        "/accounts/login/?next=/invitations/"
    )
    invitee.force_login(tenant_b.owner, host=PUBLIC_HOST)
    response = invitee.post(link, HTTP_HOST=PUBLIC_HOST)
    assert response["Location"] == f"/workspaces/{tenant_a.tenant.slug}/open"
    assert _member(tenant_a, tenant_b.owner.email).role == "admin"


def test_signed_in_as_someone_else_cannot_accept(invite, owner_client, tenant_a, tenant_b):
    link = invite(owner_client, tenant_a)
    other = Client()
    other.force_login(tenant_b.owner, host=PUBLIC_HOST)
    assert other.post(link, HTTP_HOST=PUBLIC_HOST).status_code == 403
    assert not Membership.objects.filter(tenant=tenant_a.tenant, user=tenant_b.owner).exists()
    assert Invitation.objects.get(email="new.agent@example.com").accepted_at is None


def test_tampered_revoked_and_expired_links(invite, owner_client, tenant_a, monkeypatch):
    link = invite(owner_client, tenant_a)
    assert Client().get(link[:-3] + "xx/", HTTP_HOST=PUBLIC_HOST).status_code == 404

    invitation = Invitation.objects.get(email="new.agent@example.com")
    _team_post(owner_client, tenant_a, action="revoke", invitation=invitation.pk)
    assert Client().get(link, HTTP_HOST=PUBLIC_HOST).status_code == 404

    eight_days_ago = time.time() - 8 * 24 * 3600
    monkeypatch.setattr(signing.time, "time", lambda: eight_days_ago)
    fresh = InvitationFactory(tenant=tenant_a.tenant, email="late@example.com", role="agent")
    old_token = team_services.invitation_token(fresh)
    monkeypatch.undo()
    expired = Client().get(f"/invitations/{old_token}/", HTTP_HOST=PUBLIC_HOST)
    assert expired.status_code == 410 and b"expired" in expired.content


def test_inviting_a_member_again_is_a_field_error(owner_client, tenant_a):
    mail.outbox.clear()
    response = _team_post(owner_client, tenant_a, action="invite", email=tenant_a.owner.email, role="admin")
    assert response.status_code == 422 and not mail.outbox
    form = response.context["form"]
    assert form.errors["email"] == ["This person is already a member of the workspace."]
    assert form["email"].value() == tenant_a.owner.email and form["role"].value() == "admin"


def test_last_owner_can_be_neither_demoted_nor_removed(owner_client, tenant_a):
    me = _member(tenant_a, tenant_a.owner.email)
    _team_post(owner_client, tenant_a, action="role", member=me.pk, role="admin")
    assert _member(tenant_a, tenant_a.owner.email).role == "owner"
    page = owner_client.get("/dashboard/team/", HTTP_HOST=tenant_a.host)
    assert b"needs at least one owner" in page.content or b"someone else an owner" in page.content
    _team_post(owner_client, tenant_a, action="remove", member=me.pk)
    assert Membership.objects.filter(pk=me.pk).exists()


def test_admins_cannot_touch_owners_but_manage_others(tenant_a):
    admin = UserFactory(email="admin@example.com")
    agent = UserFactory(email="agent@example.com")
    MembershipFactory(tenant=tenant_a.tenant, user=admin, role="admin")
    agent_m = MembershipFactory(tenant=tenant_a.tenant, user=agent, role="agent")
    client = Client()
    client.force_login(admin, host=tenant_a.host)
    owner_m = _member(tenant_a, tenant_a.owner.email)

    _team_post(client, tenant_a, action="role", member=owner_m.pk, role="agent")
    _team_post(client, tenant_a, action="remove", member=owner_m.pk)
    _team_post(client, tenant_a, action="role", member=agent_m.pk, role="owner")
    _team_post(client, tenant_a, action="invite", email="boss@example.com", role="owner")
    assert _member(tenant_a, tenant_a.owner.email).role == "owner"
    assert _member(tenant_a, "agent@example.com").role == "agent"
    assert not Invitation.objects.filter(email="boss@example.com").exists()

    _team_post(client, tenant_a, action="role", member=agent_m.pk, role="admin")
    assert _member(tenant_a, "agent@example.com").role == "admin"
    _team_post(client, tenant_a, action="remove", member=agent_m.pk)
    assert not Membership.objects.filter(pk=agent_m.pk).exists()


def test_owner_can_hand_over_ownership(owner_client, tenant_a):
    other = UserFactory(email="second@example.com")
    second = MembershipFactory(tenant=tenant_a.tenant, user=other, role="admin")
    _team_post(owner_client, tenant_a, action="role", member=second.pk, role="owner")
    me = _member(tenant_a, tenant_a.owner.email)
    _team_post(owner_client, tenant_a, action="role", member=me.pk, role="admin")
    assert _member(tenant_a, "second@example.com").role == "owner"
    assert _member(tenant_a, tenant_a.owner.email).role == "admin"


def test_agents_cannot_manage_the_team(tenant_a):
    agent = UserFactory(email="agent2@example.com")
    MembershipFactory(tenant=tenant_a.tenant, user=agent, role="agent")
    client = Client()
    client.force_login(agent, host=tenant_a.host)
    owner_m = _member(tenant_a, tenant_a.owner.email)
    assert _team_post(client, tenant_a, action="remove", member=owner_m.pk).status_code == 403
    assert Membership.objects.filter(pk=owner_m.pk).exists()


def test_another_tenants_member_ids_are_not_found(owner_client, tenant_a, tenant_b):
    b_owner = _member(tenant_b, tenant_b.owner.email)
    response = _team_post(owner_client, tenant_a, action="remove", member=b_owner.pk)
    assert response.status_code == 404
    assert Membership.objects.filter(pk=b_owner.pk).exists()
    stranger = Client()
    stranger.force_login(tenant_b.owner, host=tenant_a.host)
    assert stranger.get("/dashboard/team/", HTTP_HOST=tenant_a.host).status_code == 404


def test_bad_ids_in_team_forms_are_404_not_500(owner_client, tenant_a):
    for field, action in (("member", "remove"), ("member", "role"), ("invitation", "revoke")):
        for value in ("abc", "1x", "", "٣", "9" * 40):
            assert _team_post(owner_client, tenant_a, action=action, **{field: value}).status_code == 404


def test_an_admin_cannot_cancel_an_owner_invitation_by_reinviting(invite, owner_client, tenant_a):
    invite(owner_client, tenant_a, email="future.owner@example.com", role="owner")
    admin = UserFactory(email="adm@example.com")
    MembershipFactory(tenant=tenant_a.tenant, user=admin, role="admin")
    client = Client()
    client.force_login(admin, host=tenant_a.host)
    _team_post(client, tenant_a, action="invite", email="future.owner@example.com", role="agent")
    pending = Invitation.objects.get(
        email="future.owner@example.com", accepted_at__isnull=True, revoked_at__isnull=True
    )
    assert pending.role == "owner"
