"""Real-browser tests: headless Chromium (Debian's package) driven by Playwright.

The live server listens on localhost; Chromium maps every test host (saas.test and
*.saas.test) to 127.0.0.1, so host routing runs exactly as in production. Without a
Chromium these tests skip with a notice; with SAAS_REQUIRE_SERVICES=1 (CI) they fail.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from tenants.models import Tenant, User
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
def live_db(django_db_blocker, browser, seeded):
    """Database access in autocommit (the live server's writes are visible); afterwards
    the tenants and users the test created are deleted for good. (``seeded``: the shared
    tenants are there, and with them the migrated schema ``TenantFactory`` copies.)

    The browser's pages are closed first: a page fixture set up before this one would
    outlive it, and its widget would keep calling (a live stream, a poll) into a workspace
    being dropped. A request already running still finishes on the server: a test that
    ends right after a streamed answer waits for it (``answer_finished``)."""
    from tenants.models import Tenant, User
    from tenants.services import tenant_delete

    with django_db_blocker.unblock():
        last_tenant = Tenant.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        last_user = User.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        yield
        for context in list(browser.contexts):
            context.close()
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


def _is_timing_report(response) -> bool:
    return response.request.method == "POST" and response.url.endswith("/timing")


@contextmanager
def answer_finished(page, timeout: float = 10_000) -> Iterator[Any]:
    """Around what makes the widget send a message whose answer streams: waits, when the
    block ends, for the widget's report of the answer's timing (``…/messages/<seq>/timing``),
    the last request an answer makes. So no request of the widget is still writing when the
    test ends and its workspace is dropped (a deadlock at teardown), nor when the page
    reloads. Yields Playwright's event info (``.value`` is the report's response)."""
    with page.expect_response(_is_timing_report, timeout=timeout) as reported:
        yield reported


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


# --- A workspace with realistic data, and the checks every page passes ------------------
# (tests/browser/test_every_page.py sweeps every page with them; other browser tests may
# reuse them.)


@dataclass
class SweepWorkspace:
    """A workspace seeded as one in use looks (``sweep_workspace``): its owner, who is also
    in a second workspace (so the switcher lists two), and the objects whose pages exist."""

    tenant: Tenant
    other: Tenant
    owner: User
    objects: dict[str, Any]  # URL parameter name -> value, e.g. {"widget_id": 3, ...}

    @property
    def host(self) -> str:
        return f"{self.tenant.slug}.{settings.BASE_DOMAIN}"


@pytest.fixture(scope="session")
def sweep_workspace(django_db_setup, django_db_blocker):
    """Committed once per session (browser pages read it through the live server) and
    deleted at the end: a widget with bot settings and automations, a knowledge base with
    ready, processing and failed sources, documents and chunks, conversations with visitors'
    and the bot's messages, members, a pending invitation, an API key, a month of usage."""
    from tenants.services import tenant_delete

    with django_db_blocker.unblock():
        made = seed_sweep_workspace()
        connection.set_schema_to_public()
    yield made
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        tenant_delete(tenant=Tenant.objects.get(pk=made.tenant.pk), by=None)
        Tenant.objects.filter(pk=made.other.pk).delete()  # a row only (its membership goes with it)
        User.objects.filter(email__endswith="@sweep.example.com").delete()


