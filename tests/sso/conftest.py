"""Single sign-on tests: a fake OpenID Connect provider (tests/fakes/oidc_provider.py) per
session, another one for "a different workspace's provider", both let through the
outbound allow-list; tenant A moved to a plan with single sign-on (rolled back per test)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
import requests
from django.test import Client
from django_tenants.utils import tenant_context

from sso import services
from tests.fakes.oidc_provider import FakeOIDCProvider
from tests.hosts import PUBLIC_HOST
from tests.tenants.factories import MembershipFactory


@pytest.fixture(scope="session")
def _idp_server():
    with FakeOIDCProvider(client_id="tenant-a-client", client_secret="tenant-a-secret-123") as server:
        yield server


@pytest.fixture(scope="session")
def _other_idp_server():
    with FakeOIDCProvider(client_id="tenant-b-client", client_secret="tenant-b-secret-456") as server:
        yield server


@pytest.fixture
def idp(_idp_server, _other_idp_server, settings):
    settings.SSO_PRIVATE_ALLOWLIST = [_idp_server.address, _other_idp_server.address]
    _idp_server.reset()
    yield _idp_server
    _idp_server.reset()


@pytest.fixture
def other_idp(idp, _other_idp_server):
    _other_idp_server.reset()
    return _other_idp_server


@pytest.fixture
def business(tenant_a):
    """Tenant A on the Business plan (single sign-on included)."""
    tenant_a.tenant.plan = "business"
    tenant_a.tenant.save(update_fields=["plan"])
    return tenant_a


def configure(seeded_tenant, idp, **overrides):
    values = {
        "issuer": idp.issuer,
        "client_id": idp.client_id,
        "client_secret": idp.client_secret,
        "allowed_domains": [],
        "require_sso": False,
        "enabled": True,
        **overrides,
    }
    with tenant_context(seeded_tenant.tenant):
        return services.identity_provider_save(tenant=seeded_tenant.tenant, request=None, **values)


@pytest.fixture
def configured(business, idp):
    return configure(business, idp)


@pytest.fixture
def agent(business):
    membership = MembershipFactory(tenant=business.tenant, role="agent")
    membership.user.email = "member@example.com"
    membership.user.save(update_fields=["email"])
    return membership.user


class Flow:
    """One browser going through "Sign in with SSO": the public host's client, the provider
    (called over HTTP like a browser would), back to the callback."""

    def __init__(self, client: Client | None = None) -> None:
        self.client = client or Client(HTTP_HOST=PUBLIC_HOST)

    def start(self, address: str):
        response = self.client.post("/sso/", {"address": address})
        assert response.status_code == 302, response.content[:500]
        return response["Location"]

    def at_provider(self, authorize_url: str) -> str:
        answer = requests.get(authorize_url, allow_redirects=False, timeout=5)
        assert answer.status_code == 302, answer.text
        return answer.headers["location"]

    def back(self, callback_url: str):
        parts = urlsplit(callback_url)
        assert parts.path == "/sso/callback"
        return self.client.get(f"{parts.path}?{parts.query}", HTTP_HOST=parts.netloc)

    def run(self, address: str):
        return self.back(self.at_provider(self.start(address)))


def handoff_path(response, host: str) -> str:
    assert response.status_code == 302, response.content[:500]
    match = re.match(rf"https?://{re.escape(host)}(/auth/handoff\?token=.+)$", response["Location"])
    assert match, response["Location"]
    return match.group(1)
