"""A session is honoured only on the workspace (or the public site) it was opened for.

Sessions live in the public schema and the test client keeps one cookie jar for every host,
so sending a session's cookie to another host is one request away here, as it is for anyone
who copies a cookie by hand.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qs, urlparse

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client

from tenants.models import LoginHandoff
from tenants.sessions import SESSION_TENANT_KEY
from tests.hosts import PUBLIC_HOST
from tests.tenants.factories import DomainFactory, EmailAddressFactory, MembershipFactory

pytestmark = pytest.mark.django_db

REFUSED = "session refused"


@pytest.fixture
def member_of_both(tenant_a, tenant_b):
    """Tenant A's owner, also an admin of B."""
    MembershipFactory(tenant=tenant_b.tenant, user=tenant_a.owner, role="admin")
    return tenant_a.owner


def _session_cookie(client: Client) -> str:
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def _carrying(cookie: str, host: str) -> Client:
    """A client on ``host`` that presents another host's session cookie."""
    client = Client(HTTP_HOST=host)
    client.cookies[settings.SESSION_COOKIE_NAME] = cookie
    return client


def _refusals(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "tenants.sessions" and REFUSED in r.getMessage()]


@pytest.mark.parametrize("direction", ["a->b", "b->a"])
def test_a_workspace_session_reads_nothing_on_another_workspace_of_the_same_user(
    member_of_both, tenant_a, tenant_b, caplog, direction
):
    home, away = (tenant_a, tenant_b) if direction == "a->b" else (tenant_b, tenant_a)
    own = Client(HTTP_HOST=home.host)
    own.force_login(member_of_both)
    assert own.get("/dashboard/conversations/").status_code == 200  # a member of both: allowed on each
    cookie = _session_cookie(own)

    foreign = _carrying(cookie, away.host)
    with caplog.at_level(logging.WARNING, logger="tenants.sessions"):
        conversations = foreign.get("/dashboard/conversations/")
    # one line for the refused request: a warning, no traceback, no session key
    [record] = _refusals(caplog)
    assert record.levelno == logging.WARNING and record.exc_info is None
    assert cookie not in record.getMessage()
    assert conversations.status_code == 302 and conversations["Location"].startswith("/login/")
    assert away.marker.encode() not in conversations.content
    api = foreign.get("/api/v1/widgets")
    anonymous = Client(HTTP_HOST=away.host).get("/api/v1/widgets")
    assert (api.status_code, api.content) == (anonymous.status_code, anonymous.content)
    # anonymous there, not signed out: the cookie is left alone and the session still works at home
    assert settings.SESSION_COOKIE_NAME not in conversations.cookies
    assert Session.objects.filter(session_key=cookie).exists()
    page = _carrying(cookie, home.host).get("/dashboard/")
    assert page.status_code == 200 and home.marker.encode() in page.content


def test_a_workspace_session_opens_nothing_on_the_public_host(tenant_a, caplog):
    own = Client(HTTP_HOST=tenant_a.host)
    own.force_login(tenant_a.owner)
    public = _carrying(_session_cookie(own), PUBLIC_HOST)

    with caplog.at_level(logging.WARNING, logger="tenants.sessions"):
        picker = public.get("/workspaces/")
    assert picker.status_code == 302 and picker["Location"].startswith("/login/?next=")
    opened = public.get(f"/workspaces/{tenant_a.tenant.slug}/open")
    assert opened.status_code == 302 and "/auth/handoff" not in opened["Location"]
    assert not LoginHandoff.objects.exists()  # no hand-off minted
    assert len(_refusals(caplog)) == 2  # one line for each request
    assert own.get("/dashboard/").status_code == 200


def test_a_public_session_opens_no_workspace(tenant_a):
    public = Client(HTTP_HOST=PUBLIC_HOST)
    public.force_login(tenant_a.owner)
    # signed in here: forwarded to the one workspace
    assert public.get("/workspaces/")["Location"] == f"/workspaces/{tenant_a.tenant.slug}/open"

    on_tenant = _carrying(_session_cookie(public), tenant_a.host)
    assert on_tenant.get("/dashboard/").status_code == 302
    anonymous = Client(HTTP_HOST=tenant_a.host).get("/api/v1/widgets")
    assert on_tenant.get("/api/v1/widgets").status_code == anonymous.status_code != 200
    assert public.get("/workspaces/")["Location"] == f"/workspaces/{tenant_a.tenant.slug}/open"


def test_a_session_without_a_binding_is_refused_everywhere(tenant_a):
    """Sessions opened before sessions were bound carry no binding: signing in again opens one."""
    for host in (tenant_a.host, PUBLIC_HOST):
        client = Client(HTTP_HOST=host)
        client.force_login(tenant_a.owner)
        session = client.session
        del session[SESSION_TENANT_KEY]
        session.save()
        if host == PUBLIC_HOST:
            assert client.get("/workspaces/").status_code == 302
            assert client.get("/workspaces/")["Location"].startswith("/login/?next=")
        else:
            assert client.get("/dashboard/")["Location"].startswith("/login/")


