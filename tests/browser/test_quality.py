"""The Answer quality pages in a real browser, at a phone's and a desktop's width: the
unanswered and low-rated questions in groups, a group answered from the page (a Q&A source
is queued in the chosen knowledge base) and another dismissed; bot tests written, run (the
task a worker would run, offline provider) and shown with their pass rate and the failing
answer. Screenshots go to build/screenshots/ (``quality-*.png``) for review."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from django_tenants.utils import tenant_context

from chat.models import Message
from knowledge import ingestion
from knowledge.models import Source
from quality import runs
from quality.models import BotTestRun
from tests.browser.conftest import signed_in
from tests.chat.factories import ConversationFactory, MessageFactory
from tests.tenants.factories import TenantFactory, UserFactory
from widget_builder.models import Widget

SCREENSHOTS = Path(os.environ.get("SCREENSHOTS_DIR") or Path(__file__).parents[2] / "build" / "screenshots")
ASKED = [
    ("Do you ship to Mars?", "no_answer", None),
    ("Can you deliver to Mars?", "no_answer", None),
    ("do you ship to mars", "handoff", None),
    ("Why is the espresso blend so expensive compared to the one at the supermarket?", "answered", -1),
]


def _shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"quality-{name}.png"), full_page=True)


def _in_worker(tenant, work):
    """``work()`` in the tenant's schema on a thread of its own, as a worker runs it (this
    thread holds Playwright's event loop, and the answer path runs its own)."""
    done: list = []

    def run():
        from django.db import connection

        try:
            with tenant_context(tenant):
                done.append(work())
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=60)
    return done[0]


def _workspace(slug: str):
    owner = UserFactory(email=f"{slug}@example.com")
    tenant = TenantFactory(slug=slug, name="Roastery", owner=owner)
    return owner, tenant


@pytest.mark.parametrize("width", [390, 1280])
def test_a_group_is_answered_and_another_dismissed(page, site, live_port, monkeypatch, width):
    queued: list = []
    monkeypatch.setattr("knowledge.services.enqueue_on_commit", lambda task, *args, **kw: queued.append(args))
    owner, tenant = _workspace(f"quality-{width}")
    with tenant_context(tenant):
        widget = Widget.objects.get()
        for text, outcome, rating in ASKED:
            conversation = ConversationFactory(widget=widget)
            question = MessageFactory(conversation=conversation, role=Message.Role.VISITOR, text=text)
            MessageFactory(
                conversation=conversation,
                role=Message.Role.BOT,
                text="Sorry, I don't have a good answer to that yet.",
                reply_to=question,
                outcome=outcome,
                feedback_rating=rating,
            )
    page.set_viewport_size({"width": width, "height": 900})
    signed_in(page, owner, f"quality-{width}.saas.test")
    page.goto(f"http://quality-{width}.saas.test:{live_port}/dashboard/quality/")
    groups = page.locator("[data-group]")
    assert groups.count() == 2
    first = groups.nth(0)
    assert first.locator(".group-title").inner_text() == "Do you ship to Mars?", first.inner_text()
    assert first.get_attribute("data-count") == "3"
    assert "Can you deliver to Mars?" in first.inner_text() and "Handed off · 1" in first.inner_text()
    assert "Rated down · 1" in groups.nth(1).inner_text()
    _shot(page, f"questions-{width}")

    first.get_by_role("button", name="Answer it").click()
    page.wait_for_url("**/dashboard/quality/answer/**")
    assert page.get_by_label("Question").input_value() == "Do you ship to Mars?"
    page.locator("#id_answer").fill("Not yet: we ship to Earth only, to 30 countries in Europe.")
    _shot(page, f"answer-{width}")
    page.get_by_role("button", name="Add to knowledge").click()
    page.wait_for_url("**/dashboard/quality/")
    assert "The bot answers it once it is processed" in page.locator(".toasts").inner_text()
    assert page.locator("[data-group]").count() == 1
    with tenant_context(tenant):
        source = Source.objects.get()
        assert source.qa_pairs[0]["question"] == "Do you ship to Mars?"
        assert queued == [(source.pk,)]
        ingestion.source_ingest(source.pk)

    page.locator("[data-group]").get_by_role("button", name="Dismiss").click()
    page.wait_for_url("**/dashboard/quality/**")
    assert page.locator("[data-group]").count() == 0
    assert "Nothing to fix" in page.locator("main").inner_text()
    _shot(page, f"questions-empty-{width}")


@pytest.mark.parametrize("width", [390, 1280])
def test_bot_tests_are_written_run_and_their_failures_shown(
    page, site, live_port, monkeypatch, settings, width
):
    settings.LLM_PROVIDER = "offline"
    monkeypatch.setattr("knowledge.services.enqueue_on_commit", lambda *a, **kw: None)
    monkeypatch.setattr("quality.services._dispatch", lambda run, delay: None)  # the test runs it below
    owner, tenant = _workspace(f"bot-tests-{width}")
    with tenant_context(tenant):
        from knowledge.models import KnowledgeBase
        from knowledge.services import source_add_text

        kb = KnowledgeBase.objects.get()
        faq = source_add_text(
            tenant=tenant,
            kb=kb,
            title="Shipping",
            text="We ship to 30 countries in Europe. Standard delivery takes 3 to 5 business days.",
        )
        ingestion.source_ingest(faq.pk)
    page.set_viewport_size({"width": width, "height": 900})
    signed_in(page, owner, f"bot-tests-{width}.saas.test")
    page.goto(f"http://bot-tests-{width}.saas.test:{live_port}/dashboard/quality/tests/")
    assert "No bot tests yet" in page.locator("main").inner_text()
    for question, phrase, cites in (
        ("How long does standard delivery take?", "3 to 5 business days", True),
        ("Do you ship to Mars?", "Mars", False),
    ):
        page.get_by_label("Question").fill(question)
        page.get_by_label("A good answer contains").fill(phrase)
        if cites:
            page.get_by_label("A good answer cites").select_option(label="Shipping (Main knowledge base)")
        page.get_by_role("button", name="Add test").click()
        page.wait_for_url("**/dashboard/quality/tests/")
    assert page.locator("#tests [data-test]").count() == 2

    page.get_by_role("button", name="Run tests now").click()
    page.wait_for_url("**/dashboard/quality/tests/")
    assert "A run is queued" in page.locator("main").inner_text()
    page.evaluate("() => { window.__same_page = true; }")  # gone if the page reloads
    run = _in_worker(tenant, lambda: runs.bot_test_run_execute(BotTestRun.objects.get().pk))
    assert (run.total, run.passed) == (2, 1)
    # the page shows the results by itself (it asks every 3 s while a run is pending)
    page.locator('[data-figure="pass-rate"]').wait_for(timeout=10_000)
    assert page.evaluate("() => window.__same_page") is True
    assert page.locator("#run-live").get_attribute("hx-trigger") is None  # done: it stops asking
    assert page.locator('[data-figure="pass-rate"] .value').inner_text().replace("\n", "") == "50%"
    failing = page.locator("[data-failing]")
    assert failing.count() == 1
    assert (
        "Do you ship to Mars?" in failing.inner_text() and "Does not contain “Mars”." in failing.inner_text()
    )
    assert page.locator("#pass-rate-chart .col").count() == 1
    _shot(page, f"tests-{width}")
