"""The widget's live client, frame by frame: the visitor protocol's server side is played by
the test (Playwright routes the widget's WebSocket, and the endpoints other parts of the
platform serve: events, availability, offline message, resume), everything else is the real
widget API. Messages are stored for real (the seq numbers are the database's) and pushed as
the realtime layer would. ``test_widget_live.py`` runs the same paths against the real server.
"""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlparse

from django_tenants.utils import tenant_context

from chat.models import Conversation, Message
from chat.selectors import message_payload
from chat.services.messages import message_append
from tests.browser.conftest import answer_finished, axe_serious_violations
from tests.browser.test_widget_live import off_loop
from tests.tenants.factories import TenantFactory, UserFactory
from widget_builder.models import Widget
from widget_builder.services import widget_allowed_origins_set, widget_publish

WAIT = 10_000  # ms


class Live:
    """A widget on a customer's page, its conversation in the database, and the server side
    of the visitor protocol played by the test."""

    def __init__(self, page, site, host_pages, slug: str, transport: str = "", resume: str = ""):
        self.page = page
        owner = UserFactory(email=f"{slug}@example.com")
        self.tenant = TenantFactory(slug=slug, name="Live Shop", owner=owner)
        self.origin = f"http://customer.test:{host_pages['port']}"
        with tenant_context(self.tenant):
            widget = Widget.objects.get()
            widget_allowed_origins_set(widget=widget, origins=[self.origin])
            self.widget = widget_publish(widget=widget)
        self.ready = True  # answer a hello with "ready" (the widget then counts itself connected)
        self.sockets: list = []  # every socket the widget opened
        self.open: list = []  # those said hello to and not cut
        self.frames: list[dict] = []  # what the widget sent over them
        page.route_web_socket(re.compile(r"/ws/widget/v1/"), self._socket)
        attrs = (f' data-transport="{transport}"' if transport else "") + (
            f' data-resume="{resume}"' if resume else ""
        )
        host_pages[f"/{slug}"] = (
            '<!doctype html><html lang="en"><head><title>Shop</title></head><body><h1>Customer shop</h1>'
            f'<script async src="{site}/w/v1/loader.js" data-widget="{self.widget.key}"{attrs}></script>'
            "</body></html>"
        )
        self.url = f"{self.origin}/{slug}"

    # --- the page -------------------------------------------------------------------------
    def start(self, launch: bool = True):
        self.page.goto(self.url)
        if launch:
            self.page.locator("div[data-chat-widget] button").first.click()
        self.composer = self.page.get_by_label("Write a message…")
        self.composer.wait_for(timeout=WAIT)
        return self

    def session(self) -> dict:
        return self.page.evaluate(f"JSON.parse(localStorage.getItem('chat-widget:{self.widget.key}'))")

    def conversation(self) -> Conversation:
        with tenant_context(self.tenant):
            return Conversation.objects.get(pk=self.session()["conversation_id"])

    def texts(self, selector: str = ".msg .bubble") -> list[str]:
        return self.page.locator(selector).all_inner_texts()

    # --- the server side ------------------------------------------------------------------
    def _socket(self, ws):
        self.sockets.append(ws)
        ws.on_message(lambda raw: self._frame(ws, json.loads(raw)))

    def _frame(self, ws, frame: dict):
        if frame["type"] != "hello":
            self.frames.append(frame)
        if frame["type"] == "hello":
            conversation = self.conversation()
            if self.ready:
                ws.send(
                    json.dumps(
                        {"type": "ready", "conversation": conversation.pk, "status": conversation.status}
                    )
                )
            for message in self.stored(after=frame["after"]):
                ws.send(json.dumps({"type": "message", "message": message}))
            self.open.append(ws)
            self.frames.append(frame)  # last: a test waiting for the hello may push at once
        elif frame["type"] == "ping":
            ws.send(json.dumps({"type": "pong"}))

    def stored(self, after: int = 0) -> list[dict]:
        with tenant_context(self.tenant):
            return [
                {**message_payload(m), "author_name": m.author_name}
                for m in Message.objects.filter(
                    conversation_id=self.session()["conversation_id"], seq__gt=after
                )
                .exclude(role=Message.Role.NOTE)
                .order_by("seq")
            ]

    def agent_says(self, text: str, push: bool = True) -> dict:
        """An agent's reply: stored, and pushed to the open sockets unless cut off."""
        conversation = self.conversation()

        def store():
            with tenant_context(self.tenant):
                Conversation.objects.filter(pk=conversation.pk).update(status=Conversation.Status.AGENT)
                message, _ = message_append(
                    conversation=conversation, role=Message.Role.AGENT, text=text, author_name="Ana"
                )
                return {**message_payload(message), "author_name": "Ana"}

        payload = off_loop(store)  # the service publishes too: not from Playwright's loop
        if push:
            self.push({"type": "message", "message": payload})
        return payload

    def push(self, frame: dict):
        for ws in self.open:
            ws.send(json.dumps(frame))

    def cut(self):
        for ws in self.open:
            ws.close(code=1012, reason="restart")
        self.open.clear()

    def hellos(self) -> list[dict]:
        return [f for f in self.frames if f["type"] == "hello"]

    def wait(self, predicate, what: str, timeout: float = WAIT):
        """Until ``predicate()`` holds, letting the browser (and the routes' handlers) run."""
        for _ in range(int(timeout / 50)):
            if predicate():
                return
            self.page.wait_for_timeout(50)
        raise AssertionError(f"timed out waiting for {what}")


