"""tenants.apis, the tenant REST API: session and API-key auth, scoping to the host's
tenant, role matrix, problem details, OpenAPI schema."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client

from tenants.models import ApiKey, Membership, User
from tenants.services import api_keys as key_services
from tests.tenants.factories import ApiKeyFactory, MembershipFactory

pytestmark = pytest.mark.django_db
PROBLEM = "application/problem+json"


def _client(tenant, user=None, secret=None) -> Client:
    client = Client(HTTP_HOST=tenant.host)
    if user is not None:
        client.force_login(user)
    if secret is not None:
        client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    return client


def _member(tenant, role) -> User:
    return MembershipFactory(tenant=tenant.tenant, role=role).user


def _key(tenant, role="admin") -> str:
    return ApiKeyFactory(tenant=tenant.tenant, name="ci", role=role).secret


def test_current_tenant_by_session(tenant_a):
    response = _client(tenant_a, tenant_a.owner).get("/api/v1/tenant")
    assert response.status_code == 200
    assert response.json()["slug"] == tenant_a.tenant.slug
    assert "schema" not in json.dumps(response.json())


def test_api_key_lifecycle(tenant_a):
    owner = _client(tenant_a, tenant_a.owner)
    created = owner.post(
        "/api/v1/api-keys", {"name": "Zapier", "role": "agent"}, content_type="application/json"
    )
    assert created.status_code == 201
    secret = created.json()["secret"]
    assert secret.startswith("sk_") and created.json()["key"]["prefix"] == secret[:10]
    key = ApiKey.objects.get(pk=created.json()["key"]["id"])
    assert key.key_hash != secret and secret not in key.key_hash  # stored hashed
    assert "secret" not in json.dumps(owner.get("/api/v1/api-keys").json())

    by_key = _client(tenant_a, secret=secret)
    assert by_key.get("/api/v1/members").status_code == 200
    key.refresh_from_db()
    assert key.last_used_at is not None

    assert owner.delete(f"/api/v1/api-keys/{key.pk}").status_code == 204
    refused = by_key.get("/api/v1/members")
    assert refused.status_code == 401 and refused["Content-Type"] == PROBLEM
    assert refused.json()["code"] == "not_authenticated"


def test_keys_of_one_tenant_do_nothing_on_another(tenant_a, tenant_b):
    secret = _key(tenant_a)
    response = _client(tenant_b, secret=secret).get("/api/v1/members")
    assert response.status_code == 401
    assert (
        "MARKER-B" not in response.content.decode() and tenant_b.owner.email not in response.content.decode()
    )


def test_sessions_of_one_tenant_get_404_on_another(tenant_a, tenant_b):
    client = _client(tenant_b, tenant_a.owner)
    for path in ("/api/v1/tenant", "/api/v1/members", "/api/v1/api-keys"):
        response = client.get(path)
        assert response.status_code == 404 and response.json()["code"] == "not_found", path


def test_another_tenants_ids_are_404(tenant_a, tenant_b):
    b_member = Membership.objects.get(tenant=tenant_b.tenant, role="owner")
    owner = _client(tenant_a, tenant_a.owner)
    assert owner.delete(f"/api/v1/members/{b_member.pk}").status_code == 404
    b_key = ApiKey.objects.get(key_hash=key_services.api_key_hash(_key(tenant_b)))
    assert owner.delete(f"/api/v1/api-keys/{b_key.pk}").status_code == 404
    assert Membership.objects.filter(pk=b_member.pk).exists() and ApiKey.objects.get(pk=b_key.pk).is_active


def test_keys_in_query_strings_are_refused(tenant_a):
    secret = _key(tenant_a)
    for client in (_client(tenant_a), _client(tenant_a, secret=secret)):
        response = client.get(f"/api/v1/members?api_key={secret}")
        assert response.status_code == 401 and response.json()["code"] == "api_key_in_url"


def test_malformed_authorization_headers(tenant_a):
    for header in ("Bearer", "Basic Zm9vOmJhcg==", "Bearer not-a-key", "Bearer sk_wrong"):
        response = Client(HTTP_HOST=tenant_a.host, HTTP_AUTHORIZATION=header).get("/api/v1/members")
        assert response.status_code == 401 and response["Content-Type"] == PROBLEM, header


# (method, path, body, roles allowed, whether API keys may call it at all)
ENDPOINTS = [
    ("get", "/api/v1/tenant", None, {"owner", "admin", "agent"}, True),
    ("get", "/api/v1/members", None, {"owner", "admin", "agent"}, True),
    ("patch", "/api/v1/members/{agent_id}", {"role": "agent"}, {"owner", "admin"}, True),
    ("get", "/api/v1/api-keys", None, {"owner", "admin"}, True),
    ("post", "/api/v1/api-keys", {"name": "k"}, {"owner", "admin"}, False),
    ("delete", "/api/v1/api-keys/{key_id}", None, {"owner", "admin"}, False),
    ("delete", "/api/v1/members/{agent_id}", None, {"owner", "admin"}, True),
]


@pytest.mark.parametrize(
    "caller", ["owner", "admin", "agent", "key:admin", "key:agent", "stranger", "anonymous"]
)
def test_role_matrix_for_every_api_endpoint(tenant_a, tenant_b, caller):
    for method, path, body, allowed, keys_allowed in ENDPOINTS:
        target_agent = _member(tenant_a, "agent")
        target_key = ApiKey.objects.get(key_hash=key_services.api_key_hash(_key(tenant_a)))
        if caller.startswith("key:"):
            client, role = _client(tenant_a, secret=_key(tenant_a, caller[4:])), caller[4:]
        elif caller == "stranger":
            client, role = _client(tenant_a, tenant_b.owner), None
        elif caller == "anonymous":
            client, role = _client(tenant_a), None
        else:
            client, role = (
                _client(tenant_a, tenant_a.owner if caller == "owner" else _member(tenant_a, caller)),
                caller,
            )
        url = path.format(agent_id=Membership.objects.get(user=target_agent).pk, key_id=target_key.pk)
        kwargs = {"data": json.dumps(body), "content_type": "application/json"} if body else {}
        status = getattr(client, method)(url, **kwargs).status_code
        if caller == "anonymous":
            expected = {401}
        elif caller == "stranger":
            expected = {404}
        elif caller.startswith("key:") and not keys_allowed:
            expected = {403}  # a leaked key cannot mint or revoke keys
        else:
            expected = {200, 201, 204} if role in allowed else {403}
        assert status in expected, (caller, method, path, status)


def test_last_owner_and_bad_input_are_problem_details(tenant_a):
    owner = _client(tenant_a, tenant_a.owner)
    me = Membership.objects.get(tenant=tenant_a.tenant, user=tenant_a.owner)
    demote = owner.patch(f"/api/v1/members/{me.pk}", {"role": "agent"}, content_type="application/json")
    assert demote.status_code == 409 and demote.json()["code"] == "last_owner"
    bad = owner.patch(f"/api/v1/members/{me.pk}", {"role": "emperor"}, content_type="application/json")
    assert bad.status_code == 422 and bad.json()["errors"]["role"][0]["code"] == "invalid_choice"
    garbage = owner.post("/api/v1/api-keys", "{not json", content_type="application/json")
    assert garbage.status_code == 400 and garbage.json()["code"] == "parse_error"
    assert Membership.objects.get(pk=me.pk).role == "owner"


def test_writable_input_cannot_choose_the_tenant(tenant_a, tenant_b):
    owner = _client(tenant_a, tenant_a.owner)
    body = {"name": "sneaky", "tenant": tenant_b.tenant.pk, "tenant_id": tenant_b.tenant.pk}
    created = owner.post("/api/v1/api-keys", body, content_type="application/json")
    assert created.status_code == 201
    assert ApiKey.objects.get(pk=created.json()["key"]["id"]).tenant_id == tenant_a.tenant.pk


def test_session_writes_need_csrf(tenant_a):
    client = Client(HTTP_HOST=tenant_a.host, enforce_csrf_checks=True)
    client.force_login(tenant_a.owner)
    response = client.post("/api/v1/api-keys", {"name": "x"}, content_type="application/json")
    assert response.status_code == 403 and response["Content-Type"] == PROBLEM


def test_openapi_schema_validates_and_lists_every_endpoint(tenant_a, tmp_path):
    out = tmp_path / "schema.yml"
    call_command(
        "spectacular", "--urlconf", "saas.urls_tenant", "--validate", "--fail-on-warn", "--file", str(out)
    )
    connection.set_schema_to_public()
    schema = _client(tenant_a).get("/api/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    for _, path, _, _, _ in ENDPOINTS:
        assert path.replace("{agent_id}", "{member_id}") in schema["paths"], path
    assert "apiKey" in schema["components"]["securitySchemes"]
    docs = _client(tenant_a).get("/api/docs/")
    assert docs.status_code == 200
    assert b"/static/drf_spectacular_sidecar/" in docs.content and b"cdn" not in docs.content.lower()


def test_dashboard_shows_a_new_key_once(tenant_a):
    owner = _client(tenant_a, tenant_a.owner)
    page = owner.post("/dashboard/api/", {"action": "create", "name": "CRM", "role": "admin"})
    assert page.status_code == 200 and page["Cache-Control"] == "no-store"
    secret = page.context["secret"]
    assert secret.startswith("sk_") and secret.encode() in page.content
    again = owner.get("/dashboard/api/")
    assert secret.encode() not in again.content and secret[:10].encode() in again.content


def test_methods_a_view_lacks_are_405_not_403(tenant_a):
    owner = _client(tenant_a, tenant_a.owner)
    response = owner.put("/api/v1/tenant", {}, content_type="application/json")
    assert response.status_code == 405 and response.json()["code"] == "method_not_allowed"


def test_innocent_query_values_are_not_mistaken_for_keys(tenant_a):
    owner = _client(tenant_a, tenant_a.owner)
    assert owner.get("/api/v1/members?q=task_done&level=risk_sk").status_code == 200
    secret = _key(tenant_a)
    refused = owner.get(f"/api/v1/members?x=1&x={secret}")
    assert refused.status_code == 401 and refused.json()["code"] == "api_key_in_url"


def test_members_and_keys_are_listed_a_page_at_a_time(tenant_a):
    for _ in range(4):
        MembershipFactory(tenant=tenant_a.tenant, role="agent")
    owner = _client(tenant_a, user=tenant_a.owner)
    seen, cursor = [], None
    while True:
        page = owner.get("/api/v1/members", {"limit": 2, **({"cursor": cursor} if cursor else {})}).json()
        seen += [m["id"] for m in page["results"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 5
    keys = owner.get("/api/v1/api-keys", {"ordering": "-created_at"})
    assert keys.status_code == 200 and keys.json()["next_cursor"] is None
    assert owner.get("/api/v1/members", {"limit": 500}).status_code == 422