def seed_sweep_workspace() -> SweepWorkspace:
    from datetime import timedelta

    from allauth.account.forms import default_token_generator
    from allauth.account.models import EmailAddress, EmailConfirmationHMAC
    from allauth.account.utils import user_pk_to_url_str
    from django.utils import timezone
    from django_tenants.utils import tenant_context

    from billing.models import UsageCounter
    from billing.periods import DAILY, tenant_period
    from chat.models import AutomationRule, Conversation, Message
    from knowledge.models import KnowledgeBase, Source
    from reports.services import unsubscribe_token
    from tenants.models import Membership
    from tenants.services.team import invitation_token
    from tests.billing.factories import UsageCounterFactory
    from tests.chat.factories import (
        AutomationRuleFactory,
        ContactFactory,
        ConversationFactory,
        MessageFactory,
    )
    from tests.knowledge.factories import ChunkFactory, DocumentFactory, SourceFactory
    from tests.tenants.factories import (
        ApiKeyFactory,
        EmailAddressFactory,
        InvitationFactory,
        MembershipFactory,
        TenantFactory,
        TenantRowFactory,
        UserFactory,
    )
    from widget_builder.models import Widget

    owner = UserFactory(email="owner@sweep.example.com")
    EmailAddressFactory(user=owner)
    tenant = TenantFactory(slug="sweep", name="Northwind Coffee Roasters", owner=owner)
    # The owner's second workspace: only listed (switcher, workspace list), never opened,
    # so a serving row without a schema does (provisioning one costs seconds).
    other = TenantRowFactory(slug="sweep-wholesale", name="Northwind Wholesale", status=Tenant.Status.ACTIVE)
    MembershipFactory(tenant=other, user=owner, role=Membership.Role.OWNER)
    for role, name in ((Membership.Role.ADMIN, "maria"), (Membership.Role.AGENT, "sam")):
        MembershipFactory(tenant=tenant, role=role, user=UserFactory(email=f"{name}@sweep.example.com"))
    invitation = InvitationFactory(tenant=tenant, email="new.agent@sweep.example.com", invited_by=owner)
    ApiKeyFactory(tenant=tenant, name="Helpdesk sync", created_by=owner)
    now = timezone.now()
    start = tenant_period(tenant.pk)
    UsageCounterFactory(tenant=tenant, period=start, value=412)
    for n in range((now.date() - start).days + 1):
        UsageCounterFactory(
            tenant=tenant,
            period=start + timedelta(days=n),
            metric=DAILY.format(metric=UsageCounter.Metric.AI_ANSWERS),
            value=(n * 7) % 23 + 3,
        )

    # An address waiting for its confirmation (the link in the verification email).
    pending = UserFactory(email="pending@sweep.example.com")
    address = EmailAddress.objects.create(user=pending, email=pending.email, verified=False, primary=True)

    with tenant_context(tenant):
        widget = Widget.objects.get()
        Widget.objects.filter(pk=widget.pk).update(name="Website chat", bot_name="Nora")
        kb = KnowledgeBase.objects.get()
        KnowledgeBase.objects.filter(pk=kb.pk).update(
            name="Help centre", description="Brewing guides, shipping and returns."
        )
        source = SourceFactory(
            knowledge_base=kb,
            kind=Source.Kind.CRAWL,
            title="northwind-coffee.example/help",
            url="https://northwind-coffee.example/help/",
            status=Source.Status.READY,
            progress_done=3,
            progress_total=3,
            last_synced_at=now,
            sync_schedule=Source.Schedule.DAILY,
            last_report={"added": 3, "updated": 0, "removed": 0, "unchanged": 0},
        )
        qa_source = SourceFactory(
            knowledge_base=kb,
            kind=Source.Kind.QA,
            title="Frequent questions",
            status=Source.Status.READY,
            qa_pairs=[
                {"question": "Do you ship abroad?", "answer": "Yes, to 30 countries in Europe."},
                {
                    "question": "How fresh is the coffee?",
                    "answer": "Roasted at most three days before dispatch.",
                },
            ],
            last_synced_at=now,
        )
        SourceFactory(
            knowledge_base=kb,
            kind=Source.Kind.TEXT,
            title="Opening hours",
            status=Source.Status.PROCESSING,
            progress_done=1,
            progress_total=4,
        )
        SourceFactory(
            knowledge_base=kb,
            kind=Source.Kind.URL,
            title="https://northwind-coffee.example/a/very/long/address/that/keeps/going/and/going/wholesale-terms",
            url="https://northwind-coffee.example/a/very/long/address/that/keeps/going/and/going/wholesale-terms",
            status=Source.Status.FAILED,
            error="The site answered 503 Service Unavailable three times; the page was not read.",
        )
        documents = []
        for slug, title in (
            ("shipping", "Shipping and delivery"),
            ("returns", "Returns"),
            ("brewing", "Brewing guide"),
        ):
            document = DocumentFactory(
                source=source,
                key=f"https://northwind-coffee.example/help/{slug}",
                url=f"https://northwind-coffee.example/help/{slug}",
                title=title,
                chunk_count=3,
            )
            for position in range(3):
                ChunkFactory(
                    document=document,
                    position=position,
                    heading_path=f"{title} > Part {position + 1}",
                    text=f"{title}, part {position + 1}: orders leave the roastery within two working days. "
                    * 4,
                )
            documents.append(document)
        rule = AutomationRuleFactory(
            widget=widget,
            name="Order status",
            pattern="order, tracking, parcel",
            reply="You can follow your parcel with the link in your shipping email.",
        )
        AutomationRuleFactory(
            widget=widget,
            kind=AutomationRule.Kind.GREETING,
            name="Greeting",
            pattern="",
            reply="Hi! Ask me anything about our coffee.",
        )
        conversations = []
        people = [
            ("Ada Lovelace", "ada@example.org", Conversation.Status.BOT),
            ("Grace Hopper", "grace@example.org", Conversation.Status.WAITING),
            ("", "", Conversation.Status.CLOSED),
            ("Alan Turing", "alan.turing.with.a.rather.long.address@example.org", Conversation.Status.BOT),
        ]
        for name, email, status in people:
            contact = ContactFactory(
                widget=widget,
                name=name,
                email=email,
                page_url="https://northwind-coffee.example/shop",
                answers={"company": f"{name} & Co"} if name else {},
                consent_given_at=now if name else None,
                consent_text="I agree to be contacted about my order." if name else "",
            )
            conversation = ConversationFactory(widget=widget, contact=contact, status=status)
            MessageFactory(
                conversation=conversation, role=Message.Role.VISITOR, text="Hello! Do you ship to Norway?"
            )
            MessageFactory(
                conversation=conversation,
                role=Message.Role.BOT,
                text="Yes: orders to Norway arrive in 3 to 5 working days. See "
                "https://northwind-coffee.example/help/shipping/international-orders-and-customs-duties",
                citations=[
                    {
                        "n": 1,
                        "title": "Shipping and delivery",
                        "url": "https://northwind-coffee.example/help/shipping",
                    }
                ],
                outcome="answered",
                feedback_rating=1,
            )
            MessageFactory(conversation=conversation, role=Message.Role.VISITOR, text="Great, and customs?")
            conversations.append(conversation)
        bot_test_id = _seed_quality(widget, qa_source, now)
        webhook = _seed_webhooks()
        action_id = _seed_actions(conversations[0])
        mcp_server_id = _seed_mcp_server(conversations[0])
        widget_key = Widget.objects.get().key

    uid, key = user_pk_to_url_str(owner), default_token_generator.make_token(owner)
    return SweepWorkspace(
        tenant=tenant,
        other=other,
        owner=owner,
        objects={
            "widget_id": widget.pk,
            "widget_key": widget_key,
            "rule_id": rule.pk,
            "conversation_id": conversations[0].pk,
            "contact_id": conversations[0].contact_id,
            "kb_id": kb.pk,
            "source_id": source.pk,
            "qa_source_id": qa_source.pk,
            "bot_test_id": bot_test_id,
            "document_id": documents[0].pk,
            "token": invitation_token(invitation),
            "confirm_email_key": EmailConfirmationHMAC(address).key,
            "uidb36": uid,
            "reset_key": key,
            "unsubscribe_token": unsubscribe_token(tenant=tenant, user_id=owner.pk),
            "webhook_endpoint_id": str(webhook.endpoint.public_id),
            "webhook_delivery_id": webhook.pk,
            "action_public_id": action_id,
            "mcp_server_public_id": mcp_server_id,
        },
    )


