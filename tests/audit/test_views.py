"""audit.views: the audit log page under Settings (owners and admins; agents 403), newest
first a page at a time by key, filtered by who, what, category, days of the workspace's
time zone and target; its CSV export is the filtered list; another workspace's events
never show."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from asgiref.sync import async_to_sync
from django.test import Client
from django_tenants.utils import tenant_context

from audit.models import AuditEvent
from saas.csv_stream import BOM
from tenants.models import Tenant
from tests.tenants.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db
PAGE = "/dashboard/settings/audit-log/"
EXPORT = "/dashboard/settings/audit-log/export"
NOON = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def event(**values) -> AuditEvent:
    defaults = {"actor_kind": "member", "actor_id": 1, "actor_label": "ana@example.com", "created_at": NOON}
    return AuditEvent.objects.create(action=values.pop("action", "widget.updated"), **(defaults | values))


def client_as(tenant_a, role: str | None) -> Client:
    client = Client(HTTP_HOST=tenant_a.host)
    if role == "owner":
        client.force_login(tenant_a.owner, host=tenant_a.host)
    elif role == "stranger":
        client.force_login(UserFactory(), host=tenant_a.host)
    elif role is not None:
        client.force_login(MembershipFactory(tenant=tenant_a.tenant, role=role).user, host=tenant_a.host)
    return client


def shown(response) -> list[int]:
    """The events on the page, by id, in order."""
    return [row.event.pk for row in response.context["rows"]]


def csv_rows(response) -> list[list[str]]:
    async def read() -> bytes:
        return b"".join([piece async for piece in response.streaming_content])

    raw = async_to_sync(read)().decode("utf-8")
    assert raw.startswith(BOM)
    return list(csv.reader(io.StringIO(raw[1:])))


@pytest.mark.parametrize(
    ("role", "status"), [("owner", 200), ("admin", 200), ("agent", 403), ("stranger", 404), (None, 302)]
)
def test_owners_and_admins_read_the_log(tenant_a, role, status):
    assert client_as(tenant_a, role).get(PAGE).status_code == status


def test_agents_cannot_export_it_either(tenant_a):
    assert client_as(tenant_a, "agent").post(EXPORT).status_code == 403


def test_the_settings_page_links_to_the_log(tenant_a):
    page = client_as(tenant_a, "owner").get("/dashboard/settings/").content.decode()
    assert f'href="{PAGE}"' in page


def test_each_row_says_when_who_what_target_and_details_in_words(tenant_a):
    Tenant.objects.filter(pk=tenant_a.tenant.pk).update(time_zone="Asia/Tokyo")
    with tenant_context(tenant_a.tenant):
        e = event(
            action="member.role_changed",
            target_type="membership",
            target_id="7",
            target_repr="bo@example.com",
            metadata={"email": "bo@example.com", "role": {"from": "agent", "to": "admin"}},
            ip_address="203.0.113.9",
        )
        event(action="api_key.revoked", actor_kind="api_key", actor_id=3, actor_label="Zapier (sk_abc)")
        event(action="billing.plan_changed", actor_kind="system", actor_id=None, actor_label="")
    response = client_as(tenant_a, "owner").get(PAGE)
    html = response.content.decode()
    row = html[html.index(f'data-event="{e.pk}"') :]
    row = row[: row.index("</tr>")]
    assert "Nov 20, 2026" in row and "21:00:00" in row  # noon UTC in Tokyo
    assert "ana@example.com" in row and "Changed a member&#x27;s role" in row and "Team" in row
    assert "bo@example.com" in row and "agent → admin" in row and "203.0.113.9" in row
    assert "Zapier (sk_abc)" in html and "API key" in html
    assert "System" in html and "Changed the plan" in html
    assert "no-store" in response["Cache-Control"]


def test_newest_first_a_page_at_a_time_by_key(tenant_a):
    with tenant_context(tenant_a.tenant):
        first_new = event(action="widget.created").pk
        made = [first_new] + [event(action="widget.updated", target_id=str(i)).pk for i in range(119)]
        total = AuditEvent.objects.count()
    client = client_as(tenant_a, "owner")
    seen: list[int] = []
    response = client.get(PAGE)
    while True:
        assert len(shown(response)) <= 50
        seen += shown(response)
        before = response.context["next_before"]
        if before is None:
            break
        assert f"before={before}" in response.content.decode()
        # Events recorded between two pages do not shift the next page.
        with tenant_context(tenant_a.tenant):
            event(action="widget.published")
        response = client.get(PAGE, {"before": before})
    assert seen == sorted(seen, reverse=True)
    assert len(seen) == total and len(set(seen)) == len(seen)
    assert set(made) <= set(seen)


def test_filters_by_actor_category_action_target_and_days_of_the_workspace_time_zone(tenant_a):
    Tenant.objects.filter(pk=tenant_a.tenant.pk).update(time_zone="Europe/Berlin")
    with tenant_context(tenant_a.tenant):
        late = event(
            action="widget.deleted", created_at=datetime(2026, 11, 20, 23, 30, tzinfo=UTC)
        )  # 21st in Berlin
        key = event(
            action="webhook_endpoint.created",
            actor_kind="api_key",
            actor_id=42,
            actor_label="CI",
            target_type="endpoint",
            target_repr="https://hooks.example.com/in",
        )
        member = event(
            action="member.invited", target_type="invitation", target_id="9", target_repr="x@example.com"
        )
        other = event(action="retention.purged_something", actor_kind="system", actor_id=None, actor_label="")
    client = client_as(tenant_a, "owner")

    def ids(**query) -> set[int]:
        return set(shown(client.get(PAGE, query))) & {late.pk, key.pk, member.pk, other.pk}

    assert ids(actor="api_key:42") == {key.pk}
    assert ids(actor="system") == {other.pk}
    assert ids(category="team") == {member.pk}
    assert ids(category="other") == {other.pk}  # an action missing from the catalogue
    assert ids(action="widget.deleted") == {late.pk}
    assert ids(date_from="2026-11-21", date_to="2026-11-21") == {late.pk}
    assert ids(date_from="2026-11-20", date_to="2026-11-20") == {key.pk, member.pk, other.pk}
    assert ids(target="hooks.example") == {key.pk}
    assert ids(target="9", target_type="invitation") == {member.pk}
    page = client.get(PAGE, {"actor": "api_key:42"})
    assert page.context["active_filters"] == 1
    # A value the form refuses is ignored, not an error.
    assert client.get(PAGE, {"actor": "nobody", "date_from": "soon"}).status_code == 200


def test_the_csv_export_is_the_filtered_list(tenant_a):
    with tenant_context(tenant_a.tenant):
        for i in range(5):
            event(action="widget.updated", target_type="widget", target_id=str(i), target_repr=f"=Widget {i}")
        event(action="member.invited", metadata={"email": "x@example.com", "role": "agent"})
    client = client_as(tenant_a, "owner")
    listed = client.get(PAGE, {"category": "widgets"})
    response = client.post(f"{EXPORT}?category=widgets")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="audit-log-')
    rows = csv_rows(response)
    assert rows[0][:5] == ["Time", "Actor kind", "Actor", "Action code", "Action"]
    with tenant_context(tenant_a.tenant):
        by_pk = {e.pk: e for e in AuditEvent.objects.filter(pk__in=shown(listed))}
    assert [(r[3], r[7]) for r in rows[1:]] == [
        (by_pk[pk].action, by_pk[pk].target_id) for pk in shown(listed)
    ]
    assert all(r[8].startswith("'=") for r in rows[1:] if "Widget" in r[8])  # no formulas
    # Asking for it is in the log (the file itself lists what was there before).
    with tenant_context(tenant_a.tenant):
        exported = AuditEvent.objects.filter(action="export.requested").latest("pk")
    assert exported.metadata == {
        "kind": "audit_log",
        "filters": {"category": "widgets"},
        "rows": len(rows) - 1,
        "background": False,
    }


def test_another_workspaces_events_never_show(tenant_a, tenant_b):
    with tenant_context(tenant_b.tenant):
        event(action="widget.deleted", target_repr="MARKER-B secret widget")
    client = client_as(tenant_a, "owner")
    assert "MARKER-B" not in client.get(PAGE).content.decode()
    assert not any("MARKER-B" in cell for row in csv_rows(client.post(EXPORT)) for cell in row)


def test_an_empty_filter_result_says_so(tenant_a):
    page = client_as(tenant_a, "owner").get(
        PAGE, {"action": "widget.deleted", "date_from": "2001-01-01", "date_to": "2001-01-02"}
    )
    assert "No event matches" in page.content.decode()


def test_the_actor_filter_offers_recent_actors_and_keeps_the_one_chosen(tenant_a, monkeypatch):
    monkeypatch.setattr("audit.selectors.CHOICES_FROM", 3)
    with tenant_context(tenant_a.tenant):
        old = event(actor_id=900, actor_label="old@example.com")
        for i in range(3):
            event(actor_id=901 + i, actor_label=f"new{i}@example.com")
    client = client_as(tenant_a, "owner")
    offered = dict(client.get(PAGE).context["form"].fields["actor"].choices)
    assert "member:903" in offered and "member:900" not in offered  # only the newest events' actors
    chosen = client.get(PAGE, {"actor": "member:900"})
    assert ("member:900", "old@example.com") in chosen.context["form"].fields["actor"].choices
    assert shown(chosen) == [old.pk]


@pytest.mark.parametrize("events", [1, 60])
def test_the_page_takes_a_fixed_number_of_queries(tenant_a, events, django_assert_num_queries):
    with tenant_context(tenant_a.tenant):
        for i in range(events):
            event(actor_id=i, actor_label=f"m{i}@example.com", target_type="widget", target_id=str(i))
    client = client_as(tenant_a, "owner")
    assert client.get(PAGE).status_code == 200  # the host's tenant is cached
    #  1  SET search_path   2  the session   3  the user   4  the membership
    #  5  the actors of the newest events (the filter)   6  their target types (the filter)
    #  7  the page of events
    #  8  the member's notification preferences   9  the shell's workspaces
    # 10  the navigation's unread badge   11  the shell's plan
    with django_assert_num_queries(11):
        response = client.get(PAGE)
    assert len(response.context["rows"]) >= min(events, 50)
