"""Several conversations per visitor, in the widget against the real server (uvicorn, the
WebSocket transport): a returning visitor opens the list from the header, opens an earlier
conversation (the live transport follows it: an agent's reply there arrives at once),
renames one in place, deletes one after confirming, starts a new one. Keyboard and focus
along the way; the list at phone and desktop widths is screenshotted. The server-sent events
and polling transports follow the opened conversation too; the list comes a page at a time."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from pathlib import Path

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from chat.models import Conversation, Message
from chat.services import message_append
from tests.browser.conftest import answer_finished, horizontal_overflow
from tests.browser.test_widget_live import WAIT, Visitor, off_loop
from tests.chat.factories import ConversationFactory

SHOTS = Path(os.environ.get("SCREENSHOT_DIR") or Path(tempfile.gettempdir()) / "shots-widget")


def _earlier(visitor: Visitor, contact_id: int, text: str, hours_ago: int, reply: str = "") -> Conversation:
    """A conversation of an earlier visit: the visitor's question, maybe an agent's reply
    (off Playwright's event loop: storing a message publishes it)."""
    return off_loop(_store_earlier, visitor, contact_id, text, hours_ago, reply)


def _store_earlier(visitor: Visitor, contact_id: int, text: str, hours_ago: int, reply: str) -> Conversation:
    with tenant_context(visitor.tenant):
        conversation = ConversationFactory(widget=visitor.widget, contact_id=contact_id)
        message_append(conversation=conversation, role=Message.Role.VISITOR, text=text)
        if reply:
            message_append(conversation=conversation, role=Message.Role.AGENT, text=reply, author_name="Ana")
        Conversation.objects.filter(pk=conversation.pk).update(
            updated_at=timezone.now() - dt.timedelta(hours=hours_ago)
        )
        return conversation


def _active(page) -> str:
    return page.evaluate(
        "() => { const a = document.querySelector('[data-chat-widget]').shadowRoot.activeElement;"
        " return a ? (a.getAttribute('aria-label') || a.textContent) : ''; }"
    )


def test_a_returning_visitor_lists_opens_renames_deletes_and_starts_conversations(
    page, asgi_site, host_pages
):
    visitor = Visitor(page, asgi_site, host_pages, "convs-shop").open()
    visitor.ready()
    with answer_finished(page):
        visitor.composer.fill("Where is my parcel?")
        visitor.composer.press("Enter")
        page.locator("p.bubble.mine", has_text="Where is my parcel?").wait_for(timeout=WAIT)
    current = visitor.conversation()
    shipping = _earlier(
        visitor,
        current.contact_id,
        "Do you ship to Canada?",
        3,
        reply="**Yes**, in [5 days](https://x.example/s) [1].",
    )
    returns = _earlier(visitor, current.contact_id, "Can I return shoes?", 30)

    # A later visit: the widget comes back on the last conversation, the others one tap away.
    page.reload()
    page.locator("div[data-chat-widget] button").first.click()
    page.locator("p.bubble.mine", has_text="Where is my parcel?").wait_for(timeout=WAIT)
    page.get_by_role("button", name="Your conversations").click()
    items = page.locator("li.citem")
    items.nth(2).wait_for(timeout=WAIT)
    assert page.locator(".ctitle").all_inner_texts() == [
        "Where is my parcel?",
        "Do you ship to Canada?",
        "Can I return shoes?",
    ]
    assert items.nth(0).locator("[aria-current=true]").count() == 1  # the open one, marked
    assert _active(page).startswith("Where is my parcel?")  # focus on it
    assert items.nth(1).locator(".vh", has_text="1 unread").count() == 1  # Ana's reply, unread
    assert items.nth(1).locator(".cprev").inner_text() == "Yes, in 5 days."
    assert page.get_by_label("Write a message…").is_hidden()  # the list takes the chat's place

    SHOTS.mkdir(parents=True, exist_ok=True)
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 800})
        page.wait_for_timeout(100)
        assert horizontal_overflow(page) == ""
        page.screenshot(path=str(SHOTS / f"widget-conversations-{width}.png"))
    page.emulate_media(color_scheme="dark")  # the widget follows the visitor's theme ("auto")
    assert page.locator(".citem").first.evaluate("n => getComputedStyle(n).color") == "rgb(243, 244, 246)"
    page.screenshot(path=str(SHOTS / "widget-conversations-dark-390.png"))
    page.emulate_media(color_scheme="light")

    # Open the earlier one: its messages, and the live transport follows it.
    items.nth(1).locator(".copen").click()
    page.locator(".msg", has_text="Yes, in 5 days").wait_for(timeout=WAIT)
    assert page.locator("p.bubble.mine", has_text="Where is my parcel?").count() == 0
    visitor.wait(lambda: any(h.get("conversation") == shipping.pk for h in visitor.hellos()), "the socket")
    assert visitor.conversation().pk == shipping.pk
    visitor.reply("Your parcel to Canada left today.")
    page.locator(".msg", has_text="Your parcel to Canada left today.").wait_for(timeout=WAIT)
    visitor.wait(lambda: visitor.conversation().visitor_read_seq >= 3, "the read receipt")

    # Rename it in place, from the keyboard; Escape in the field cancels, not the widget.
    page.get_by_role("button", name="Your conversations").click()
    page.get_by_role("button", name="Rename “Do you ship to Canada?”").click()
    field = page.get_by_label("Conversation title")
    field.fill("Half-typed")
    field.press("Escape")
    assert page.get_by_role("dialog").is_visible() and field.count() == 0
    assert _active(page) == "Rename “Do you ship to Canada?”"  # focus back where it was
    page.keyboard.press("Enter")
    field = page.get_by_label("Conversation title")
    page.screenshot(path=str(SHOTS / "widget-conversations-rename-390.png"))
    field.fill("Shipping to Canada")
    field.press("Enter")
    page.locator(".ctitle", has_text="Shipping to Canada").wait_for(timeout=WAIT)
    assert _active(page) == "Rename “Shipping to Canada”"
    with tenant_context(visitor.tenant):
        assert Conversation.objects.get(pk=shipping.pk).title == "Shipping to Canada"

    # Delete one, after confirming (the safe choice has the focus).
    page.get_by_role("button", name="Delete “Can I return shoes?”").click()
    confirm = page.get_by_role("group", name="Delete “Can I return shoes?” and all its messages for good?")
    confirm.wait_for()
    page.screenshot(path=str(SHOTS / "widget-conversations-confirm-390.png"))
    assert _active(page) == "Cancel"
    confirm.get_by_role("button", name="Delete").click()
    page.locator(".ctitle", has_text="Can I return shoes?").wait_for(state="detached", timeout=WAIT)
    page.get_by_role("status").filter(has_text="Conversation deleted.").wait_for(timeout=WAIT)
    with tenant_context(visitor.tenant):
        assert not Conversation.objects.filter(pk=returns.pk).exists()
        assert not Message.objects.filter(conversation_id=returns.pk).exists()

    # Start a new one: the chat view, a new conversation, first in the list.
    page.get_by_role("button", name="New conversation").click()
    composer = page.get_by_label("Write a message…")
    composer.wait_for(timeout=WAIT)
    visitor.wait(lambda: visitor.conversation().pk not in (current.pk, shipping.pk), "the new conversation")
    fresh = visitor.conversation()
    with answer_finished(page):
        composer.fill("A brand new question")
        composer.press("Enter")
        page.locator("p.bubble.mine", has_text="A brand new question").wait_for(timeout=WAIT)
    page.get_by_role("button", name="Your conversations").click()
    page.locator(".ctitle").first.wait_for(timeout=WAIT)
    page.wait_for_function(
        "() => document.querySelector('[data-chat-widget]')"
        ".shadowRoot.querySelectorAll('li.citem').length === 3"
    )
    assert page.locator(".ctitle").all_inner_texts() == [
        "A brand new question",
        "Shipping to Canada",
        "Where is my parcel?",
    ]
    with tenant_context(visitor.tenant):
        assert set(
            Conversation.objects.filter(contact_id=current.contact_id).values_list("pk", flat=True)
        ) == {
            current.pk,
            shipping.pk,
            fresh.pk,
        }
    # The header button goes back to the conversation.
    page.get_by_role("button", name="Back to the conversation").click()
    page.locator("p.bubble.mine", has_text="A brand new question").wait_for(timeout=WAIT)
    assert _active(page) == "Write a message…"
    assert page.js_errors == []


