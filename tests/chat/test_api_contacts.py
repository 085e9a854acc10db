"""chat.apis_contacts, the workspace API's contacts: the list with the Contacts page's
search and filters and its pages, one contact, corrections through the service, their
conversations; roles, visibility, another workspace's ids, 422 per field, OpenAPI."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from chat.models import AgentProfile, Contact, InboxSettings
from chat.services.contacts import contact_transcript_address
from tests.chat.factories import ContactFactory, ConversationFactory
from tests.chat.test_api import PROBLEM, _client, _errors
from tests.tenants.factories import ApiKeyFactory, MembershipFactory
from tests.widget_builder.factories import WidgetFactory
from widget_builder.models import Widget

pytestmark = pytest.mark.django_db
BASE = "/api/v1/contacts"


def _contact(seeded, *, widget=None, conversations=1, **fields) -> Contact:
    with tenant_context(seeded.tenant):
        widget = widget or Widget.objects.order_by("id").first()
        contact = ContactFactory(widget=widget, **fields)
        for _ in range(conversations):
            ConversationFactory(widget=widget, contact=contact)
        return contact


def _patch(client, path, body):
    return client.patch(path, json.dumps(body), content_type="application/json")


def _ids(client, query="") -> set[str]:
    response = client.get(f"{BASE}?{query}")
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_list_search_and_filters(tenant_a, tenant_b):
    ada = _contact(tenant_a, name="Ada", email="ada@example.com", external_id="u-1", identity_verified=True)
    bob = _contact(tenant_a, name="Bob", phone="+4412345", consent_given_at=timezone.now())
    silent = _contact(tenant_a, conversations=0)  # only opened a widget
    _contact(tenant_b, name="Ada MARKER-B")
    owner = _client(tenant_a, tenant_a.owner)
    listed = _ids(owner)
    assert {str(ada.public_id), str(bob.public_id)} <= listed and str(silent.public_id) not in listed
    assert str(silent.public_id) in _ids(owner, "everyone=true")
    assert _ids(owner, "q=Ada") == {str(ada.public_id)}
    assert _ids(owner, "q=12345") == {str(bob.public_id)}
    assert str(ada.public_id) in _ids(owner, "identified=verified")
    assert str(bob.public_id) not in _ids(owner, "identified=verified")
    assert str(bob.public_id) in _ids(owner, "consent=given")
    assert str(ada.public_id) not in _ids(owner, "consent=given")
    assert str(ada.public_id) in _ids(owner, "has_email=yes")
    assert str(bob.public_id) not in _ids(owner, "has_email=yes")
    today = timezone.now().date()
    assert str(ada.public_id) in _ids(owner, f"date_from={today}&date_to={today}")
    with tenant_context(tenant_a.tenant):
        other_widget = WidgetFactory(name="other")
    elsewhere = _contact(tenant_a, widget=other_widget, name="Cy")
    assert _ids(owner, f"widget={other_widget.pk}") == {str(elsewhere.public_id)}
    assert "MARKER-B" not in owner.get(BASE).content.decode()


def test_list_pages_with_no_gap_or_repeat(tenant_a):
    made = {str(_contact(tenant_a, name=f"Page {n}").public_id) for n in range(5)}
    owner = _client(tenant_a, tenant_a.owner)
    for ordering in ("-created_at", "last_seen_at"):
        seen: list[str] = []
        path = f"{BASE}?q=Page&limit=2&ordering={ordering}"
        for _ in range(10):
            body = owner.get(path).json()
            seen += [row["id"] for row in body["results"]]
            if body["next_cursor"] is None:
                break
            path = f"{BASE}?q=Page&limit=2&ordering={ordering}&cursor={body['next_cursor']}"
        assert len(seen) == len(set(seen)) == 5 and set(seen) == made


def test_bad_filters_are_422_per_field(tenant_a):
    owner = _client(tenant_a, tenant_a.owner)
    query = "consent=maybe&identified=x&has_email=x&widget=x&date_from=x&everyone=x&cursor=zzz&limit=0"
    assert set(_errors(owner.get(f"{BASE}?{query}"))) == {
        "consent",
        "identified",
        "has_email",
        "widget",
        "date_from",
        "everyone",
        "cursor",
        "limit",
    }
    assert set(_errors(owner.get(f"{BASE}?date_from=2026-02-02&date_to=2026-02-01"))) == {"date_to"}


def test_detail_update_and_conversations(tenant_a):
    contact = _contact(tenant_a, name="Ada", email="ada@example.com", conversations=3)
    owner = _client(tenant_a, tenant_a.owner)
    path = f"{BASE}/{contact.public_id}"
    detail = owner.get(path)
    assert detail.status_code == 200 and detail.json()["name"] == "Ada"
    assert detail.json()["created_at"].endswith("Z")
    changed = _patch(owner, path, {"name": "Ada King", "email": "ADA@King.example", "country": "gb"})
    assert changed.status_code == 200, changed.content
    body = changed.json()
    assert (body["name"], body["email"], body["country"]) == ("Ada King", "ada@king.example", "GB")
    with tenant_context(tenant_a.tenant):
        stored = Contact.objects.get(pk=contact.pk)
        assert stored.name == "Ada King" and stored.email_source == Contact.EmailSource.UNSIGNED
        assert contact_transcript_address(stored) == ""  # an address typed in gets no transcripts
    seen: list[int] = []
    page = f"{path}/conversations?limit=2"
    for _ in range(5):
        answer = owner.get(page).json()
        seen += [row["id"] for row in answer["results"]]
        if answer["next_cursor"] is None:
            break
        page = f"{path}/conversations?limit=2&cursor={answer['next_cursor']}"
    assert len(seen) == len(set(seen)) == 3


def test_update_validation_is_422_per_field(tenant_a):
    contact = _contact(tenant_a, name="Ada")
    owner = _client(tenant_a, tenant_a.owner)
    path = f"{BASE}/{contact.public_id}"
    errors = _errors(_patch(owner, path, {"email": "not-an-email", "phone": "call me", "country": "GBR"}))
    assert set(errors) == {"email", "phone", "country"}
    assert _errors(_patch(owner, path, {"name": "x" * 121}))["name"][0]["code"] == "max_length"
    assert "name" in _errors(_patch(owner, path, {}))
    with tenant_context(tenant_a.tenant):
        assert Contact.objects.get(pk=contact.pk).name == "Ada"


def test_another_workspaces_contact_is_404(tenant_a, tenant_b):
    theirs = _contact(tenant_b, name="MARKER-B")
    owner = _client(tenant_a, tenant_a.owner)
    for path in (f"{BASE}/{theirs.public_id}", f"{BASE}/{theirs.public_id}/conversations", f"{BASE}/nope"):
        response = owner.get(path)
        assert response.status_code == 404 and response["Content-Type"] == PROBLEM, path
    assert _patch(owner, f"{BASE}/{theirs.public_id}", {"name": "x"}).status_code == 404
    with tenant_context(tenant_b.tenant):
        assert Contact.objects.get(pk=theirs.pk).name == "MARKER-B"


def test_agents_see_only_their_widgets_contacts_when_the_workspace_says_so(tenant_a):
    with tenant_context(tenant_a.tenant):
        first = Widget.objects.order_by("id").first()
        second = WidgetFactory(name="sales")
    mine = _contact(tenant_a, widget=first, name="Mine")
    hidden = _contact(tenant_a, widget=second, name="Hidden")
    agent = MembershipFactory(tenant=tenant_a.tenant, role="agent").user
    with tenant_context(tenant_a.tenant):
        InboxSettings.objects.update_or_create(defaults={"visibility": InboxSettings.Visibility.WIDGETS})
        AgentProfile.objects.create(user_id=agent.pk).widgets.set([first])
    as_agent = _client(tenant_a, agent)
    listed = _ids(as_agent, "everyone=true")
    assert str(mine.public_id) in listed and str(hidden.public_id) not in listed
    assert as_agent.get(f"{BASE}/{hidden.public_id}").status_code == 404
    assert _patch(as_agent, f"{BASE}/{hidden.public_id}", {"name": "x"}).status_code == 404


@pytest.mark.parametrize(
    "caller", ["owner", "admin", "agent", "key:admin", "key:agent", "stranger", "anonymous"]
)
def test_role_matrix(tenant_a, tenant_b, caller):
    contact = _contact(tenant_a, name="Ada")
    if caller.startswith("key:"):
        client = _client(tenant_a, secret=ApiKeyFactory(tenant=tenant_a.tenant, role=caller[4:]).secret)
    elif caller == "stranger":
        client = _client(tenant_a, tenant_b.owner)
    elif caller == "anonymous":
        client = _client(tenant_a)
    elif caller == "owner":
        client = _client(tenant_a, tenant_a.owner)
    else:
        client = _client(tenant_a, MembershipFactory(tenant=tenant_a.tenant, role=caller).user)
    path = f"{BASE}/{contact.public_id}"
    responses = [
        client.get(BASE),
        client.get(path),
        client.get(path + "/conversations"),
        _patch(client, path, {"name": "Ada B"}),
    ]
    expected = {"anonymous": 401, "stranger": 404}.get(caller, 200)
    for response in responses:
        assert response.status_code == expected, (caller, response.content)
        if expected >= 400:
            assert response["Content-Type"] == PROBLEM


def test_openapi_schema_lists_the_contact_endpoints(tenant_a, tmp_path):
    call_command(
        "spectacular", "--urlconf", "saas.urls_tenant", "--validate", "--fail-on-warn",
        "--file", str(tmp_path / "schema.yml"),
    )  # fmt: skip
    connection.set_schema_to_public()
    schema = _client(tenant_a).get("/api/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert {"get"} <= set(schema["paths"][BASE])
    assert {"get", "patch"} <= set(schema["paths"][BASE + "/{contact_id}"])
    assert "get" in schema["paths"][BASE + "/{contact_id}/conversations"]
    assert schema["paths"][BASE + "/{contact_id}"]["patch"]["operationId"] == "contacts_partial_update"
