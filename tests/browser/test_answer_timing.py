"""The widget measures a streamed answer where the visitor is (to the first token, to the
full answer) and reports it once; the analytics' answer speed reads it."""

from __future__ import annotations

from django_tenants.utils import tenant_context

from insights.models import AnswerTiming
from tests.browser.conftest import answer_finished
from tests.browser.test_chat_answers import WAIT, _open, _setup, fake, passages
from tests.fakes.llm_server import Behaviour

__all__ = ["fake", "passages"]  # the fixtures, shared with the chat answer tests


def test_the_widget_reports_how_long_a_streamed_answer_took(page, site, host_pages, fake, passages):
    tenant, widget = _setup(host_pages, fake, "answers-timing")
    fake.enqueue(Behaviour(text="We ship within two days.", first_token_delay=0.3, token_delay=0.05))
    composer = _open(page, site, host_pages, widget, "/timing")
    with answer_finished(page) as reported:
        composer.fill("How fast do you ship?")
        composer.press("Enter")
        page.locator(".msg", has_text="within two days").wait_for(timeout=WAIT)
    assert reported.value.status == 200
    with tenant_context(tenant):
        timing = AnswerTiming.objects.select_related("message").get()
    assert timing.message.role == "bot" and timing.message.text == "We ship within two days."
    assert 300 <= timing.first_token_ms <= timing.full_ms < 30_000  # the fake waits 0.3 s to start
    assert page.js_errors == []