def cors(route, status: int = 200, body: object = None, content_type: str = "application/json"):
    """Answer a routed cross-origin call (its preflight too) as the widget API would."""
    origin = route.request.headers.get("origin", "*")
    headers = {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Headers": "Authorization, Content-Type, Accept, Last-Event-ID",
        "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    }
    if route.request.method == "OPTIONS":
        return route.fulfill(status=204, headers=headers)
    text = body if isinstance(body, str) else json.dumps(body if body is not None else {})
    return route.fulfill(status=status, headers={**headers, "Content-Type": content_type}, body=text)


def test_live_messages_typing_read_and_reconnect_without_loss_or_duplicates(page, site, host_pages, live_db):
    live = Live(page, site, host_pages, "live-ws").start()
    live.wait(lambda: live.hellos(), "the hello frame")
    session = live.session()
    assert live.hellos()[0] == {
        "type": "hello",
        "token": session["token"],
        "conversation": session["conversation_id"],
        "after": 0,
    }

    # an agent joins, types, replies: shown live, with their name, as Markdown
    live.push({"type": "status", "status": "agent", "agent_name": "Ana"})
    live.push({"type": "typing", "who": "agent", "name": "Ana", "typing": True})
    page.get_by_text("Ana is typing…").wait_for(timeout=WAIT)
    first = live.agent_says("**Hi**, I'm Ana. How can I help?")
    reply = page.locator(".msg", has_text="I'm Ana")
    reply.wait_for(timeout=WAIT)
    assert reply.locator(".who").inner_text() == "Ana"
    assert reply.locator("strong").inner_text() == "Hi"
    assert page.get_by_text("Ana is typing…").count() == 0
    # read receipt for what the visitor saw, the panel being open
    live.wait(lambda: {"type": "read", "seq": first["seq"]} in live.frames, "the read receipt")

    # the visitor's typing: one "typing" while typing (at most every 2 s), "stopped" on send
    live.composer.press_sequentially("Where is my order", delay=40)
    live.wait(lambda: {"type": "typing", "typing": True} in live.frames, "typing")
    assert live.frames.count({"type": "typing", "typing": True}) == 1
    live.composer.press("Enter")
    mine = page.locator("p.bubble.mine", has_text="Where is my order")
    mine.wait_for(timeout=WAIT)
    live.wait(lambda: {"type": "typing", "typing": False} in live.frames, "typing stopped")
    # the visitor's own message and the reply, pushed again by the server: shown once
    for message in live.stored():
        live.push({"type": "message", "message": message})
    live.push({"type": "read", "who": "agent", "seq": live.stored()[-1]["seq"]})
    page.locator("p.bubble.mine + .seen").wait_for(timeout=WAIT)
    assert page.locator(".seen").inner_text() == "Seen"
    assert live.texts("p.bubble.mine") == ["Where is my order"]
    assert live.texts() == ["Hi, I'm Ana. How can I help?"]
    assert axe_serious_violations(page) == []  # the agent's name, "Seen", the typing line

    # the socket drops; three replies meanwhile; the widget reconnects from the last seq it showed
    last = live.stored()[-1]["seq"]
    live.cut()
    replies = [live.agent_says(f"Update {n}", push=False) for n in (1, 2, 3)]
    live.wait(lambda: len(live.hellos()) == 2, "the reconnection")
    assert live.hellos()[1]["after"] == last
    page.locator(".msg", has_text="Update 3").wait_for(timeout=WAIT)
    for message in replies:  # a late duplicate from the server changes nothing
        live.push({"type": "message", "message": message})
    page.wait_for_timeout(200)
    assert live.texts() == ["Hi, I'm Ana. How can I help?", "Update 1", "Update 2", "Update 3"]
    seqs = page.locator("[data-seq]").evaluate_all("ns => ns.map(n => +n.getAttribute('data-seq'))")
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs))

    # resolved by the agent: the rating flow
    live.push({"type": "status", "status": "closed"})
    page.get_by_text("How was this conversation?").wait_for(timeout=WAIT)
    assert page.js_errors == []


