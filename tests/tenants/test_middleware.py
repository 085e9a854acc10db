"""tenants.middleware: one place resolves the tenant from the host; unknown hosts are 404,
never public."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import async_to_sync
from django.test import Client

from tenants import services
from tenants.models import Tenant
from tests.asgi import connection_kept
from tests.hosts import PUBLIC_HOST
from tests.tenants.factories import MembershipFactory, TenantFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_public_host_serves_the_public_site(client):
    response = client.get("/", HTTP_HOST=PUBLIC_HOST)
    assert response.status_code == 200
    assert b"AI chatbot for your website" in response.content


@pytest.mark.parametrize("host", ["unknown.saas.test", "a.b.saas.test", "tenant-a.saas.test.saas.test"])
def test_unknown_subdomain_is_404_not_the_public_site(client, seeded, host):
    response = client.get("/", HTTP_HOST=host)
    assert response.status_code == 404
    assert b"AI chatbot for your website" not in response.content
    assert b"no workspace at this address" in response.content


def test_unknown_host_api_call_gets_problem_details(client):
    response = client.get("/api/v1/anything", HTTP_HOST="ghost.saas.test")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "not_found"


def test_host_outside_allowed_hosts_is_refused(client):
    response = client.get("/", HTTP_HOST="evil.example.com")
    assert response.status_code == 400


def test_admin_is_not_served_on_tenant_hosts(client, tenant_a):
    assert client.get("/admin/", HTTP_HOST=tenant_a.host).status_code == 404


def test_request_for_tenant_a_reads_only_a_schema(tenant_a, tenant_b):
    # one person who belongs to both workspaces, to rule out membership effects, signed in
    # on each workspace's host (a session is honoured only where it was opened)
    MembershipFactory(tenant=tenant_b.tenant, user=tenant_a.owner, role="admin")
    client_a, client_b = Client(HTTP_HOST=tenant_a.host), Client(HTTP_HOST=tenant_b.host)
    client_a.force_login(tenant_a.owner)
    client_b.force_login(tenant_a.owner)

    page_a = client_a.get("/dashboard/")
    page_b = client_b.get("/dashboard/")

    assert page_a.status_code == page_b.status_code == 200
    assert page_a.context["counts"]["widgets"] == tenant_a.widget_count
    assert page_a.context["counts"]["conversations"] == tenant_a.conversation_count
    assert page_b.context["counts"]["widgets"] == tenant_b.widget_count
    # The page itself (the sidebar's workspace switcher lists both: the user is in both).
    main_a, main_b = (page.content.split(b'<main id="main"')[1] for page in (page_a, page_b))
    assert b"MARKER-A" in main_a and b"MARKER-B" not in main_a
    assert b"MARKER-B" in main_b and b"MARKER-A" not in main_b


def test_request_under_asgi_for_tenant_a_reads_only_a_schema(client, tenant_a, tenant_b):
    from saas.asgi import application

    client.force_login(tenant_a.owner, host=tenant_a.host)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()

    async def get(host: str) -> tuple[int, bytes]:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/dashboard/",
            "raw_path": b"/dashboard/",
            "query_string": b"",
            "headers": [(b"host", host.encode()), (b"cookie", cookie)],
            "client": ("127.0.0.1", 5000),
            "server": ("127.0.0.1", 80),
        }
        sent: list[dict] = []

        pending = [{"type": "http.request", "body": b"", "more_body": False}]

        async def receive():
            if pending:
                return pending.pop()
            await asyncio.Event().wait()  # the client stays connected

        async def send(message):
            sent.append(message)

        async with connection_kept():
            await application(scope, receive, send)
        body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        return sent[0]["status"], body

    status, body = async_to_sync(get)(tenant_a.host)
    assert status == 200
    assert b"MARKER-A Company" in body and b"MARKER-B" not in body
    assert f"<dt>Widgets</dt><dd>{tenant_a.widget_count}</dd>".encode() in body
    # A's session is not honoured on B at all: anonymous there, sent to sign in (before
    # sessions were bound to their workspace it reached B and got 404 as no member of B).
    status, _ = async_to_sync(get)(tenant_b.host)
    assert status == 302


def test_non_member_gets_404_not_403(client, tenant_a, tenant_b):
    client.force_login(tenant_b.owner, host=tenant_a.host)
    response = client.get("/dashboard/", HTTP_HOST=tenant_a.host)
    assert response.status_code == 404
    assert b"MARKER-A" not in response.content


def test_anonymous_visitor_is_sent_to_sign_in_on_the_public_host(client, tenant_a):
    response = client.get("/dashboard/", HTTP_HOST=tenant_a.host)
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/dashboard/"
    response = client.get("/login/", HTTP_HOST=tenant_a.host)
    assert response["Location"] == f"http://saas.test/workspaces/{tenant_a.tenant.slug}/open"


def test_suspended_tenant_answers_a_documented_status_and_keeps_its_data(client, tenant_a, staff_user):
    client.force_login(tenant_a.owner, host=tenant_a.host)
    assert client.get("/dashboard/", HTTP_HOST=tenant_a.host).status_code == 200  # warms the host cache

    services.tenant_suspend(tenant=tenant_a.tenant, by=staff_user, reason="unpaid")

    page = client.get("/dashboard/", HTTP_HOST=tenant_a.host)
    assert page.status_code == 403
    assert b"suspended" in page.content and b"Nothing has been deleted" in page.content
    api = client.get("/api/v1/widgets", HTTP_HOST=tenant_a.host)
    assert api.status_code == 403
    assert api["Content-Type"] == "application/problem+json"
    assert api.json()["code"] == "tenant_suspended"

    services.tenant_reactivate(tenant=tenant_a.tenant, by=staff_user)
    page = client.get("/dashboard/", HTTP_HOST=tenant_a.host)
    assert page.status_code == 200
    assert page.context["counts"]["widgets"] == tenant_a.widget_count
    assert page.context["counts"]["conversations"] == tenant_a.conversation_count


def test_tenant_being_deleted_is_not_found(client, tenant_a):
    Tenant.objects.filter(pk=tenant_a.tenant.pk).update(status=Tenant.Status.DELETING)
    assert client.get("/", HTTP_HOST=tenant_a.host).status_code == 404


def test_tenant_still_provisioning_asks_to_retry(client, tenant_a):
    Tenant.objects.filter(pk=tenant_a.tenant.pk).update(status=Tenant.Status.PROVISIONING)
    response = client.get("/api/v1/x", HTTP_HOST=tenant_a.host)
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json()["code"] == "tenant_provisioning"


def test_host_resolution_is_cached(client, tenant_a, django_assert_num_queries):
    client.get("/", HTTP_HOST=tenant_a.host)
    with django_assert_num_queries(0):
        response = client.get("/", HTTP_HOST=tenant_a.host)
    assert response.status_code == 302


def test_new_tenant_is_reachable_even_after_its_host_was_looked_up(client, seeded):
    assert client.get("/", HTTP_HOST="fresh.saas.test").status_code == 404  # cached as unknown
    owner = UserFactory(email="fresh@example.com", password="a-long-password-1")
    TenantFactory(slug="fresh", name="Fresh", owner=owner)
    assert client.get("/", HTTP_HOST="fresh.saas.test").status_code == 302
