"""Agent assist in a real browser, offline (no AI provider: deterministic): "Suggest reply"
puts a draft with its sources in the composer without sending it, "Rewrite" > "Fix grammar"
replaces the draft and "Undo" brings it back, "Summarise" fills the summary card. At 1,280
and 360 px: nothing wider than the screen, no serious axe violation, no console error or
CSP violation; screenshots go to build/screenshots/ for review."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django_tenants.utils import tenant_context

from chat.models import Message
from knowledge.retrieval import Passage
from tests.browser.conftest import PageProblems, axe_serious_violations, signed_in
from tests.chat.factories import ContactFactory, ConversationFactory, MessageFactory
from tests.tenants.factories import TenantFactory, UserFactory
from widget_builder.models import Widget

SHOTS = Path(os.environ.get("SCREENSHOTS_DIR") or Path(__file__).parents[2] / "build" / "screenshots")
WAIT = 10_000
PASSAGES = [
    Passage(
        text="Tents ship within 2 business days. Shipping to Norway takes 3 to 5 days.",
        title="Shipping policy",
        url="https://fjord.example/shipping",
        rank=1,
    )
]


@pytest.fixture
def assisted(live_port, live_db, settings, monkeypatch):
    settings.LLM_PROVIDER = ""
    settings.ANTHROPIC_API_KEY = settings.OPENAI_API_KEY = ""
    monkeypatch.setattr("knowledge.retrieval.retrieve", lambda **kwargs: PASSAGES)
    owner = UserFactory(email="lena@assist.example.com", first_name="Lena", last_name="Berg")
    tenant = TenantFactory(slug="assist-browser", name="Fjord Outfitters", owner=owner)
    with tenant_context(tenant):
        widget = Widget.objects.get()
        contact = ContactFactory(widget=widget, name="Ada Lovelace", email="ada@example.org", locale="en")
        conversation = ConversationFactory(widget=widget, contact=contact, status="waiting")
        MessageFactory(
            conversation=conversation,
            role=Message.Role.VISITOR,
            text="How long does shipping to Norway take?",
        )
        MessageFactory(conversation=conversation, role=Message.Role.BOT, text="Let me find someone for you.")
    return {
        "owner": owner,
        "host": "assist-browser.saas.test",
        "port": live_port,
        "conversation": conversation,
    }


@pytest.mark.parametrize("width", [1280, 360])
def test_suggest_rewrite_undo_and_summarise_in_the_composer(browser, assisted, width):
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    problems = PageProblems(page)
    signed_in(page, assisted["owner"], assisted["host"])
    conversation = assisted["conversation"]
    page.goto(f"http://{assisted['host']}:{assisted['port']}/dashboard/conversations/{conversation.pk}/")
    composer = page.locator("[data-composer-text]")

    page.get_by_role("button", name="Suggest reply").click()
    page.locator("[data-assist-citations] li").first.wait_for(timeout=WAIT)
    assert "3 to 5 days" in composer.input_value() and "[1]" in composer.input_value()
    assert "Shipping policy" in page.locator("[data-assist-citations]").inner_text()
    assert "offline quality" in page.locator("[data-assist-status]").inner_text()
    page.screenshot(path=str(_shot(f"assist-suggest-{width}")), full_page=True, caret="initial")

    composer.fill("i dont know , it ships tomorrow")
    page.locator(".assist-rewrite summary").click()
    page.get_by_role("button", name="Fix grammar").click()
    page.wait_for_function(
        "() => document.querySelector('[data-composer-text]').value === \"I don't know, it ships tomorrow.\"",
        timeout=WAIT,
    )
    page.get_by_role("button", name="Undo").click()
    assert composer.input_value() == "i dont know , it ships tomorrow"

    page.get_by_role("button", name="Summarise").click()
    page.locator("[data-summary-text]").wait_for(timeout=WAIT)
    assert "How long does shipping to Norway take?" in page.locator("[data-summary-text]").inner_text()
    page.screenshot(path=str(_shot(f"assist-summary-{width}")), full_page=True, caret="initial")

    wide = page.evaluate("document.documentElement.scrollWidth - innerWidth")
    assert wide <= 0, f"the page is {wide}px wider than the screen at {width}"
    assert axe_serious_violations(page) == []
    found = problems.read(page)
    assert [p for kind in found.values() for p in kind] == [], found
    context.close()


def test_the_settings_page_fits_and_passes_axe(browser, assisted):
    context = browser.new_context(viewport={"width": 360, "height": 900})
    page = context.new_page()
    signed_in(page, assisted["owner"], assisted["host"])
    page.goto(f"http://{assisted['host']}:{assisted['port']}/dashboard/conversations/assist/")
    assert page.get_by_text("Translation needs an AI provider").is_visible()
    page.screenshot(path=str(_shot("assist-settings-360")), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth - innerWidth") <= 0
    assert axe_serious_violations(page) == []
    context.close()


def _shot(name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS / f"{name}.png"


@pytest.fixture
def translating(assisted, fake_llm_server, settings, monkeypatch):
    """Translation on, the fake Anthropic server as the provider, assist's tasks run at once
    in the live server's thread (no worker in this test)."""
    from django.db import connection
    from django_tenants.utils import schema_context

    from assist.models import AssistSettings
    from chat.llm.resilience import breakers_reset
    from chat.models import Contact
    from tenants.models import Tenant

    fake_llm_server.reset()
    breakers_reset()
    settings.LLM_PROVIDER = "anthropic"
    settings.ANTHROPIC_API_KEY = "sk-ant-platform-test"
    settings.ANTHROPIC_BASE_URL = fake_llm_server.url

    def enqueue(task, *args, **kwargs):
        with schema_context(connection.schema_name):
            task.apply(args=args, kwargs=kwargs)

    monkeypatch.setattr("assist.tasks.enqueue_on_commit", enqueue)
    tenant = Tenant.objects.get(slug="assist-browser")
    with tenant_context(tenant):
        AssistSettings.objects.create(translation_enabled=True)
        Contact.objects.update(locale="es")
    yield fake_llm_server
    fake_llm_server.reset()
    breakers_reset()


