"""The inbox in a real browser: the composer's "/" opens the canned replies, Enter inserts
one with its variables filled, Enter sends it (htmx) and the reply appears in the
transcript; a private note is set apart; resolving from the actions bar; the list page's
views. Screenshots of the inbox at 1,280 and 360 px go to build/screenshots/ for review."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from chat.models import CannedReply, Conversation, Message
from tests.browser.conftest import PageProblems, axe_serious_violations, signed_in
from tests.chat.factories import ContactFactory, ConversationFactory, MessageFactory
from tests.tenants.factories import TenantFactory, UserFactory
from widget_builder.models import Widget

SHOTS = Path(os.environ.get("SCREENSHOTS_DIR") or Path(__file__).parents[2] / "build" / "screenshots")
WAIT = 10_000


@pytest.fixture
def inbox(live_port, live_db):
    owner = UserFactory(email="lena@inbox.example.com", first_name="Lena", last_name="Berg")
    tenant = TenantFactory(slug="inbox-browser", name="Fjord Outfitters", owner=owner)
    with tenant_context(tenant):
        widget = Widget.objects.get()
        CannedReply.objects.create(
            shortcut="thanks",
            title="Thank you",
            text="Thanks {{contact.name}}! {{agent.name}} from {{workspace.name}}",
        )
        CannedReply.objects.create(shortcut="shipping", title="Shipping times", text="We ship within 2 days.")
        people = [
            (
                "Ada Lovelace",
                "ada@example.org",
                Conversation.Status.WAITING,
                "Can a person help me with my order?",
            ),
            ("Grace Hopper", "grace@example.org", Conversation.Status.BOT, "Do you ship to Norway?"),
            ("", "", Conversation.Status.CLOSED, "Thanks, that is all."),
        ]
        made = []
        for name, email, status, text in people:
            contact = ContactFactory(
                widget=widget, name=name, email=email, page_url="https://fjord.example/tents"
            )
            conversation = ConversationFactory(widget=widget, contact=contact, status=status)
            message = MessageFactory(conversation=conversation, role=Message.Role.VISITOR, text=text)
            MessageFactory(
                conversation=conversation,
                role=Message.Role.BOT,
                text="Let me find someone for you.",
                outcome="handoff",
            )
            Conversation.objects.filter(pk=conversation.pk).update(
                last_visitor_seq=message.seq, last_message_at=timezone.now()
            )
            made.append(conversation)
        MessageFactory(
            conversation=made[0],
            role=Message.Role.NOTE,
            text="Order #1234, shipped late.",
            author_name="Lena",
        )
    return {
        "owner": owner,
        "host": "inbox-browser.saas.test",
        "port": live_port,
        "conversations": made,
        "tenant": tenant,
    }


def _url(inbox, path: str) -> str:
    return f"http://{inbox['host']}:{inbox['port']}{path}"


def test_slash_inserts_a_canned_reply_enter_sends_it_and_resolve(browser, inbox):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems = PageProblems(page)
    signed_in(page, inbox["owner"], inbox["host"])
    conversation = inbox["conversations"][0]
    page.goto(_url(inbox, f"/dashboard/conversations/{conversation.pk}/"))
    assert page.locator(".msg-note").get_by_text("Only your team sees this", exact=False).is_visible()

    composer = page.locator("[data-composer-text]")
    composer.click()
    composer.type("/")
    options = page.locator("#canned-list [role=option]")
    options.first.wait_for(timeout=WAIT)
    assert options.count() == 2
    page.screenshot(path=str(_shot("inbox-canned-list-1280")), caret="initial")  # no injected style
    composer.type("th")
    assert options.count() == 1 and "/thanks" in options.first.inner_text()
    composer.press("Enter")
    assert composer.input_value() == "Thanks Ada Lovelace! Lena Berg from Fjord Outfitters"
    assert page.locator("#canned-list").is_hidden()
    page.screenshot(path=str(_shot("inbox-composer-1280")), caret="initial")  # no injected style

    composer.press("Enter")  # sends (htmx), the reply is fetched into the transcript
    page.locator(".msg-agent").get_by_text("Thanks Ada Lovelace!", exact=False).wait_for(timeout=WAIT)
    assert page.locator("[data-composer-text]").input_value() == ""
    with tenant_context(inbox["tenant"]):
        sent = Message.objects.filter(conversation=conversation, role=Message.Role.AGENT).get()
        assert sent.text.startswith("Thanks Ada") and sent.author_user_id == inbox["owner"].pk

    page.locator("[data-composer-text]").fill("Line one")
    page.locator("[data-composer-text]").press("Shift+Enter")
    page.locator("[data-composer-text]").type("line two")
    assert page.locator("[data-composer-text]").input_value() == "Line one\nline two"

    page.get_by_role("button", name="Resolve").click()
    page.wait_for_url(re.compile(rf"/dashboard/conversations/{conversation.pk}/$"))
    assert page.get_by_text("Resolved.").first.is_visible()
    assert page.get_by_role("button", name="Reopen").is_visible()
    found = problems.read(page)
    assert [
        p for kind in ("console errors", "uncaught exceptions", "CSP violations") for p in found[kind]
    ] == []
    context.close()


@pytest.mark.parametrize("width", [1280, 360])
def test_inbox_pages_fit_and_pass_axe(browser, inbox, width):
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    problems = PageProblems(page)
    signed_in(page, inbox["owner"], inbox["host"])
    conversation = inbox["conversations"][0]
    for name, path in (
        ("list", "/dashboard/conversations/"),
        ("unassigned", "/dashboard/conversations/?view=unassigned"),
        ("conversation", f"/dashboard/conversations/{conversation.pk}/"),
        ("canned", "/dashboard/conversations/canned-replies/"),
        ("settings", "/dashboard/conversations/settings/"),
        ("preferences", "/dashboard/conversations/preferences/"),
    ):
        problems.reset()
        page.goto(_url(inbox, path))
        wide = page.evaluate("document.documentElement.scrollWidth - innerWidth")
        page.screenshot(path=str(_shot(f"inbox-{name}-{width}")), full_page=True)
        assert wide <= 0, f"{path} is {wide}px wider than the screen at {width}"
        assert axe_serious_violations(page) == [], path
        found = problems.read(page)
        assert [p for kind in found.values() for p in kind] == [], (path, found)
    context.close()


def _shot(name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS / f"{name}.png"
