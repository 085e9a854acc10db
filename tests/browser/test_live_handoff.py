"""A handoff that reaches a person, end to end, in two browsers on the real ASGI server:
a visitor on a customer's page (another origin) asks for a human in words; the agent's
inbox shows it live with a notification; the agent takes over and replies; the reply
appears in the widget without a reload; the visitor's typing shows in the inbox; the agent
resolves; the visitor rates."""

from __future__ import annotations

from pathlib import Path

from django_tenants.utils import tenant_context

from chat.models import Conversation
from chat.services.agents import inbox_settings_update
from tests.browser.conftest import PageProblems, signed_in
from tests.browser.test_widget_live import WAIT, Visitor, off_loop


def test_a_visitor_asks_for_a_human_and_an_agent_answers_live(
    browser, page, asgi_site, host_pages, asgi_live_port
):
    visitor = Visitor(page, asgi_site, host_pages, "live-handoff")

    def no_auto_assignment():
        with tenant_context(visitor.tenant):
            inbox_settings_update(auto_assign=False)  # the agent takes it over by hand

    off_loop(no_auto_assignment)

    # The agent (Ana, the workspace's owner) has the inbox open in her own browser.
    host = f"{visitor.tenant.slug}.saas.test"
    agent_context = browser.new_context(viewport={"width": 1280, "height": 900})
    inbox = agent_context.new_page()
    problems = PageProblems(inbox)
    agent_frames: list[str] = []

    def watch(ws):
        ws.on("framesent", lambda payload: agent_frames.append(f"> {payload}"))
        ws.on("framereceived", lambda payload: agent_frames.append(f"< {payload[:120]}"))
        ws.on("close", lambda _ws: agent_frames.append("closed"))

    inbox.on("websocket", watch)
    signed_in(inbox, visitor.agent, host)
    inbox.goto(f"http://{host}:{asgi_live_port}/dashboard/conversations/?view=waiting")
    inbox.wait_for_selector('#inbox-live[data-socket="open"]', timeout=WAIT)
    inbox.evaluate(
        "() => { window.__notes = [];"
        " document.addEventListener('inbox:notification', e => window.__notes.push(e.detail)); }"
    )

    # The visitor asks for a person in words: handed off, no bot answer.
    visitor.open()
    visitor.composer.fill("I want to talk to a human agent, please.")
    visitor.composer.press("Enter")
    page.locator("p.sys", has_text="You asked for a person").wait_for(timeout=WAIT)

    # The inbox shows it live, with a notification (event and toast).
    row = inbox.locator(".inbox-row", has_text="I want to talk to a human agent")
    row.wait_for(timeout=WAIT)
    inbox.wait_for_function("() => window.__notes.some(n => n.kind === 'handoff')", timeout=WAIT)
    inbox.locator("ul.toasts li").first.wait_for(timeout=WAIT)
    conversation = visitor.conversation()
    assert conversation.status == Conversation.Status.WAITING

    # The agent opens it and takes over; the bot stops.
    row.locator("a").first.click()
    inbox.wait_for_selector('#inbox-live[data-socket="open"]', timeout=WAIT)
    inbox.get_by_role("button", name="Take over").click()
    inbox.get_by_role("button", name="Resolve").wait_for(timeout=WAIT)
    page.locator("p.sys", has_text="Ana joined the conversation").wait_for(timeout=WAIT)

    # The agent replies: the reply appears in the widget without a reload.
    inbox.wait_for_selector('#inbox-live[data-socket="open"]', timeout=WAIT)
    composer = inbox.locator("[data-composer-text]")
    composer.fill("Hi, I'm Ana. What can I do for you?")
    composer.press("Enter")
    reply = page.locator(".msg", has_text="What can I do for you?")
    reply.wait_for(timeout=WAIT)
    assert reply.locator(".who").inner_text() == "Ana"
    assert page.locator("#cw-title").inner_text() == "Ana"  # the header says who has it

    # The visitor types: the inbox shows it (recorded when it shows: the line hides again
    # once the visitor stops, and a slow machine may not look in between).
    inbox.evaluate(
        "() => { const line = document.getElementById('visitor-typing'); window.__typingShown = '';"
        " new MutationObserver(() => { if (!line.hidden) window.__typingShown = line.textContent.trim(); })"
        ".observe(line, {attributes: true, childList: true, subtree: true}); }"
    )
    visitor.composer.press_sequentially("My order", delay=30)
    try:
        inbox.wait_for_function("() => window.__typingShown", timeout=WAIT)
    except Exception as exc:  # what crossed the sockets, to tell where it stopped
        raise AssertionError(f"visitor sent {visitor.sent[-6:]}; agent socket {agent_frames[-12:]}") from exc
    assert "typing" in inbox.evaluate("window.__typingShown")
    visitor.composer.press("Enter")
    inbox.locator(".msg-visitor", has_text="My order").wait_for(timeout=WAIT)

    shots = Path("build/screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    inbox.screenshot(path=shots / "live-handoff-inbox-1280.png")
    page.screenshot(path=shots / "live-handoff-widget-1024.png")
    inbox.set_viewport_size({"width": 360, "height": 780})
    inbox.screenshot(path=shots / "live-handoff-inbox-360.png")
    inbox.set_viewport_size({"width": 1280, "height": 900})

    # The agent resolves: the visitor is asked to rate, and rates.
    inbox.get_by_role("button", name="Resolve").click()
    page.get_by_text("How was this conversation?").wait_for(timeout=WAIT)
    page.get_by_role("button", name="Rate 5 out of 5").click()
    page.get_by_role("button", name="Submit").click()
    page.get_by_text("Thanks for your rating!").wait_for(timeout=WAIT)

    # No toast for a message in the conversation the agent is looking at (it is on screen).
    assert inbox.locator("ul.toasts li", has_text="New message from").count() == 0
    conversation = visitor.conversation()
    assert conversation.status == Conversation.Status.CLOSED and conversation.csat_score == 5
    assert conversation.assignee_user_id == visitor.agent.pk
    found = problems.read(inbox)
    assert found["CSP violations"] == [] and found["console errors"] == [], found
    assert page.js_errors == []
    agent_context.close()