@pytest.mark.parametrize("transport", ["sse", "poll"])
def test_the_fallback_transports_follow_the_conversation_opened(page, asgi_site, host_pages, transport):
    visitor = Visitor(page, asgi_site, host_pages, f"convs-{transport}", transport=transport).open()
    first = visitor.conversation()
    earlier = _earlier(visitor, first.contact_id, "An older question", 2)
    page.get_by_role("button", name="Your conversations").click()
    page.locator(".copen", has_text="An older question").click()
    page.locator("p.bubble.mine", has_text="An older question").wait_for(timeout=WAIT)
    assert visitor.conversation().pk == earlier.pk
    visitor.reply("Answered in the older one")
    page.locator(".msg", has_text="Answered in the older one").wait_for(timeout=WAIT)

    # What happens in the conversation left behind no longer reaches this view.
    def elsewhere():
        with tenant_context(visitor.tenant):
            message_append(conversation=first, role=Message.Role.AGENT, text="Meant for the first one")

    off_loop(elsewhere)
    visitor.reply("Still this one")
    page.locator(".msg", has_text="Still this one").wait_for(timeout=WAIT)
    assert page.locator(".msg", has_text="Meant for the first one").count() == 0
    assert page.js_errors == []


def test_the_list_comes_a_page_at_a_time(page, asgi_site, host_pages):
    visitor = Visitor(page, asgi_site, host_pages, "convs-pages").open()
    contact_id = visitor.conversation().contact_id

    def many():
        with tenant_context(visitor.tenant):
            for n in range(21):
                conversation = ConversationFactory(
                    widget=visitor.widget, contact_id=contact_id, title=f"Old {n:02}"
                )
                Conversation.objects.filter(pk=conversation.pk).update(
                    updated_at=timezone.now() - dt.timedelta(days=n + 1)
                )

    off_loop(many)
    page.get_by_role("button", name="Your conversations").click()
    items = page.locator("li.citem")
    items.nth(19).wait_for(timeout=WAIT)
    assert items.count() == 20
    page.get_by_role("button", name="Show more").click()
    items.nth(21).wait_for(timeout=WAIT)
    assert page.locator(".ctitle").all_inner_texts()[-2:] == ["Old 19", "Old 20"]
    assert page.get_by_role("button", name="Show more").is_hidden()
    assert _active(page).startswith("Old 19")  # focus on the first of the new page
    assert page.js_errors == []
