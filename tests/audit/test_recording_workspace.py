"""The tenancy layer's changes in the workspace audit log (``tenants.signals`` →
``audit.receivers``): settings, team, API keys, staff support sessions. Each change records
exactly one event in the tenant's schema, with the member, API key or staff member who made
it; a refused change records nothing; secrets never reach the metadata."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from audit.models import AuditEvent
from tenants.models import ApiKey, Invitation, Membership
from tenants.services import support as support_services
from tenants.services import team as team_services
from tests.audit.conftest import key_client, log_of
from tests.tenants.factories import InvitationFactory, MembershipFactory, StaffUserFactory, UserFactory

pytestmark = pytest.mark.django_db
MEMBER = AuditEvent.ActorKind.MEMBER


def test_a_settings_change_names_the_fields_and_their_old_and_new_values(owner_client, tenant_a, log):
    before = tenant_a.tenant.name
    response = owner_client.post(
        "/dashboard/settings/",
        {"name": "Acme Support", "time_zone": "Europe/Berlin", "language": tenant_a.tenant.language},
        REMOTE_ADDR="198.51.100.4",
    )
    assert response.status_code == 302
    event = log.one("workspace.settings_changed")
    assert (event.actor_kind, event.actor_id, event.actor_label) == (
        MEMBER,
        tenant_a.owner.pk,
        tenant_a.owner.email,
    )
    assert event.metadata["changed"] == ["name", "time_zone"]
    assert event.metadata["name"] == {"from": before, "to": "Acme Support"}
    assert event.metadata["time_zone"]["to"] == "Europe/Berlin"
    assert (event.target_type, event.target_id) == ("tenant", str(tenant_a.tenant.pk))
    assert event.ip_address == "198.51.100.4"
    assert len(log.new()) == 1


def test_saving_the_same_settings_records_nothing(owner_client, tenant_a, log):
    t = tenant_a.tenant
    owner_client.post(
        "/dashboard/settings/", {"name": t.name, "time_zone": t.time_zone, "language": t.language}
    )
    assert log.new() == []


def test_the_team_pages_record_invite_revoke_role_and_removal(owner_client, tenant_a, log, seats):
    owner_client.post("/dashboard/team/", {"action": "invite", "email": "new@example.com", "role": "agent"})
    invited = log.one("member.invited")
    assert invited.metadata == {"email": "new@example.com", "role": "agent"}
    assert invited.target_repr == "new@example.com" and invited.actor_id == tenant_a.owner.pk

    invitation = Invitation.objects.get(tenant=tenant_a.tenant, email="new@example.com")
    owner_client.post("/dashboard/team/", {"action": "revoke", "invitation": invitation.pk})
    owner_client.post("/dashboard/team/", {"action": "revoke", "invitation": invitation.pk})  # again: no-op
    assert log.one("member.invitation_revoked").target_id == str(invitation.pk)

    member = MembershipFactory(tenant=tenant_a.tenant, role="agent")
    owner_client.post("/dashboard/team/", {"action": "role", "member": member.pk, "role": "admin"})
    changed = log.one("member.role_changed")
    assert changed.metadata["role"] == {"from": "agent", "to": "admin"}
    assert changed.target_repr == member.user.email

    owner_client.post("/dashboard/team/", {"action": "remove", "member": member.pk})
    removed = log.one("member.removed")
    assert (removed.target_type, removed.target_id, removed.target_repr) == (
        "membership",
        str(member.pk),
        member.user.email,
    )
    assert [e.action for e in log.new()] == [
        "member.invited",
        "member.invitation_revoked",
        "member.role_changed",
        "member.removed",
    ]
    assert {e.actor_kind for e in log.new()} == {MEMBER}


def test_a_refused_change_records_nothing(tenant_a, log):
    owner = Membership.objects.get(tenant=tenant_a.tenant, user=tenant_a.owner)
    client = Client(HTTP_HOST=tenant_a.host)
    client.force_login(tenant_a.owner, host=tenant_a.host)
    # The last owner cannot step down: the change is refused and leaves no event.
    client.post("/dashboard/team/", {"action": "role", "member": owner.pk, "role": "agent"})
    assert log.new() == []


def test_joining_by_invitation_is_recorded_as_the_person_who_joined(tenant_a, log, seats):
    invitation = InvitationFactory(tenant=tenant_a.tenant, email="joiner@example.com", role="agent")
    user = UserFactory(email="joiner@example.com")
    membership = team_services.invitation_accept(invitation=invitation, user=user)
    event = log.one("member.joined")
    assert (event.actor_kind, event.actor_id, event.actor_label) == (MEMBER, user.pk, "joiner@example.com")
    assert (event.target_id, event.metadata["role"]) == (str(membership.pk), "agent")
    assert event.ip_address is None


def test_an_api_key_is_the_actor_of_what_it_changes(tenant_a, admin_key, log):
    member = MembershipFactory(tenant=tenant_a.tenant, role="agent")
    response = key_client(tenant_a, admin_key).patch(
        f"/api/v1/members/{member.pk}", {"role": "admin"}, content_type="application/json"
    )
    assert response.status_code == 200
    event = log.one("member.role_changed")
    assert event.actor_kind == AuditEvent.ActorKind.API_KEY
    assert event.actor_id == admin_key.pk
    assert event.actor_label == f"CI pipeline ({admin_key.prefix})"


def test_api_keys_created_and_revoked_never_carry_the_secret(owner_client, tenant_a, log):
    response = owner_client.post(
        "/api/v1/api-keys", {"name": "Zapier", "role": "agent"}, content_type="application/json"
    )
    secret = response.json()["secret"]
    key = ApiKey.objects.get(pk=response.json()["key"]["id"])
    created = log.one("api_key.created")
    assert created.metadata == {"name": "Zapier", "role": "agent", "prefix": key.prefix}
    assert (created.actor_kind, created.actor_id) == (MEMBER, tenant_a.owner.pk)

    assert owner_client.delete(f"/api/v1/api-keys/{key.pk}").status_code == 204
    revoked = log.one("api_key.revoked")
    assert revoked.target_id == str(key.pk)
    stored = json.dumps([[e.metadata, e.target_repr] for e in log.new()])
    assert secret not in stored and key.key_hash not in stored


def test_a_staff_support_session_is_recorded_with_staff_as_the_actor(tenant_a, log):
    staff = StaffUserFactory(email="helper@example.com")
    grant, token = support_services.support_access_start(
        tenant=tenant_a.tenant, staff_user=staff, reason="Ticket 4711: the widget does not answer"
    )
    event = log.one("support_access.opened")
    assert event.target_id == str(grant.pk)
    assert (event.actor_kind, event.actor_id, event.actor_label) == (
        AuditEvent.ActorKind.STAFF,
        staff.pk,
        "helper@example.com",
    )
    assert event.metadata["reason"] == "Ticket 4711: the widget does not answer"
    assert token not in json.dumps(event.metadata)

    # An owner ends it: recorded as the owner's.
    support_services.support_access_end(grant=grant, by=tenant_a.owner)
    ended = log.one("support_access.ended")
    assert (ended.actor_kind, ended.actor_id, ended.target_repr) == (
        MEMBER,
        tenant_a.owner.pk,
        "helper@example.com",
    )


def test_the_event_lands_in_the_changed_workspace_only(tenant_a, tenant_b, log, seats):
    other = log_of(tenant_b.tenant)
    client = Client(HTTP_HOST=tenant_b.host)
    client.force_login(tenant_b.owner, host=tenant_b.host)
    client.post("/dashboard/team/", {"action": "invite", "email": "b-only@example.com", "role": "agent"})
    assert [e.action for e in other.new()] == ["member.invited"]
    assert log.new() == []