def test_the_domains_of_one_workspace_share_its_sessions_and_nothing_else(tenant_a, tenant_b):
    DomainFactory(domain="help.tenant-a.saas.test", tenant=tenant_a.tenant, is_primary=False)
    own = Client(HTTP_HOST=tenant_a.host)
    own.force_login(tenant_a.owner)
    other = Client(HTTP_HOST=tenant_b.host)
    other.force_login(tenant_b.owner)
    MembershipFactory(tenant=tenant_a.tenant, user=tenant_b.owner, role="admin")

    assert _carrying(_session_cookie(own), "help.tenant-a.saas.test").get("/dashboard/").status_code == 200
    assert _carrying(_session_cookie(other), "help.tenant-a.saas.test").get("/dashboard/").status_code == 302


def test_signing_in_binds_each_session_to_the_host_that_opened_it(tenant_a, tenant_b):
    """The real way in, no force_login: the password form on the public host, then the
    hand-off to the workspace host, each with its own bound session."""
    user = tenant_a.owner
    user.set_password("a-sturdy-passphrase-7")
    user.save(update_fields=["password"])
    EmailAddressFactory(user=user)
    public = Client(HTTP_HOST=PUBLIC_HOST)
    response = public.post("/accounts/login/", {"login": user.email, "password": "a-sturdy-passphrase-7"})
    assert response.status_code == 302
    assert public.session[SESSION_TENANT_KEY] == "public"

    opened = public.get(f"/workspaces/{tenant_a.tenant.slug}/open")
    url = urlparse(opened["Location"])
    workspace = Client(HTTP_HOST=url.netloc)
    assert workspace.get("/auth/handoff", {"token": parse_qs(url.query)["token"][0]}).status_code == 302
    assert workspace.session[SESSION_TENANT_KEY] == tenant_a.tenant.schema_name
    assert workspace.get("/dashboard/").status_code == 200

    # each session stays where it was opened
    on_public = _carrying(_session_cookie(workspace), PUBLIC_HOST).get("/workspaces/")
    assert on_public.status_code == 302 and on_public["Location"].startswith("/login/?next=")
    MembershipFactory(tenant=tenant_b.tenant, user=user, role="agent")
    assert _carrying(_session_cookie(workspace), tenant_b.host).get("/dashboard/").status_code == 302
    # and signing out on the workspace still ends the public session it came from
    workspace.post("/logout")
    assert public.get("/workspaces/")["Location"].startswith("/login/?next=")


def test_a_hand_off_on_a_host_that_got_a_foreign_cookie_opens_a_fresh_session(tenant_a, tenant_b):
    """The refused session is neither used nor destroyed: signing in there opens a new one."""
    MembershipFactory(tenant=tenant_a.tenant, user=tenant_b.owner, role="agent")
    b_session = Client(HTTP_HOST=tenant_b.host)
    b_session.force_login(tenant_b.owner)
    cookie = _session_cookie(b_session)
    public = Client(HTTP_HOST=PUBLIC_HOST)
    public.force_login(tenant_b.owner)
    url = urlparse(public.get(f"/workspaces/{tenant_a.tenant.slug}/open")["Location"])

    arriving = _carrying(cookie, tenant_a.host)
    assert arriving.get("/auth/handoff", {"token": parse_qs(url.query)["token"][0]}).status_code == 302
    assert _session_cookie(arriving) != cookie
    assert arriving.get("/dashboard/").status_code == 200
    assert Session.objects.filter(session_key=cookie).exists()
    assert b_session.get("/dashboard/").status_code == 200


def test_force_login_in_tests_needs_to_know_the_host(tenant_a):
    with pytest.raises(AssertionError, match="which host"):
        Client().force_login(tenant_a.owner)
    with pytest.raises(AssertionError, match="no workspace"):
        Client().force_login(tenant_a.owner, host="nowhere.saas.test")


def test_checking_the_binding_does_not_make_cacheable_answers_vary_by_cookie(tenant_a):
    """The widget's loader is cached by browsers and proxies; a visitor's session cookie on
    the public host must not split that cache."""
    public = Client(HTTP_HOST=PUBLIC_HOST)
    public.force_login(tenant_a.owner)
    loader = public.get("/w/v1/loader.js")
    assert loader.status_code == 200
    assert "Cookie" not in loader.get("Vary", "")
    page = public.get("/workspaces/")  # a page that reads the session still says so
    assert "Cookie" in page["Vary"]