BLOCKED_WEBSOCKET = """
window.__sockets = 0;
window.WebSocket = function () {  // a network that refuses WebSockets: never opens
  var s = this; window.__sockets++;
  setTimeout(function () { if (s.onclose) s.onclose({code: 1006}); }, 20);
};
window.WebSocket.prototype.close = function () {};
window.WebSocket.prototype.send = function () { throw new Error("not open"); };
"""


def _events(messages: list[dict]) -> str:
    return (
        "".join(f"event: message\nid: {m['seq']}\ndata: {json.dumps(m)}\n\n" for m in messages) + ": bye\n\n"
    )


def test_blocked_websocket_falls_back_to_server_sent_events(page, site, host_pages, live_db):
    live = Live(page, site, host_pages, "live-sse")
    calls: list[tuple[str, dict]] = []

    def events(route):
        if route.request.method != "OPTIONS":
            calls.append((route.request.url, route.request.headers))
            after = int(parse_qs(urlparse(route.request.url).query).get("after", ["0"])[0])
            return cors(route, body=_events(live.stored(after=after)), content_type="text/event-stream")
        return cors(route)

    posted: list[tuple[str, dict]] = []

    def typing_read(route):
        if route.request.method == "POST":
            posted.append((route.request.url.rsplit("/", 1)[1], route.request.post_data_json))
        return cors(route, body={})

    page.route(re.compile(r"/conversations/\d+/events"), events)
    page.route(re.compile(r"/conversations/\d+/(typing|read)$"), typing_read)
    page.add_init_script(BLOCKED_WEBSOCKET)
    live.start()
    live.wait(lambda: calls, "the event stream")
    assert page.evaluate("window.__sockets") == 2  # two failed attempts, then events
    url, headers = calls[0]
    token = live.session()["token"]
    assert headers["authorization"] == f"Bearer {token}" and token not in url
    assert headers["accept"] == "text/event-stream"

    live.agent_says("Hello from the team")
    page.locator(".msg", has_text="Hello from the team").wait_for(timeout=WAIT)
    for n in (1, 2, 3):
        live.agent_says(f"Update {n}")
    page.locator(".msg", has_text="Update 3").wait_for(timeout=WAIT)
    page.wait_for_timeout(800)  # more reconnections, each from the last seq: nothing twice
    assert live.texts() == ["Hello from the team", "Update 1", "Update 2", "Update 3"]
    last = live.stored()[-1]["seq"]
    assert f"after={last}" in calls[-1][0]

    # typing and read receipts go by POST
    live.wait(lambda: ("read", {"seq": last}) in posted, "the read receipt")
    live.composer.press_sequentially("ok", delay=30)
    live.wait(lambda: ("typing", {"typing": True}) in posted, "typing")
    assert page.js_errors == []


