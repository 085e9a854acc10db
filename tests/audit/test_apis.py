"""audit.apis: GET /api/v1/audit-events for owners, admins and admin keys (agents and agent
keys 403), a page at a time by cursor, filtered by action, category, actor, since and
until; a bad parameter is 422 problem details; another workspace's events never show."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from audit.models import AuditEvent
from tests.audit.conftest import key_client
from tests.tenants.factories import ApiKeyFactory, MembershipFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/audit-events"
T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def event(**values) -> AuditEvent:
    defaults = {"actor_kind": "member", "actor_id": 5, "actor_label": "ana@example.com", "created_at": T0}
    return AuditEvent.objects.create(action=values.pop("action", "widget.updated"), **(defaults | values))


def session(tenant_a, role="owner") -> Client:
    client = Client(HTTP_HOST=tenant_a.host)
    user = tenant_a.owner if role == "owner" else MembershipFactory(tenant=tenant_a.tenant, role=role).user
    client.force_login(user, host=tenant_a.host)
    return client


@pytest.mark.parametrize(
    ("caller", "status"),
    [
        ("owner", 200),
        ("admin", 200),
        ("agent", 403),
        ("key:admin", 200),
        ("key:agent", 403),
        ("anonymous", 401),
    ],
)
def test_who_may_read_the_log(tenant_a, caller, status):
    if caller.startswith("key:"):
        client = key_client(tenant_a, ApiKeyFactory(tenant=tenant_a.tenant, role=caller[4:]))
    elif caller == "anonymous":
        client = Client(HTTP_HOST=tenant_a.host)
    else:
        client = session(tenant_a, caller)
    response = client.get(URL)
    assert response.status_code == status
    if status != 200:
        assert response["Content-Type"] == "application/problem+json"


def test_an_event_as_the_api_shows_it(tenant_a):
    with tenant_context(tenant_a.tenant):
        e = event(
            action="member.role_changed",
            target_type="membership",
            target_id="7",
            target_repr="bo@example.com",
            metadata={"role": {"from": "agent", "to": "admin"}},
            created_at=datetime(2030, 1, 1, tzinfo=UTC),
        )
    first = session(tenant_a).get(URL).json()["results"][0]
    assert first == {
        "id": e.pk,
        "created_at": "2030-01-01T00:00:00Z",
        "action": "member.role_changed",
        "action_label": "Changed a member's role",
        "category": "team",
        "actor": {"kind": "member", "id": 5, "name": "ana@example.com", "filter": "member:5"},
        "target": {"type": "membership", "id": "7", "name": "bo@example.com"},
        "metadata": {"role": {"from": "agent", "to": "admin"}},
        "ip_address": None,
    }


def test_pages_by_cursor_newest_first_without_gaps_or_repeats(tenant_a):
    with tenant_context(tenant_a.tenant):
        made = {event(created_at=T0 + timedelta(minutes=i % 7), target_id=str(i)).pk for i in range(23)}
    client, seen, cursor = session(tenant_a), [], None
    query = {"limit": 10, "until": (T0 + timedelta(hours=1)).isoformat(), "since": T0.isoformat()}
    while True:
        page = client.get(URL, {**query, **({"cursor": cursor} if cursor else {})}).json()
        seen += [(r["created_at"], r["id"]) for r in page["results"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert {pk for _, pk in seen} == made and len(seen) == 23
    assert seen == sorted(seen, reverse=True)


def test_filters(tenant_a):
    with tenant_context(tenant_a.tenant):
        invited = event(action="member.invited", created_at=T0 - timedelta(days=1))
        by_key = event(action="api_key.created", actor_kind="api_key", actor_id=9, actor_label="CI")
        by_system = event(action="billing.plan_changed", actor_kind="system", actor_id=None, actor_label="")
    client = session(tenant_a)

    def ids(**query) -> set[int]:
        found = {r["id"] for r in client.get(URL, {"limit": 100, **query}).json()["results"]}
        return found & {invited.pk, by_key.pk, by_system.pk}

    assert ids(action="member.invited") == {invited.pk}
    assert ids(category="billing") == {by_system.pk}
    assert ids(actor="api_key:9") == {by_key.pk}
    assert ids(actor="system") == {by_system.pk}
    assert ids(since=T0.isoformat()) == {by_key.pk, by_system.pk}
    assert ids(until=T0.isoformat()) == {invited.pk}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"actor": "bob"}, "actor"),
        ({"action": "DROP TABLE"}, "action"),
        ({"since": "yesterday"}, "since"),
        ({"since": "2026-11-02T00:00:00Z", "until": "2026-11-01T00:00:00Z"}, "until"),
        ({"category": "nope"}, "category"),
        ({"cursor": "forged"}, "cursor"),
        ({"limit": 1000}, "limit"),
    ],
)
def test_a_bad_parameter_is_422_problem_details(tenant_a, query, field):
    response = session(tenant_a).get(URL, query)
    assert response.status_code == 422 and response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "validation_error" and field in body["errors"]


def test_another_workspaces_events_never_show(tenant_a, tenant_b):
    with tenant_context(tenant_b.tenant):
        theirs = event(target_repr="MARKER-B widget")
    results = session(tenant_a).get(URL, {"limit": 100}).json()["results"]
    assert theirs.pk not in {r["id"] for r in results if r["target"]["name"] == "MARKER-B widget"}
    assert "MARKER-B" not in str(results)


@pytest.mark.parametrize("events", [1, 60])
def test_a_page_takes_a_fixed_number_of_queries(tenant_a, events, django_assert_num_queries):
    with tenant_context(tenant_a.tenant):
        for i in range(events):
            event(target_id=str(i))
    client = session(tenant_a)
    assert client.get(URL).status_code == 200  # the host's tenant is cached
    #  1  SET search_path   2  the session   3  the user   4  the membership   5  the page
    with django_assert_num_queries(5):
        response = client.get(URL)
    assert len(response.json()["results"]) >= min(events, 50)