def _seed_actions(conversation) -> str:
    """An AI action with calls by the bot and the test runner (rows made here: the URL is
    not resolved)."""
    from actions.models import Action, ActionCall
    from saas.crypto import secret_encrypt

    action = Action.objects.create(
        name="order_status",
        title="Order status",
        description="Where an order is: its delivery status and carrier.",
        parameters={
            "type": "object",
            "properties": {"order_id": {"type": "string"}},
            "required": ["order_id"],
        },
        method="GET",
        url="https://shop.northwind-coffee.example/api/orders/{order_id}",
        headers=secret_encrypt('{"Authorization": "Bearer shop-key"}'),
        response_fields=["status", "carrier"],
        signing_secret=secret_encrypt("acsec_sweep"),
    )
    for status, http_status, source in (
        ("succeeded", 200, "answer"),
        ("failed", 502, "answer"),
        ("invalid", None, "test"),
    ):
        ActionCall.objects.create(
            action=action,
            action_name=action.name,
            conversation=conversation if source == "answer" else None,
            source=source,
            arguments={"order_id": "1042"},
            status=status,
            http_status=http_status,
            duration_ms=84 if http_status else None,
            result='{"status":"shipped","carrier":"DHL"}' if status == "succeeded" else "Not done.",
            response_excerpt='{"status": "shipped", "carrier": "DHL"}' if http_status else "",
            error="HTTP 502: Bad gateway" if status == "failed" else "",
        )
    return str(action.public_id)


