"""Shared fixtures. Two tenants (A and B) are provisioned once per session and shared;
each test runs in a transaction that is rolled back, so tests may change them freely.

Each tenant is seeded with marker strings (``MARKER-A-...``/``MARKER-B-...``) and a
different number of rows, so a test acting as A can tell when anything of B shows up.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.core.cache import cache, caches
from django.db import connection
from django_tenants.postgresql_backend.base import FakeTenant
from django_tenants.utils import get_public_schema_name, tenant_context

from tenants.models import Tenant, User
from tests.chat.factories import ConversationFactory
from tests.hosts import PUBLIC_HOST
from tests.tenants.factories import MembershipFactory, StaffUserFactory, TenantFactory, UserFactory
from tests.tenants.schema_copies import template_prepare
from tests.widget_builder.factories import WidgetFactory
from widget_builder.models import Widget


@dataclass
class SeededTenant:
    tenant: Tenant
    owner: User
    marker: str
    widget_count: int
    conversation_count: int

    @property
    def host(self) -> str:
        return f"{self.tenant.slug}.{settings.BASE_DOMAIN}"

    @property
    def schema(self) -> str:
        return self.tenant.schema_name


def require_service(available: bool, what: str) -> None:
    """Skip with a loud notice when a real service is missing; in CI (SAAS_REQUIRE_SERVICES=1) fail."""
    if available:
        return
    message = f"{what} is not available here; this test needs it"
    if os.environ.get("SAAS_REQUIRE_SERVICES") == "1":
        pytest.fail(message + " (SAAS_REQUIRE_SERVICES=1)")
    pytest.skip("NOTICE: " + message)


def _seed(slug: str, marker: str, widgets: int, conversations: int) -> SeededTenant:
    owner = UserFactory(email=f"owner-{slug}@example.com", password="owner-password-1")
    tenant = TenantFactory(slug=slug, name=f"{marker} Company", owner=owner)
    with tenant_context(tenant):
        # The workspace's default widget becomes the first marker widget.
        Widget.objects.update(name=f"{marker}-widget-0")
        made = list(Widget.objects.all())
        made += [WidgetFactory(name=f"{marker}-widget-{i}") for i in range(1, widgets)]
        for i in range(conversations):
            ConversationFactory(widget=made[i % len(made)])
    return SeededTenant(tenant, owner, marker, widgets, conversations)


@pytest.fixture(scope="session")
def django_db_setup(
    request, django_test_environment, django_db_blocker, django_db_keepdb, django_db_createdb
):
    """The test database, always. pytest-django (4.14) creates only the databases that the
    collected tests mark, so a run of only unmarked tests (browser tests, the real Celery
    workers, which need committed data) would otherwise work on the development database."""
    from django.test.utils import setup_databases, teardown_databases

    with django_db_blocker.unblock():
        config = setup_databases(
            verbosity=request.config.option.verbose,
            interactive=False,
            aliases={"default"},
            serialized_aliases=set(),
            keepdb=django_db_keepdb and not django_db_createdb,
        )
    yield
    if not django_db_keepdb:
        with django_db_blocker.unblock():
            teardown_databases(config, verbosity=request.config.option.verbose)


@pytest.fixture(scope="session")
def seeded(django_db_setup, django_db_blocker) -> dict[str, SeededTenant]:
    with django_db_blocker.unblock():
        tenants = {
            "a": _seed("tenant-a", "MARKER-A", widgets=1, conversations=2),
            "b": _seed("tenant-b", "MARKER-B", widgets=3, conversations=5),
        }
        connection.set_schema_to_public()
        template_prepare(tenants["a"].tenant.schema_name)  # TenantFactory's schemas (schema_copies)
    return tenants


@pytest.fixture
def tenant_a(seeded, db) -> SeededTenant:
    # The objects are shared by the session; reload what a previous test may have changed.
    seeded["a"].tenant.refresh_from_db()
    seeded["a"].owner.refresh_from_db()
    return seeded["a"]


@pytest.fixture
def tenant_b(seeded, db) -> SeededTenant:
    seeded["b"].tenant.refresh_from_db()
    seeded["b"].owner.refresh_from_db()
    return seeded["b"]


def clear_cache() -> None:
    """Forget cached state between tests (rolled-back rows may still be cached).

    With Redis, only cache keys go (they start with a schema name): the same server is the
    Celery broker of the worker test.
    """
    if settings.REDIS_URL:
        client = cache._cache.get_client(write=True)
        for pattern in ("public:*", "t_*:*", "ratelimit:*"):
            for key in client.scan_iter(match=pattern):
                client.delete(key)
    else:
        cache.clear()
        caches["ratelimit"].clear()


def session_binding_for_host(host: str) -> str:
    """What the routing middleware records in a session opened on ``host``
    (tenants.sessions): "public" on the public host, else the workspace's schema."""
    from tenants.sessions import session_binding

    hostname = host.split(":")[0].lower()
    if hostname in settings.PUBLIC_HOSTS:
        return session_binding(FakeTenant(schema_name=get_public_schema_name()))
    tenant = Tenant.objects.filter(domains__domain=hostname).first()
    if tenant is None:
        raise AssertionError(f"force_login: no workspace answers at {host!r}, nothing to bind the session to")
    return session_binding(tenant)


