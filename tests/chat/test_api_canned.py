"""chat.apis_canned, the tenant REST API for canned replies: list by cursor, create, read,
update, delete through the dashboard's service; roles (every member reads, owners and admins
write), another workspace's ids, problem details, the OpenAPI document."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django_tenants.utils import tenant_context

from chat.models import CannedReply
from tests.tenants.factories import ApiKeyFactory, MembershipFactory

pytestmark = pytest.mark.django_db
PROBLEM = "application/problem+json"
BASE = "/api/v1/canned-replies"


def _client(tenant, user=None, secret=None) -> Client:
    client = Client(HTTP_HOST=tenant.host)
    if user is not None:
        client.force_login(user)
    if secret is not None:
        client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    return client


def _send(client, method, path, body=None):
    return getattr(client, method)(path, json.dumps(body or {}), content_type="application/json")


def _errors(response) -> dict:
    assert response.status_code == 422, response.content
    assert response["Content-Type"] == PROBLEM
    return response.json()["errors"]


def _reply(seeded, shortcut, **fields) -> CannedReply:
    with tenant_context(seeded.tenant):
        return CannedReply.objects.create(
            shortcut=shortcut,
            title=fields.pop("title", shortcut.title()),
            text=fields.pop("text", "Text"),
            **fields,
        )


def test_create_read_update_delete(tenant_a):
    owner = _client(tenant_a, tenant_a.owner)
    created = _send(
        owner, "post", BASE, {"shortcut": "Thanks A Lot", "title": " Thank you ", "text": "Thanks!"}
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["shortcut"] == "thanks-a-lot" and body["title"] == "Thank you"
    assert body["created_by_user_id"] == tenant_a.owner.pk
    path = f"{BASE}/{body['id']}"
    assert owner.get(path).json()["text"] == "Thanks!"
    updated = _send(owner, "patch", path, {"text": "Thank you, {{contact.name}}!"})
    assert updated.status_code == 200 and updated.json()["text"] == "Thank you, {{contact.name}}!"
    assert updated.json()["shortcut"] == "thanks-a-lot"  # left out: kept
    assert owner.delete(path).status_code == 204
    assert owner.get(path).status_code == 404
    with tenant_context(tenant_a.tenant):
        assert not CannedReply.objects.filter(pk=body["id"]).exists()


def test_an_api_key_creates_without_a_person(tenant_a):
    key = ApiKeyFactory(tenant=tenant_a.tenant, role="admin")
    created = _send(
        _client(tenant_a, secret=key.secret), "post", BASE, {"shortcut": "hi", "title": "Hi", "text": "Hi"}
    )
    assert created.status_code == 201 and created.json()["created_by_user_id"] is None


def test_input_is_422_per_field(tenant_a):
    owner = _client(tenant_a, tenant_a.owner)
    _reply(tenant_a, "taken")
    assert {"shortcut", "title", "text"} <= set(_errors(_send(owner, "post", BASE, {})))
    blank = _errors(_send(owner, "post", BASE, {"shortcut": "!!", "title": " ", "text": ""}))
    assert {e[0]["code"] for e in blank.values()} == {"required"} and len(blank) == 3
    long = _send(owner, "post", BASE, {"shortcut": "long", "title": "Long", "text": "x" * 4001})
    assert _errors(long)["text"][0]["code"] == "too_long"
    dup = _send(owner, "post", BASE, {"shortcut": "taken", "title": "Again", "text": "t"})
    assert _errors(dup)["shortcut"][0]["code"] == "taken"
    other = _reply(tenant_a, "other")
    renamed = _send(owner, "patch", f"{BASE}/{other.pk}", {"shortcut": "taken"})
    assert _errors(renamed)["shortcut"][0]["code"] == "taken"
    with tenant_context(tenant_a.tenant):
        assert CannedReply.objects.get(pk=other.pk).shortcut == "other"


def test_list_pages_with_a_cursor(tenant_a):
    made = {_reply(tenant_a, name).pk for name in ("delta", "alpha", "echo", "charlie", "bravo")}
    agent = _client(tenant_a, MembershipFactory(tenant=tenant_a.tenant, role="agent").user)
    for ordering in ("shortcut", "-shortcut", "created_at", "-updated_at"):
        seen: list[int] = []
        path = f"{BASE}?limit=2&ordering={ordering}"
        for _ in range(10):
            body = agent.get(path).json()
            seen += [row["id"] for row in body["results"]]
            if body["next_cursor"] is None:
                break
            path = f"{BASE}?limit=2&ordering={ordering}&cursor={body['next_cursor']}"
        assert len(seen) == len(set(seen)) and set(seen) == made, ordering
    shortcuts = [row["shortcut"] for row in agent.get(BASE).json()["results"]]
    assert shortcuts == ["alpha", "bravo", "charlie", "delta", "echo"]
    assert set(_errors(agent.get(f"{BASE}?ordering=text&limit=500"))) == {"ordering", "limit"}


def test_another_workspaces_reply_is_404(tenant_a, tenant_b):
    with tenant_context(tenant_a.tenant):
        mine = set(CannedReply.objects.values_list("pk", flat=True))
    theirs = _reply(tenant_b, "secret", text="MARKER-B text")
    while theirs.pk in mine:
        theirs = _reply(tenant_b, f"secret{theirs.pk}", text="MARKER-B text")
    owner = _client(tenant_a, tenant_a.owner)
    for response in (
        owner.get(f"{BASE}/{theirs.pk}"),
        _send(owner, "patch", f"{BASE}/{theirs.pk}", {"text": "changed"}),
        owner.delete(f"{BASE}/{theirs.pk}"),
    ):
        assert response.status_code == 404 and "MARKER-B" not in response.content.decode()
    assert "MARKER-B" not in owner.get(BASE).content.decode()
    with tenant_context(tenant_b.tenant):
        assert CannedReply.objects.get(pk=theirs.pk).text == "MARKER-B text"


@pytest.mark.parametrize(
    "caller", ["owner", "admin", "agent", "key:admin", "key:agent", "stranger", "anonymous"]
)
def test_role_matrix(tenant_a, tenant_b, caller):
    reply = _reply(tenant_a, "hello")
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
    reads = [client.get(BASE), client.get(f"{BASE}/{reply.pk}")]
    writes = [
        _send(client, "post", BASE, {"shortcut": "new", "title": "New", "text": "New"}),
        _send(client, "patch", f"{BASE}/{reply.pk}", {"title": "Renamed"}),
        client.delete(f"{BASE}/{reply.pk}"),
    ]
    outsider = {"anonymous": 401, "stranger": 404}.get(caller)
    writer = caller in ("owner", "admin", "key:admin")
    for response in reads:
        assert response.status_code == (outsider or 200), (caller, response.status_code)
    for response in writes:
        if outsider:
            assert response.status_code == outsider
        else:
            assert response.status_code in ({200, 201, 204} if writer else {403}), (
                caller,
                response.status_code,
            )
    for response in reads + writes:
        if response.status_code >= 400:
            assert response["Content-Type"] == PROBLEM
    if not writer:
        with tenant_context(tenant_a.tenant):
            assert CannedReply.objects.get(pk=reply.pk).title == reply.title


def test_openapi_schema_lists_the_canned_reply_endpoints(tenant_a, tmp_path):
    call_command(
        "spectacular",
        "--urlconf",
        "saas.urls_tenant",
        "--validate",
        "--fail-on-warn",
        "--file",
        str(tmp_path / "schema.yml"),
    )
    connection.set_schema_to_public()
    schema = _client(tenant_a).get("/api/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert {"get", "post"} <= set(schema["paths"][BASE])
    assert {"get", "patch", "delete"} <= set(schema["paths"][BASE + "/{reply_id}"])
    assert "examples" in schema["paths"][BASE]["post"]["requestBody"]["content"]["application/json"]