def _seed_mcp_server(conversation) -> str:
    """An MCP server with its tools listed, two allowed, and a call of one (rows made here:
    the URL is not resolved)."""
    from django.utils import timezone

    from actions.models import ActionCall, McpServer
    from saas.crypto import secret_encrypt

    schema = {"type": "object", "properties": {"order_id": {"type": "string", "title": "Order number"}}}
    server = McpServer.objects.create(
        name="shop",
        title="Northwind shop",
        url="https://mcp.northwind-coffee.example/mcp",
        headers=secret_encrypt('{"Authorization": "Bearer mcp-key"}'),
        allowed_tools=["order_status", "refund"],
        signing_secret=secret_encrypt("acsec_sweep_mcp"),
        tools=[
            {"name": name, "title": title, "description": words, "input_schema": schema, "problem": ""}
            for name, title, words in (
                ("order_status", "Order status", "Where an order is."),
                ("refund", "Refund", "Refund an order."),
                ("inventory", "Inventory", "Stock of a product."),
            )
        ],
        tools_refreshed_at=timezone.now(),
    )
    ActionCall.objects.create(
        mcp_server=server,
        tool_name="order_status",
        action_name="shop__order_status",
        conversation=conversation,
        arguments={"order_id": "1042"},
        status="succeeded",
        http_status=200,
        duration_ms=120,
        result="Shipped with DHL.",
    )
    return str(server.public_id)


def _seed_webhooks():
    """An endpoint with a delivered event (rows made here: the URL is not resolved)."""
    import json

    from django.utils import timezone

    from saas.crypto import secret_encrypt
    from webhooks.models import Delivery, Endpoint, Event
    from webhooks.signing import secret_new

    endpoint = Endpoint.objects.create(
        url="https://hooks.northwind-coffee.example/chatbot",
        description="CRM sync",
        event_types=["contact.updated", "conversation.handoff_requested"],
        secret=secret_encrypt(secret_new()),
    )
    event = Event.objects.create(
        event_id="evt_0123456789abcdef01234567",
        type="contact.updated",
        body=json.dumps({"type": "contact.updated", "data": {"contact": {"name": "Ada"}}}),
    )
    return Delivery.objects.create(
        event=event,
        endpoint=endpoint,
        status=Delivery.Status.SUCCEEDED,
        attempts=1,
        last_attempt_at=timezone.now(),
        delivered_at=timezone.now(),
        request_headers={"webhook-id": event.event_id, "webhook-timestamp": "1764806400"},
        response_status=200,
        response_body='{"ok": true}',
        duration_ms=42,
    )