@pytest.mark.parametrize("width", [1280, 360])
def test_translation_in_the_transcript_and_the_reply_sent_in_the_visitor_s_language(
    browser, assisted, translating, width
):
    from tests.fakes.llm_server import Behaviour

    translating.enqueue(
        Behaviour(text='{"language": "es", "text": "How long does shipping to Norway take?"}')
    )
    context = browser.new_context(viewport={"width": width, "height": 900}, locale="en-GB")
    page = context.new_page()
    problems = PageProblems(page)
    signed_in(page, assisted["owner"], assisted["host"])
    conversation = assisted["conversation"]
    page.goto(f"http://{assisted['host']}:{assisted['port']}/dashboard/conversations/{conversation.pk}/")
    visitor = page.locator("#m1")
    visitor.get_by_role("button", name="Show original").wait_for(timeout=WAIT)
    visitor.get_by_role("button", name="Show original").click()
    assert visitor.get_by_role("button", name="Show translation").is_visible()
    note = page.locator("[data-assist-translate]")
    assert "sent in Spanish" in note.inner_text()

    translating.enqueue(Behaviour(text='{"language": "en", "text": "Llega en 3 a 5 días."}'))
    composer = page.locator("[data-composer-text]")
    composer.fill("It arrives in 3 to 5 days.")
    page.get_by_role("button", name="Send").click()
    reply = page.locator(".msg-agent")
    reply.get_by_text("Llega en 3 a 5 días.").wait_for(timeout=WAIT)
    reply.get_by_role("button", name="Show what you wrote").wait_for(timeout=WAIT)
    reply.get_by_role("button", name="Show what you wrote").click()
    assert reply.get_by_text("It arrives in 3 to 5 days.").is_visible()
    page.screenshot(path=str(_shot(f"assist-translation-{width}")), full_page=True, caret="initial")
    with tenant_context(_tenant()):
        assert (
            Message.objects.get(conversation_id=conversation.pk, role="agent").text == "Llega en 3 a 5 días."
        )
    assert page.evaluate("document.documentElement.scrollWidth - innerWidth") <= 0
    assert axe_serious_violations(page) == []
    found = problems.read(page)
    assert [p for kind in found.values() for p in kind] == [], found
    context.close()


def _tenant():
    from tenants.models import Tenant

    return Tenant.objects.get(slug="assist-browser")
