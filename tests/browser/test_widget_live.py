"""The widget's live conversation against the real server: uvicorn serving the ASGI
application (``asgi_live_port``: WebSockets, server-sent events), the channel layer of the
settings (Redis in CI), an agent replying through ``chat.services.inbox`` in the test.

Each transport (WebSocket, server-sent events, polling) is cut while three agent replies
are sent; after the reconnection the widget shows exactly those three, once, in order.
"""

from __future__ import annotations

import json
import re

import pytest
from django_tenants.utils import tenant_context

from chat.models import Conversation
from chat.services.agents import agent_heartbeat
from chat.services.inbox import agent_reply_send, conversation_read, conversation_resolve
from tests.tenants.factories import TenantFactory, UserFactory
from widget_builder.models import Widget
from widget_builder.services import widget_allowed_origins_set, widget_publish

WAIT = 10_000  # ms

# Keeps the page's sockets reachable, so a test can cut one as a network would; while
# window.__blockSockets is true, new sockets fail to open (a closed port).
KEEP_SOCKETS = """
(() => {
  const Native = window.WebSocket;
  window.__sockets = [];
  window.WebSocket = function (url, protocols) {
    if (window.__blockSockets) url = "ws://127.0.0.1:9/";
    const s = protocols === undefined ? new Native(url) : new Native(url, protocols);
    window.__sockets.push(s);
    return s;
  };
  window.WebSocket.prototype = Native.prototype;
})();
"""