LAYER_DOWN_WEBSOCKET = """
window.__sockets = 0;
window.WebSocket = function () {  // opens, then the server closes it with 1013 (Redis down)
  var s = this; window.__sockets++;
  setTimeout(function () {
    if (s.onopen) s.onopen({});
    setTimeout(function () { if (s.onclose) s.onclose({code: 1013}); }, 20);
  }, 20);
};
window.WebSocket.prototype.close = function () {};
window.WebSocket.prototype.send = function () {};
"""


def test_a_socket_the_server_cannot_serve_live_falls_back_to_events(page, site, host_pages, live_db):
    """The server closes a socket with 1013 when its channel layer is down (Redis): the
    widget counts that as a failed open and, after two, reads server-sent events."""
    live = Live(page, site, host_pages, "live-1013")
    calls: list[str] = []

    def events(route):
        if route.request.method != "OPTIONS":
            calls.append(route.request.url)
            after = int(parse_qs(urlparse(route.request.url).query).get("after", ["0"])[0])
            return cors(route, body=_events(live.stored(after=after)), content_type="text/event-stream")
        return cors(route)

    page.route(re.compile(r"/conversations/\d+/events"), events)
    page.add_init_script(LAYER_DOWN_WEBSOCKET)
    live.start()
    live.wait(lambda: calls, "the event stream")
    assert page.evaluate("window.__sockets") == 2  # two sockets closed with 1013, then events
    live.agent_says("Still here")
    page.locator(".msg", has_text="Still here").wait_for(timeout=WAIT)
    assert page.js_errors == []


def test_a_server_restart_1012_reconnects_at_once_without_backing_off(page, site, host_pages, live_db):
    """A web process shutting down closes its sockets with 1012 (uvicorn; saas.shutdown): the
    widget opens a new one at once, every time. Here no socket gets as far as "ready" (which
    resets the back-off): backing off (1, 2, 5, 10 s, jittered), the fourth socket would come
    4 to 6 s after its cut, past the wait below."""
    live = Live(page, site, host_pages, "live-1012")
    live.ready = False
    live.start()
    live.wait(lambda: live.hellos(), "the hello frame")
    for n in range(2, 6):
        live.cut()  # 1012, "restart"
        live.wait(lambda n=n: len(live.hellos()) == n, f"socket {n}", timeout=3_000)
    assert page.js_errors == []


def test_forced_polling(page, site, host_pages, live_db):
    live = Live(page, site, host_pages, "live-poll", transport="poll").start()
    live.agent_says("First")
    page.locator(".msg", has_text="First").wait_for(timeout=WAIT)
    for n in (1, 2, 3):
        live.agent_says(f"Update {n}")
    page.locator(".msg", has_text="Update 3").wait_for(timeout=WAIT)
    page.wait_for_timeout(3500)  # another poll: nothing twice
    assert live.texts() == ["First", "Update 1", "Update 2", "Update 3"]
    assert live.sockets == []  # forced: no WebSocket at all
    assert page.js_errors == []


def _menu(page):
    page.get_by_role("button", name="More options").click()
    return page.get_by_role("menu")


def test_talk_to_a_person_when_someone_is_available(page, site, host_pages, live_db):
    live = Live(page, site, host_pages, "live-human")
    asked: list[str] = []

    def availability(route):
        asked.append(route.request.method)
        return cors(route, body={"human": {"enabled": True, "available": True}})

    page.route(re.compile(r"/availability$"), availability)
    live.start()
    menu = _menu(page)
    item = menu.get_by_role("menuitem", name="Talk to a person")
    item.wait_for(timeout=WAIT)
    item.click()
    page.locator("p.sys").last.wait_for(timeout=WAIT)  # the handoff's note
    assert live.conversation().status == Conversation.Status.WAITING
    _menu(page)
    assert page.get_by_role("menuitem", name="Talk to a person").is_hidden()  # asked already
    assert page.js_errors == []


