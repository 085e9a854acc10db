"""audit.services.audit_record: an event per change, with its actor taken from the request
(a member, an API key) or the system; the table refuses UPDATE, DELETE and TRUNCATE."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django.test import RequestFactory
from django_tenants.utils import tenant_context

from audit.models import AuditEvent
from audit.services import audit_record

pytestmark = pytest.mark.django_db


def test_an_event_names_the_member_the_target_and_the_address(tenant_a):
    request = RequestFactory().post("/", REMOTE_ADDR="203.0.113.9")
    request.user = tenant_a.owner
    with tenant_context(tenant_a.tenant):
        event = audit_record(
            action="widget.updated", request=request, target=tenant_a.tenant, metadata={"k": 1}
        )
    assert event.actor_kind == AuditEvent.ActorKind.MEMBER
    assert event.actor_id == tenant_a.owner.pk
    assert event.actor_label == tenant_a.owner.email
    assert (event.target_type, event.target_id) == ("tenant", str(tenant_a.tenant.pk))
    assert event.ip_address == "203.0.113.9"


def test_without_a_request_the_system_is_the_actor(tenant_a):
    with tenant_context(tenant_a.tenant):
        event = audit_record(action="retention.purged", metadata={"messages": 3})
    assert (event.actor_kind, event.actor_id, event.actor_label) == ("system", None, "")


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_auditevent SET action = 'x'", "DELETE FROM audit_auditevent", "TRUNCATE audit_auditevent"],
)
def test_the_log_is_append_only(tenant_a, statement):
    with tenant_context(tenant_a.tenant):
        audit_record(action="settings.updated")
        refused = pytest.raises(DatabaseError, match="append-only")
        with refused, transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
        assert AuditEvent.objects.filter(action="settings.updated").exists()


def test_a_request_without_an_address_records_none(tenant_a):
    """A peer that is no IP address (a Unix socket, a test client: "unknown" or empty) is
    recorded as no address, never a failed insert."""
    for peer in ("", "unknown"):
        request = RequestFactory().post("/", REMOTE_ADDR=peer)
        request.user = tenant_a.owner
        with tenant_context(tenant_a.tenant):
            event = audit_record(action="conversation.deleted", request=request)
        assert event.ip_address is None and event.actor_id == tenant_a.owner.pk
