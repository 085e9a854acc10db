"""tenants.services.handoffs: moving from the public host to a workspace's with a one-time
token (hashed, short-lived, single use, for one workspace and member only), and signing
out of both. (The workspace picker: tests/public_site/test_views.py.)"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from django.test import Client
from django.utils import timezone

from tenants import services
from tenants.models import LoginHandoff
from tests.hosts import PUBLIC_HOST
from tests.tenants.factories import MembershipFactory

pytestmark = pytest.mark.django_db


def _open(client, slug):
    response = client.get(f"/workspaces/{slug}/open", HTTP_HOST=PUBLIC_HOST)
    assert response.status_code == 302, response.status_code
    url = urlparse(response["Location"])
    return url.netloc, url.path, parse_qs(url.query)["token"][0]


def test_handoff_signs_in_on_the_tenant_host_once(client, tenant_a):
    client.force_login(tenant_a.owner, host=PUBLIC_HOST)
    host, path, token = _open(client, tenant_a.tenant.slug)
    assert (host, path) == (tenant_a.host, "/auth/handoff")
    assert LoginHandoff.objects.filter(token_hash__contains=token).count() == 0  # only the hash is stored

    tenant_client = Client()
    first = tenant_client.get("/auth/handoff", {"token": token}, HTTP_HOST=host)
    assert first.status_code == 302 and first["Location"] == "/dashboard/"
    assert tenant_client.cookies["sessionid"]["domain"] == ""  # host-only
    assert tenant_client.get("/dashboard/", HTTP_HOST=host).status_code == 200

    replay = Client().get("/auth/handoff", {"token": token}, HTTP_HOST=host)
    assert replay.status_code == 400 and b"expired" in replay.content


def test_expired_token_is_refused(client, tenant_a):
    client.force_login(tenant_a.owner, host=PUBLIC_HOST)
    host, _, token = _open(client, tenant_a.tenant.slug)
    LoginHandoff.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert Client().get("/auth/handoff", {"token": token}, HTTP_HOST=host).status_code == 400


def test_token_for_one_workspace_does_nothing_on_another(client, tenant_a, tenant_b):
    MembershipFactory(tenant=tenant_b.tenant, user=tenant_a.owner, role="agent")
    client.force_login(tenant_a.owner, host=PUBLIC_HOST)
    _, _, token = _open(client, tenant_a.tenant.slug)
    other = Client()
    assert other.get("/auth/handoff", {"token": token}, HTTP_HOST=tenant_b.host).status_code == 400
    assert other.get("/dashboard/", HTTP_HOST=tenant_b.host).status_code == 302  # still anonymous


def test_tampered_or_missing_token_is_refused(tenant_a):
    for token in ("", "x" * 43, "../../etc"):
        assert Client().get("/auth/handoff", {"token": token}, HTTP_HOST=tenant_a.host).status_code == 400


def test_removed_member_cannot_spend_a_token(client, tenant_a):
    client.force_login(tenant_a.owner, host=PUBLIC_HOST)
    host, _, token = _open(client, tenant_a.tenant.slug)
    tenant_a.tenant.memberships.all().delete()
    assert Client().get("/auth/handoff", {"token": token}, HTTP_HOST=host).status_code == 400


def test_signing_out_on_the_tenant_host_ends_both_sessions(client, tenant_a):
    client.force_login(tenant_a.owner, host=PUBLIC_HOST)
    host, _, token = _open(client, tenant_a.tenant.slug)
    tenant_client = Client()
    tenant_client.get("/auth/handoff", {"token": token}, HTTP_HOST=host)

    response = tenant_client.post("/logout", HTTP_HOST=host)
    assert response["Location"] == "http://saas.test/"
    assert tenant_client.get("/dashboard/", HTTP_HOST=host).status_code == 302
    assert client.get("/workspaces/", HTTP_HOST=PUBLIC_HOST).status_code == 302  # public session ended too


def test_signing_out_on_the_public_host_ends_the_workspace_session(client, tenant_a):
    client.force_login(tenant_a.owner, host=PUBLIC_HOST)
    host, _, token = _open(client, tenant_a.tenant.slug)
    tenant_client = Client()
    tenant_client.get("/auth/handoff", {"token": token}, HTTP_HOST=host)
    assert tenant_client.get("/dashboard/", HTTP_HOST=host).status_code == 200

    client.post("/accounts/logout/", HTTP_HOST=PUBLIC_HOST)
    assert tenant_client.get("/dashboard/", HTTP_HOST=host).status_code == 302


def test_signing_out_of_the_platform_admin_ends_the_workspace_session_too(tenant_a):
    """Every sign-out path ends the linked sessions, Django admin's included."""
    tenant_a.owner.is_staff = True
    tenant_a.owner.save(update_fields=["is_staff"])
    public = Client()
    public.force_login(tenant_a.owner, host=PUBLIC_HOST)
    host, _, token = _open(public, tenant_a.tenant.slug)
    tenant_client = Client()
    tenant_client.get("/auth/handoff", {"token": token}, HTTP_HOST=host)
    assert tenant_client.get("/dashboard/", HTTP_HOST=host).status_code == 200

    assert public.post("/admin/logout/", HTTP_HOST=PUBLIC_HOST).status_code == 200
    assert tenant_client.get("/dashboard/", HTTP_HOST=host).status_code == 302


def test_a_handoff_not_spent_before_sign_out_opens_nothing(client, tenant_a):
    client.force_login(tenant_a.owner, host=PUBLIC_HOST)
    host, _, token = _open(client, tenant_a.tenant.slug)
    client.post("/accounts/logout/", HTTP_HOST=PUBLIC_HOST)
    response = Client().get("/auth/handoff", {"token": token}, HTTP_HOST=host)
    assert response.status_code == 400


def test_concurrent_spend_succeeds_once(tenant_a):
    token = services.login_handoff_create(user=tenant_a.owner, tenant=tenant_a.tenant, public_session_key="k")
    results = [services.login_handoff_consume(token=token, tenant=tenant_a.tenant) for _ in range(3)]
    assert sum(r is not None for r in results) == 1


def test_housekeeping_purges_only_unusable_handoffs(tenant_a, settings):
    from tenants.tasks import tenants_housekeeping

    fresh = services.login_handoff_create(user=tenant_a.owner, tenant=tenant_a.tenant, public_session_key="a")
    stale = services.login_handoff_create(user=tenant_a.owner, tenant=tenant_a.tenant, public_session_key="b")
    LoginHandoff.objects.filter(public_session_key="b").update(expires_at=timezone.now() - timedelta(hours=2))
    spent_long_ago = services.login_handoff_create(
        user=tenant_a.owner, tenant=tenant_a.tenant, public_session_key="c"
    )
    services.login_handoff_consume(token=spent_long_ago, tenant=tenant_a.tenant)
    LoginHandoff.objects.filter(public_session_key="c").update(
        used_at=timezone.now() - timedelta(seconds=settings.SESSION_COOKIE_AGE + 60)
    )
    assert tenants_housekeeping.apply().get()["purged_handoffs"] == 2
    assert list(LoginHandoff.objects.values_list("public_session_key", flat=True)) == ["a"]
    assert fresh and stale