def off_loop(fn, *args, **kwargs):
    """``fn`` on a thread of its own: Playwright's sync API keeps an event loop on the test's
    thread, where publishing to the channel layer (``async_to_sync``) refuses to run."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections

    def call():
        try:
            return fn(*args, **kwargs)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(call).result()


@pytest.fixture
def asgi_site(asgi_live_port, live_db):
    return f"http://saas.test:{asgi_live_port}"


class Visitor:
    """A visitor on a customer's page (another origin) with the widget of a new workspace,
    whose owner "Ana" answers."""

    def __init__(self, page, site, host_pages, slug: str, transport: str = ""):
        self.page = page
        self.agent = UserFactory(email=f"ana@{slug}.example.com", first_name="Ana")
        self.tenant = TenantFactory(slug=slug, name="Live Shop", owner=self.agent)
        self.origin = f"http://customer.test:{host_pages['port']}"
        with tenant_context(self.tenant):
            widget = Widget.objects.get()
            widget_allowed_origins_set(widget=widget, origins=[self.origin])
            self.widget = widget_publish(widget=widget)
        self.sent: list[dict] = []  # frames the widget sent over its sockets
        self.received: list[dict] = []
        page.on("websocket", self._watch)
        page.add_init_script(KEEP_SOCKETS)
        attr = f' data-transport="{transport}"' if transport else ""
        host_pages[f"/{slug}"] = (
            "<!doctype html><html><head><title>Shop</title></head><body><h1>Customer shop</h1>"
            f'<script async src="{site}/w/v1/loader.js" data-widget="{self.widget.key}"{attr}></script>'
            "</body></html>"
        )
        self.url = f"{self.origin}/{slug}"

    def open(self):
        self.page.goto(self.url)
        self.page.locator("div[data-chat-widget] button").first.click()
        self.composer = self.page.get_by_label("Write a message…")
        self.composer.wait_for(timeout=WAIT)
        return self

    def _watch(self, ws):
        ws.on("framesent", lambda payload: self.sent.append(json.loads(payload)))
        ws.on("framereceived", lambda payload: self.received.append(json.loads(payload)))

    def conversation(self) -> Conversation:
        stored = self.page.evaluate(f"JSON.parse(localStorage.getItem('chat-widget:{self.widget.key}'))")
        with tenant_context(self.tenant):
            return Conversation.objects.get(pk=stored["conversation_id"])

    def agent_does(self, service, **kwargs):
        """What the agent does in the inbox: a ``chat.services.inbox`` service on the
        conversation (stored, then published after commit)."""
        conversation = self.conversation()

        def call():
            with tenant_context(self.tenant):
                return service(conversation=conversation, **kwargs)

        return off_loop(call)

    def reply(self, text: str) -> int:
        return self.agent_does(agent_reply_send, user=self.agent, text=text).seq

    def replies(self) -> list[str]:
        return self.page.locator(".msg .bubble").all_inner_texts()

    def wait(self, predicate, what: str, timeout: float = WAIT):
        for _ in range(int(timeout / 50)):
            if predicate():
                return
            self.page.wait_for_timeout(50)
        raise AssertionError(f"timed out waiting for {what}")

    def hellos(self) -> list[dict]:
        return [f for f in self.sent if f.get("type") == "hello"]

    def ready(self, count: int = 1):
        self.wait(lambda: sum(f.get("type") == "ready" for f in self.received) >= count, "the socket")


def test_websocket_live_replies_read_receipt_and_reconnect(page, asgi_site, host_pages):
    visitor = Visitor(page, asgi_site, host_pages, "live-real-ws").open()
    visitor.ready()
    assert visitor.hellos()[0]["after"] == 0

    first = visitor.reply("Hi, I'm **Ana**. How can I help?")
    reply = page.locator(".msg", has_text="How can I help?")
    reply.wait_for(timeout=WAIT)  # no reload
    assert reply.locator(".who").inner_text() == "Ana"
    assert reply.locator("strong").inner_text() == "Ana"
    assert page.locator("p.sys", has_text="Ana joined the conversation").count() == 1  # the server's note
    # the panel is open: the widget says the visitor saw it
    visitor.wait(lambda: visitor.conversation().visitor_read_seq >= first, "the read receipt")

    # the network drops the socket; three replies meanwhile; the reconnection asks for what
    # came after the last one shown and gets exactly those three
    page.evaluate("window.__sockets[window.__sockets.length - 1].close()")
    seqs = [visitor.reply(f"Update {n}") for n in (1, 2, 3)]
    visitor.ready(2)
    assert visitor.hellos()[1]["after"] == first
    page.locator(".msg", has_text="Update 3").wait_for(timeout=WAIT)
    visitor.reply("And one more, live")
    page.locator(".msg", has_text="And one more, live").wait_for(timeout=WAIT)
    assert visitor.replies() == [
        "Hi, I'm Ana. How can I help?",
        "Update 1",
        "Update 2",
        "Update 3",
        "And one more, live",
    ]
    replies = [
        f["message"]["seq"]
        for f in visitor.received
        if f.get("type") == "message" and f["message"]["role"] == "agent"
    ]
    assert replies == [first, *seqs, replies[-1]] and len(set(replies)) == 5  # the server sent each once too

    # the agent reads the visitor's message: "Seen" under it
    visitor.composer.fill("Thanks, that's all.")
    visitor.composer.press("Enter")
    mine = page.locator("p.bubble.mine", has_text="Thanks, that's all.")
    mine.wait_for(timeout=WAIT)
    visitor.agent_does(conversation_read, side="agent", seq=int(mine.get_attribute("data-seq")))
    page.locator("p.bubble.mine + .seen", has_text="Seen").wait_for(timeout=WAIT)

    # resolved in the inbox: the visitor is asked to rate, live
    visitor.agent_does(conversation_resolve, by=visitor.agent)
    page.get_by_text("How was this conversation?").wait_for(timeout=WAIT)
    page.get_by_role("button", name="Rate 5 out of 5").click()
    page.get_by_role("button", name="Submit").click()
    page.get_by_text("Thanks for your rating!").wait_for(timeout=WAIT)
    assert visitor.conversation().csat_score == 5
    assert page.js_errors == []


def test_a_reply_sent_while_away_is_not_skipped_for_the_visitors_own_newer_message(
    page, asgi_site, host_pages
):
    visitor = Visitor(page, asgi_site, host_pages, "live-real-gap").open()
    visitor.ready()
    visitor.reply("First")
    page.locator(".msg", has_text="First").wait_for(timeout=WAIT)
    page.evaluate("window.__blockSockets = true; window.__sockets[window.__sockets.length - 1].close()")
    away = visitor.reply("While you were away")
    # the visitor writes meanwhile: their message (numbered after the reply) comes back at
    # once on their own request, before the reply the socket missed
    visitor.composer.fill("Are you still there?")
    visitor.composer.press("Enter")
    mine = page.locator("p.bubble.mine", has_text="Are you still there?")
    mine.wait_for(timeout=WAIT)
    assert int(mine.get_attribute("data-seq")) > away
    page.evaluate("window.__blockSockets = false")
    missed = page.locator(".msg", has_text="While you were away")
    missed.wait_for(timeout=20_000)  # reconnected (a socket again, or events after two failures)
    assert missed.count() == 1 and int(missed.get_attribute("data-seq")) == away
    seqs = page.locator("[data-seq]").evaluate_all("ns => ns.map(n => +n.getAttribute('data-seq'))")
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs))  # in order, once
    assert page.js_errors == []


def test_server_sent_events_fallback_reconnects_without_loss(page, asgi_site, host_pages, settings):
    settings.CHAT_EVENTS_STREAM_SECONDS = 2  # streams end often: each reconnection resumes
    visitor = Visitor(page, asgi_site, host_pages, "live-real-sse", transport="sse").open()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if "/events" in r.url else None)
    first = visitor.reply("Hello from the team")
    page.locator(".msg", has_text="Hello from the team").wait_for(timeout=WAIT)
    assert not visitor.sent  # forced: no WebSocket

    # cut: the next reconnections fail (the stream ends within 2 s, then the network is gone)
    refused: list[str] = []

    def offline(route):
        refused.append(route.request.url)
        route.abort()

    page.route(re.compile(r"/events"), offline)
    visitor.wait(lambda: refused, "a refused reconnection")
    for n in (1, 2, 3):
        visitor.reply(f"Update {n}")
    page.unroute(re.compile(r"/events"))
    page.locator(".msg", has_text="Update 3").wait_for(timeout=WAIT)
    assert visitor.replies() == ["Hello from the team", "Update 1", "Update 2", "Update 3"]
    assert f"after={first}" in requests[-1] or any(f"after={first}" in r for r in requests)
    page.wait_for_timeout(2500)  # another stream ended and resumed: nothing twice
    assert visitor.replies() == ["Hello from the team", "Update 1", "Update 2", "Update 3"]
    visitor.wait(lambda: visitor.conversation().visitor_read_seq >= first + 3, "read receipts by POST")
    assert page.js_errors == []


def test_polling_fallback_without_loss(page, asgi_site, host_pages):
    visitor = Visitor(page, asgi_site, host_pages, "live-real-poll", transport="poll").open()
    visitor.reply("Hello from the team")
    page.locator(".msg", has_text="Hello from the team").wait_for(timeout=WAIT)
    refused: list[str] = []

    def offline(route):
        refused.append(route.request.url)
        route.abort()

    page.route(re.compile(r"/messages\?after="), offline)
    visitor.wait(lambda: refused, "a refused poll")
    for n in (1, 2, 3):
        visitor.reply(f"Update {n}")
    page.unroute(re.compile(r"/messages\?after="))
    page.locator(".msg", has_text="Update 3").wait_for(timeout=WAIT)
    page.wait_for_timeout(3500)  # one more poll: nothing twice
    assert visitor.replies() == ["Hello from the team", "Update 1", "Update 2", "Update 3"]
    assert not visitor.sent
    assert page.js_errors == []


def test_talk_to_a_person_when_an_agent_is_online(page, asgi_site, host_pages):
    visitor = Visitor(page, asgi_site, host_pages, "live-real-human")

    def online():
        with tenant_context(visitor.tenant):
            agent_heartbeat(user_id=visitor.agent.pk)

    off_loop(online)  # Ana is online
    visitor.open()
    page.get_by_role("button", name="More options").click()
    page.get_by_role("menuitem", name="Talk to a person").click()
    page.locator("p.sys").last.wait_for(timeout=WAIT)
    conversation = visitor.conversation()
    assert conversation.status in (Conversation.Status.WAITING, Conversation.Status.AGENT)
    assert conversation.assignee_user_id == visitor.agent.pk  # offered to the online agent
    visitor.reply("Ana here, I have your conversation.")
    page.locator(".msg", has_text="Ana here").wait_for(timeout=WAIT)


def test_offline_form_when_nobody_is_online(page, asgi_site, host_pages):
    visitor = Visitor(page, asgi_site, host_pages, "live-real-offline")
    visitor.open()  # nobody has been online
    page.get_by_role("button", name="More options").click()
    page.get_by_role("menuitem", name="Leave a message").click()
    page.get_by_text("Nobody is available right now. Leave your email and we'll reply by email.").wait_for()
    assert page.get_by_role("menuitem", name="Talk to a person").is_hidden()
    page.get_by_label("Your email").fill("grace@example.com")
    page.get_by_label("Your message").fill("Please email me the opening hours.")
    page.locator("form.bubble button[type=submit]").click()
    page.get_by_text("Thanks, we'll email you at grace@example.com").wait_for(timeout=WAIT)
    assert page.js_errors == []


def test_resume_from_the_emailed_link_opens_the_conversation_live(browser, page, asgi_site, host_pages):
    """The resume page runs the widget with ``data-resume``: the token becomes a session in
    the same conversation, in another browser, and the agent's replies keep coming live.
    """
    from chat import resume_tokens

    visitor = Visitor(page, asgi_site, host_pages, "live-real-resume").open()
    visitor.ready()
    visitor.reply("Here is your answer, by email too.")
    page.locator(".msg", has_text="Here is your answer").wait_for(timeout=WAIT)
    conversation = visitor.conversation()
    with tenant_context(visitor.tenant):
        token = resume_tokens.resume_token_issue(
            schema=visitor.tenant.schema_name,
            widget_id=visitor.widget.pk,
            contact_public_id=str(conversation.contact.public_id),
            conversation_id=conversation.pk,
        )
    context = browser.new_context()  # elsewhere: nothing in local storage
    other = context.new_page()
    host_pages["/resume"] = host_pages["/live-real-resume"].replace(
        "data-widget=", f'data-resume="{token}" data-widget='
    )
    other.goto(f"{visitor.origin}/resume")  # opens by itself
    other.locator(".msg", has_text="Here is your answer").wait_for(timeout=WAIT)
    visitor.reply("Live on the resumed page as well.")
    other.locator(".msg", has_text="Live on the resumed page").wait_for(timeout=WAIT)
    assert token not in other.url
    context.close()
