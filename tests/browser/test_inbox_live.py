"""The inbox live, on a real ASGI server (uvicorn, the production stack): the agent socket
connects under the Content-Security-Policy (connect-src 'self' covers the same host's
ws:), a visitor's message appears in the open conversation without a reload, the list
page's row and counts follow, and notifications are dispatched as ``inbox:notification``
events for the toasts (static/chat/notify.js)."""

from __future__ import annotations

import threading

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from chat.models import Conversation, Message
from chat.realtime import events
from chat.services.messages import visitor_message_send
from tests.browser.conftest import PageProblems, signed_in
from tests.chat.factories import ContactFactory, ConversationFactory, MessageFactory
from tests.tenants.factories import TenantFactory, UserFactory
from widget_builder.models import Widget

WAIT = 10_000


@pytest.fixture
def workspace(asgi_live_port, live_db):
    owner = UserFactory(email="ines@live.example.com", first_name="Ines")
    tenant = TenantFactory(slug="inbox-live", name="Harbour Bikes", owner=owner)
    with tenant_context(tenant):
        widget = Widget.objects.get()
        contact = ContactFactory(widget=widget, name="Otto", email="otto@example.org")
        conversation = ConversationFactory(widget=widget, contact=contact, status=Conversation.Status.WAITING)
        first = MessageFactory(conversation=conversation, role=Message.Role.VISITOR, text="My brake squeaks.")
        Conversation.objects.filter(pk=conversation.pk).update(
            last_visitor_seq=first.seq, last_message_at=timezone.now(), assignee_user_id=owner.pk
        )
    return {"owner": owner, "tenant": tenant, "conversation": conversation, "host": "inbox-live.saas.test"}


def test_a_visitors_message_reaches_the_conversation_and_the_list_live(browser, workspace, asgi_live_port):
    base = f"http://{workspace['host']}:{asgi_live_port}"
    conversation = workspace["conversation"]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    detail, listing = context.new_page(), context.new_page()
    problems = PageProblems(detail)
    signed_in(detail, workspace["owner"], workspace["host"])
    detail.goto(f"{base}/dashboard/conversations/{conversation.pk}/")
    listing.goto(f"{base}/dashboard/conversations/?view=mine")
    for page in (detail, listing):
        page.wait_for_selector('#inbox-live[data-socket="open"]', timeout=WAIT)
    listing.evaluate(
        "() => { window.__notes = [];"
        " document.addEventListener('inbox:notification', e => window.__notes.push(e.detail)); }"
    )

    _visitor_writes(workspace["tenant"], conversation.pk, "Is anyone there?")

    detail.locator(".msg-visitor").get_by_text("Is anyone there?").wait_for(timeout=WAIT)
    assert detail.locator("#transcript > li").count() == 2
    listing.locator(".inbox-row .preview").get_by_text("Is anyone there?").wait_for(timeout=WAIT)
    found = problems.read(detail)
    assert found["CSP violations"] == [] and found["console errors"] == [], found
    # the visitor's message to a waiting conversation notifies the inbox: an
    # inbox:notification event (notify.js shows it)

    # the visitor types (with a preview), the agent replies, the visitor reads it
    tenant, cid = workspace["tenant"], conversation.pk
    _ephemeral(
        tenant,
        cid,
        {"type": "conv.typing", "who": "visitor", "name": "Otto", "typing": True, "preview": "it also"},
    )
    detail.get_by_text("Otto is typing: it also").wait_for(timeout=WAIT)
    composer = detail.locator("[data-composer-text]")
    composer.fill("Let me check.")
    composer.press("Enter")
    reply = detail.locator(".msg-agent").filter(has_text="Let me check.")
    reply.wait_for(timeout=WAIT)
    assert detail.locator("#visitor-typing").is_hidden()
    seq = int(reply.get_attribute("data-seq"))
    assert reply.locator("[data-seen]").is_hidden()
    _ephemeral(tenant, cid, {"type": "conv.read", "who": "visitor", "seq": seq})
    reply.locator("[data-seen]").wait_for(timeout=WAIT)
    # the bot's answer being written, then done
    _ephemeral(tenant, cid, {"type": "conv.delta", "text": "<b>Checking</b> the"})
    _ephemeral(tenant, cid, {"type": "conv.delta", "text": " manual"})
    detail.get_by_text("<b>Checking</b> the manual").wait_for(timeout=WAIT)  # text, never markup
    _ephemeral(tenant, cid, {"type": "conv.delta", "kind": "delta_end"})
    detail.locator("#bot-writing").wait_for(state="hidden", timeout=WAIT)
    listing.wait_for_function(
        "id => window.__notes.some(n => n.kind === 'message' && n.conversation === id)",
        arg=conversation.pk,
        timeout=WAIT,
    )
    assert listing.locator('[data-count="mine"]').inner_text() == "1"
    context.close()


def _visitor_writes(tenant, conversation_id: int, text: str) -> None:
    """The visitor's message, stored and published as the widget API does."""

    def write() -> None:
        conversation = Conversation.objects.get(pk=conversation_id)
        visitor_message_send(conversation=conversation, text=text)

    _in_schema(tenant, write)


def _ephemeral(tenant, conversation_id: int, event: dict) -> None:
    _in_schema(tenant, lambda: events.ephemeral(conversation_id, {"conversation": conversation_id, **event}))


def _in_schema(tenant, work) -> None:
    """Run ``work`` in the tenant's schema on another thread (this one runs Playwright's
    event loop, where the channel layer's sync wrapper refuses to publish)."""
    from django.db import connection

    failed: list[BaseException] = []

    def run() -> None:
        try:
            with tenant_context(tenant):
                work()
        except BaseException as error:  # reported below, in the test's thread
            failed.append(error)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(15)
    assert not failed, failed
