"""ui.emails: one call renders an email as text and HTML (on the shared layout) and sends
both parts as one message."""

from __future__ import annotations

from django.core import mail

from tests.emails import LAYOUT_MARKER, assert_product_email
from ui.emails import email_message, email_render, email_send


def test_an_email_is_sent_with_its_text_and_its_html_on_the_layout(settings):
    settings.DEFAULT_FROM_EMAIL = "no-reply@saas.test"
    context = {
        "heading": "Your payment failed",
        "paragraphs": ["The payment for <Acme> failed."],
        "action_url": "https://acme.saas.test/dashboard/billing/?a=1&b=2",
        "action_label": "Update your card",
        "tenant": {"name": "Acme"},
        "level": "danger",
    }
    assert (
        email_send(
            subject="Acme:\npayment failed", template="billing/email/notice", context=context, to=["o@x.test"]
        )
        == 1
    )
    (message,) = mail.outbox
    assert message.subject == "Acme: payment failed" and message.from_email == "no-reply@saas.test"
    text, html = assert_product_email(
        message, "https://acme.saas.test/dashboard/billing/?a=1&b=2", "Update your card"
    )
    # text is not escaped; HTML is
    assert "<Acme>" in text and "&lt;Acme&gt;" in html and "<Acme>" not in html


def test_rendering_alone_gives_both_bodies_and_the_message_can_go_without_html():
    text, html = email_render(
        "billing/email/notice",
        {"heading": "H", "paragraphs": ["P"], "action_url": "", "action_label": "", "tenant": {"name": "T"}},
    )
    assert text.startswith("P") and LAYOUT_MARKER in html and "Chatbot platform" in html
    plain = email_message(subject="S", text=text, html="", to=["a@x.test"])
    assert plain.alternatives == []