def _seed_quality(widget, source, now) -> int:
    """Questions the bot did not answer well (some alike) and two bot tests with a week of
    runs, the last one failing a test. Returns a bot test's id."""
    from datetime import timedelta

    from chat.models import Message
    from quality.models import BotTest, BotTestResult, BotTestRun
    from tests.chat.factories import ConversationFactory, MessageFactory

    asked = [
        ("Do you ship to Mars?", "no_answer", None),
        ("Can you deliver to Mars?", "no_answer", None),
        ("do you ship to mars", "no_answer", None),
        (
            "Is there a discount for students or for anyone who orders more than five bags a month?",
            "answered",
            -1,
        ),
        ("Can I speak to someone about a wholesale order?", "handoff", None),
    ]
    for text, outcome, rating in asked:
        conversation = ConversationFactory(widget=widget)
        question = MessageFactory(conversation=conversation, role=Message.Role.VISITOR, text=text)
        MessageFactory(
            conversation=conversation,
            role=Message.Role.BOT,
            text="Sorry, I don't have a good answer to that yet."
            if outcome == "no_answer"
            else "Here you go.",
            reply_to=question,
            outcome=outcome,
            feedback_rating=rating,
        )
    shipping = BotTest.objects.create(
        widget=widget, question="Do you ship abroad?", must_contain="30 countries", must_cite=source
    )
    fresh = BotTest.objects.create(
        widget=widget, question="How fresh is the coffee?", must_contain="two days"
    )
    for days_ago, passed in ((6, 2), (4, 2), (1, 1), (0, 1)):
        run = BotTestRun.objects.create(
            trigger="knowledge",
            status="done",
            total=2,
            passed=passed,
            finished_at=now - timedelta(days=days_ago),
        )
    BotTestResult.objects.create(
        run=run,
        test=shipping,
        question=shipping.question,
        answer="Yes, to 30 countries in Europe [1].",
        passed=True,
        citations=[{"n": 1, "title": source.title, "source_id": source.pk}],
    )
    BotTestResult.objects.create(
        run=run,
        test=fresh,
        question=fresh.question,
        answer="Here is what our knowledge base says:\n\n> Roasted at most three days before dispatch. [1]",
        passed=False,
        failures=["Does not contain “two days”."],
    )
    return shipping.pk


# Elements past the right edge of the viewport that widen the page, outermost first (where
# the overflow starts). A box clipped by a scrolling or hiding ancestor does not widen the
# page and is left out, unless it escapes that clip: an absolutely positioned box whose
# containing block is outside the scroller (a visually-hidden label in a scrolling table).
WIDEST_ELEMENTS_JS = """
() => {
  const limit = window.innerWidth + 0.5;
  const clipped = (el) => {
    let needs = getComputedStyle(el).position;  // which ancestor is its containing block
    for (let p = el.parentElement; p && p !== document.documentElement; p = p.parentElement) {
      if (needs === "fixed") return false;
      const style = getComputedStyle(p);
      const isBlock = needs !== "absolute" || style.position !== "static";
      if (!isBlock) continue;
      if (style.overflowX !== "visible" && p !== document.body) return true;
      needs = style.position;
    }
    return false;
  };
  const describe = (el) => {
    let s = el.tagName.toLowerCase();
    if (el.id) s += "#" + el.id;
    if (typeof el.className === "string" && el.className.trim())
      s += "." + el.className.trim().split(/\\s+/).join(".");
    return s;
  };
  const found = [];
  for (const el of document.body.querySelectorAll("*")) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.right <= limit || clipped(el)) continue;
    const parent = el.parentElement;
    const outermost = !parent || parent === document.body || parent.getBoundingClientRect().right <= limit
      || clipped(parent);
    const named = (e) => e.id || (typeof e.className === "string" && e.className.trim());
    let context = parent;  // the nearest ancestor with an id or a class, to find it by
    while (context && context !== document.body && !named(context)) context = context.parentElement;
    found.push({el: describe(el), parent: context ? describe(context) : "", right: Math.round(r.right),
                width: Math.round(r.width), outermost});
  }
  found.sort((a, b) => (b.outermost - a.outermost) || (b.right - a.right));
  return found.slice(0, 6);
}
"""


def horizontal_overflow(page) -> str:
    """Nothing when the page is no wider than the viewport; else its width and the
    elements past the edge (tag#id.classes, right edge in px, outermost first)."""
    width = page.evaluate("window.innerWidth")
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    if scroll_width <= width:
        return ""
    rows = page.evaluate(WIDEST_ELEMENTS_JS)
    listed = "; ".join(
        f"{row['el']} (right {row['right']}px, width {row['width']}px"
        + (f", in {row['parent']})" if row["outermost"] else ")")
        for row in rows
    )
    return f"page {scroll_width}px wide at {width}px: {listed or 'no element found (margins?)'}"