def test_nobody_available_offline_message(page, site, host_pages, live_db):
    live = Live(page, site, host_pages, "live-offline")
    sent: list[dict] = []

    def offline(route):
        if route.request.method != "POST":
            return cors(route)
        body = route.request.post_data_json
        sent.append(body)
        if "@" not in body["email"]:
            errors = {"email": [{"code": "invalid", "message": "Enter a valid email address."}]}
            return cors(route, 422, {"title": "Invalid input.", "errors": errors}, "application/problem+json")
        return cors(route, 201, {"email": body["email"]})

    page.route(
        re.compile(r"/availability$"),
        lambda r: cors(r, body={"human": {"enabled": True, "available": False}}),
    )
    page.route(re.compile(r"/conversations/\d+/offline$"), offline)
    live.start()
    _menu(page).get_by_role("menuitem", name="Leave a message").click()
    page.get_by_text("Nobody is available right now. Leave your email and we'll reply by email.").wait_for()
    page.get_by_label("Your email").fill("not-an-address")
    page.get_by_label("Your message").fill("Please call me back about order 42.")
    page.get_by_role("button", name="Send", exact=True).first.click()
    error = page.get_by_text("Enter a valid email address.")
    error.wait_for(timeout=WAIT)
    assert page.get_by_label("Your email").get_attribute("aria-invalid") == "true"
    assert axe_serious_violations(page) == []
    page.get_by_label("Your email").fill("grace@example.com")
    page.locator("form.bubble button[type=submit]").click()
    page.get_by_text("Thanks, we'll email you at grace@example.com").wait_for(timeout=WAIT)
    assert sent[-1] == {"email": "grace@example.com", "message": "Please call me back about order 42."}
    assert live.conversation().status == Conversation.Status.BOT  # no handoff: nobody to take it
    assert page.js_errors == []


def test_no_availability_endpoint_no_menu_item(page, site, host_pages, live_db):
    live = Live(page, site, host_pages, "live-noavail")
    page.route(re.compile(r"/availability$"), lambda r: cors(r, 404, {"title": "Not found."}))
    live.start()
    _menu(page)
    assert page.get_by_role("menuitem", name="Email me the transcript").is_visible()
    assert page.get_by_role("menuitem", name="Talk to a person").is_hidden()
    assert page.get_by_role("menuitem", name="Leave a message").is_hidden()


def test_resume_from_an_email_link(browser, page, site, host_pages, live_db):
    # the visitor's first visit: a conversation with an agent's reply
    live = Live(page, site, host_pages, "live-resume").start()
    live.composer.fill("Can someone email me?")
    with answer_finished(page):  # the bot's answer, before the agent's reply
        live.composer.press("Enter")
        page.locator("p.bubble.mine", has_text="Can someone email me?").wait_for(timeout=WAIT)
    live.agent_says("Sure, here is the answer.")
    stored = live.session()

    # later, elsewhere (no local storage): the resume page runs the widget with the link's token
    context = browser.new_context()
    other = context.new_page()
    exchanged: list[dict] = []

    def resume(route):
        if route.request.method == "POST":
            exchanged.append(route.request.post_data_json)
        return cors(route, 200, stored)

    other.route(re.compile(r"/session/resume$"), resume)
    again = Live.__new__(Live)
    again.__dict__.update(live.__dict__, page=other, sockets=[], open=[], frames=[])
    other.route_web_socket(re.compile(r"/ws/widget/v1/"), again._socket)
    host_pages["/resume-page"] = host_pages["/live-resume"].replace(
        "data-widget=", 'data-resume="rs_token" data-widget='
    )
    other.goto(f"{live.origin}/resume-page")  # opens by itself
    other.locator(".msg", has_text="Sure, here is the answer.").wait_for(timeout=WAIT)
    assert exchanged == [{"resume": "rs_token"}]
    assert other.locator("p.bubble.mine").all_inner_texts() == ["Can someone email me?"]
    assert "rs_token" not in other.url
    context.close()
