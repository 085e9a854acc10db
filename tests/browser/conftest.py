"""Real-browser tests: headless Chromium (Debian's package) driven by Playwright.

The live server listens on localhost; Chromium maps every test host (saas.test and
*.saas.test) to 127.0.0.1, so host routing runs exactly as in production. Without a
Chromium these tests skip with a notice; with SAAS_REQUIRE_SERVICES=1 (CI) they fail.
"""

from __future__ import annotations

import os
import shutil

import pytest

from tests.conftest import require_service, session_binding_for_host

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def browser():
    require_service(bool(CHROMIUM), "Chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop on this thread; the ORM calls the tests
    # make between browser steps are ordinary blocking calls (as pytest-playwright advises).
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--host-resolver-rules=MAP saas.test 127.0.0.1, MAP *.saas.test 127.0.0.1, "
                "MAP customer.test 127.0.0.1, MAP evil.test 127.0.0.1",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1024, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.js_errors = errors
    yield page
    context.close()


@pytest.fixture(scope="session")
def live_port(django_db_setup, django_db_blocker):
    """A threaded live server on the test database, started once.

    Not pytest-django's ``live_server``: that one flushes every table after each test,
    which would wipe the session's shared tenants and meets the audit log's refusal of
    TRUNCATE. Browser tests clean up what they created instead (``live_db``).
    """
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.db import connection as default_connection
    from django.test.testcases import LiveServerThread

    # Never against a development database (pytest-django names test databases test_*).
    assert default_connection.settings_dict["NAME"].startswith("test_"), (
        "browser tests need the test database"
    )
    with django_db_blocker.unblock():
        thread = LiveServerThread("localhost", StaticFilesHandler, port=0)
        thread.daemon = True
        thread.start()
        thread.is_ready.wait()
        if thread.error:
            raise thread.error
        yield thread.port
        thread.terminate()
        # A request thread can leave a connection behind when the browser drops a keep-alive
        # socket; end such leftovers so the test database can be dropped.
        from django.db import connection, connections

        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        connections.close_all()


@pytest.fixture
def live_db(django_db_blocker):
    """Database access in autocommit (the live server's writes are visible); afterwards
    the tenants and users the test created are deleted for good."""
    from tenants.models import Tenant, User
    from tenants.services import tenant_delete

    with django_db_blocker.unblock():
        last_tenant = Tenant.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        last_user = User.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        yield
        for tenant in Tenant.objects.filter(pk__gt=last_tenant):
            tenant_delete(tenant=tenant, by=None)
        User.objects.filter(pk__gt=last_user).delete()


@pytest.fixture
def site(live_port, live_db):
    """Base URL of the public host on the live server."""
    return f"http://saas.test:{live_port}"


@pytest.fixture(scope="session")
def host_pages():
    """A second web server, standing for a customer's site (another origin than ours).
    Tests put HTML into the returned dict by path; it is served as text/html."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    pages: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = pages.get(self.path.split("?")[0])
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write((body or "not found").encode())

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    pages["port"] = str(server.server_address[1])
    yield pages
    server.shutdown()


def signed_in(page, user, host: str) -> None:
    """Give the browser a session of ``user`` opened on ``host`` (bound to its workspace,
    as a sign-in there would be), without going through the public host's login form."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from tenants.sessions import session_bind

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session_bind(session, session_binding_for_host(host))
    session.create()
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": session.session_key, "domain": host, "path": "/"}]
    )


def settled(page) -> None:
    """Until what the page's DOM would load or run has had its turn: two animation frames
    (styles and layout done, so every resource the DOM asks for has been requested), then
    a request of our own, seen after any the page made before it. A wait on events, not
    on a clock: use it before asserting that something did NOT happen."""
    page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
    with page.expect_request(lambda request: request.url.endswith("/healthz")):
        page.evaluate("() => { fetch('/healthz').catch(() => null); }")