def axe_serious_violations(page) -> list[str]:
    """axe-core's serious and critical violations on the page as "rule (impact): targets"."""
    from axe_playwright_python.sync_playwright import Axe

    violations = Axe().run(page).response["violations"]
    return [
        f"{v['id']} ({v['impact']}): "
        + ", ".join(" ".join(map(str, node["target"])) for node in v["nodes"][:5])
        + (f" and {len(v['nodes']) - 5} more" if len(v["nodes"]) > 5 else "")
        for v in violations
        if v["impact"] in ("serious", "critical")
    ]


# Collects the document's "securitypolicyviolation" events (see test_csp_browser.py).
COLLECT_CSP_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " " + e.blockedURI);
});
"""


class PageProblems:
    """What a page reported while it loaded: console errors (a failed favicon or script
    included), uncaught exceptions, requests answered 4xx/5xx or failed, and
    Content-Security-Policy violations. Watch a page
    once; ``reset()`` before each navigation, ``read(page)`` after it."""

    def __init__(self, page) -> None:
        self.console: list[str] = []
        self.exceptions: list[str] = []
        self.requests: list[str] = []
        page.add_init_script(COLLECT_CSP_VIOLATIONS)
        page.on("console", lambda m: self.console.append(m.text) if self._counts(m) else None)
        page.on("pageerror", lambda exc: self.exceptions.append(str(exc)))
        # Chromium's console line for a failed load does not name the address: these do.
        page.on(
            "response",
            lambda r: (
                self.requests.append(f"{r.status} {r.request.method} {r.url}") if r.status >= 400 else None
            ),
        )
        page.on(
            "requestfailed",
            lambda r: (
                self.requests.append(f"{r.failure} {r.request.method} {r.url}")
                if r.failure and "ERR_ABORTED" not in r.failure
                else None
            ),
        )

    @staticmethod
    def _counts(message) -> bool:
        # Chromium says it ignores the Cross-Origin-Opener-Policy header on an origin that is
        # not potentially trustworthy: the test hosts are plain http (production is https).
        return (
            message.type == "error"
            and "Cross-Origin-Opener-Policy header has been ignored" not in message.text
        )

    def reset(self) -> None:
        self.console.clear()
        self.exceptions.clear()
        self.requests.clear()

    def read(self, page) -> dict[str, list[str]]:
        return {
            "console errors": list(self.console),
            "uncaught exceptions": list(self.exceptions),
            "failed requests": list(self.requests),
            "CSP violations": page.evaluate("window.__cspViolations || []"),
        }


@pytest.fixture(scope="session")
def asgi_live_port(django_db_setup, django_db_blocker):
    """The ASGI application (WebSockets included) served by uvicorn on the test database,
    started once; its port. ``live_port`` is WSGI and cannot upgrade a connection. Browser
    tests reach it as ``saas.test:<port>`` (or a workspace host) like ``live_port``."""
    import threading
    import time

    import uvicorn
    from django.db import connections

    assert connection.settings_dict["NAME"].startswith("test_"), "browser tests need the test database"
    with django_db_blocker.unblock():
        server = uvicorn.Server(
            uvicorn.Config(
                "saas.asgi:application",
                host="127.0.0.1",
                port=0,
                ws="websockets",
                ws_per_message_deflate=False,  # as production runs it (docs/deployment.md)
                lifespan="off",
                log_level="warning",
            )
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        yield server.servers[0].sockets[0].getsockname()[1]
        server.should_exit = True
        thread.join(10)
        with connection.cursor() as cursor:  # what the server's threads left behind (see live_port)
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        connections.close_all()


@pytest.fixture
def asgi_site(asgi_live_port, live_db):
    """Base URL of the public host on the ASGI server (``asgi_live_port``)."""
    return f"http://saas.test:{asgi_live_port}"