@pytest.fixture(autouse=True, scope="session")
def _force_login_binds_the_session():
    """``Client.force_login`` runs ``login()`` on a bare request that knows no host, so the
    session it opens would be bound to nothing and refused everywhere. Here it binds the
    session to the client's ``HTTP_HOST`` default or to ``host=``, as a sign-in on that
    host would; with neither it fails, rather than guess."""
    from django.test import Client

    from tenants.sessions import session_bind

    django_force_login = Client.force_login

    def force_login(self, user, backend=None, *, host: str | None = None):
        host = host or self.defaults.get("HTTP_HOST")
        if not host:
            raise AssertionError(
                "force_login: which host is the session for? Give the client an HTTP_HOST "
                "default (Client(HTTP_HOST=...)) or pass force_login(user, host=...)."
            )
        binding = session_binding_for_host(host)
        django_force_login(self, user, backend)
        session = self.session
        session_bind(session, binding)
        session.save()

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Client, "force_login", force_login)
        yield


@pytest.fixture(autouse=True)
def _no_idle_browser_loop(request):
    """Once a browser test has run, Playwright's sync API (a session fixture) leaves its
    event loop marked as running in the main thread between its calls (greenlets), and
    ``async_to_sync`` refuses to start there. Other tests set that idle loop aside."""
    if request.node.path.parent.name == "browser":
        yield
        return
    idle = asyncio._get_running_loop()
    asyncio._set_running_loop(None)
    try:
        yield
    finally:
        asyncio._set_running_loop(idle)


@pytest.fixture(autouse=True)
def _steady_rate_limit_clock(monkeypatch):
    """Rate limits count in fixed windows; a test must not straddle a window boundary."""
    monkeypatch.setattr("saas.ratelimit._now", lambda: 1_800_000_030.0)


@pytest.fixture(autouse=True)
def _public_schema_and_clean_cache():
    """Start every test in public with an empty cache (host resolutions are cached)."""
    connection.set_schema_to_public()
    clear_cache()
    yield
    clear_cache()
    connection.set_schema_to_public()


@pytest.fixture(scope="session")
def fake_llm_server():
    """The fake Anthropic/OpenAI server (tests/fakes/llm_server.py), one per session."""
    from tests.fakes.llm_server import FakeLLMServer

    server = FakeLLMServer().start()
    yield server
    server.stop()


@pytest.fixture
def as_role(tenant_a, tenant_b):
    """A client for tenant A's host signed in as ``role``: owner/admin/agent of A, a
    stranger (no membership), ``other`` (the owner of tenant B), or None (anonymous)."""

    def make(role: str | None):
        from django.test import Client

        client = Client(HTTP_HOST=tenant_a.host)
        if role is None:
            return client
        if role == "owner":
            client.force_login(tenant_a.owner)
            return client
        if role == "other":
            client.force_login(tenant_b.owner)
            return client
        if role == "stranger":
            user = UserFactory()
        else:
            user = MembershipFactory(tenant=tenant_a.tenant, role=role).user
        client.force_login(user)
        return client

    return make


@pytest.fixture
def owner(as_role):
    return as_role("owner")


@pytest.fixture
def staff_user(db) -> User:
    return StaffUserFactory(email="staff@example.com", password="staff-password-1")


@pytest.fixture
def staff_client(client, staff_user):
    client.defaults["HTTP_HOST"] = PUBLIC_HOST
    client.force_login(staff_user)
    return client


@pytest.fixture(autouse=True)
def billing_tasks_here(monkeypatch):
    """Billing's queued tasks (owners' emails) run in this thread after the commit, in the
    test's transaction (in-process mode would run them on a daemon thread)."""
    from django.db import transaction

    def enqueue(task, *args, **kwargs):
        transaction.on_commit(lambda: task.apply(args=args, kwargs=kwargs))

    for module in ("billing.services", "billing.subscriptions"):
        monkeypatch.setattr(f"{module}.enqueue_on_commit", enqueue)
