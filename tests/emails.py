"""What every email of the platform must be (ui.emails): a text body and an HTML
alternative on the shared layout, both fully rendered, both carrying the essentials."""

from __future__ import annotations

import html as html_lib
import re

from django.core.mail import EmailMessage, EmailMultiAlternatives

LAYOUT_MARKER = 'id="email-layout"'
LEFTOVER = re.compile(r"\{\{|\}\}|\{%|%\}|\bNone\b")


def email_parts(message: EmailMessage) -> tuple[str, str]:
    """The text body and the HTML alternative of ``message``, checked: both parts exist,
    the HTML uses the layout, neither leaves a template variable or tag unrendered."""
    assert isinstance(message, EmailMultiAlternatives), "the email has no HTML alternative"
    htmls = [content for content, mimetype in message.alternatives if mimetype == "text/html"]
    assert len(htmls) == 1, message.alternatives
    text, html = message.body, str(htmls[0])
    assert LAYOUT_MARKER in html, "the HTML part does not use templates/email/base.html"
    assert text.strip() and "<html" not in text.lower() and "<p" not in text, "the text part is empty or HTML"
    for part in (text, html, message.subject):
        assert not LEFTOVER.search(part), LEFTOVER.search(part)
    return text, html


def assert_product_email(message: EmailMessage, *essentials: str) -> tuple[str, str]:
    """``message`` is a product email and each of ``essentials`` (a link, a name) is in
    its text part and, as a person reads it, in its HTML part."""
    text, html = email_parts(message)
    readable = html_lib.unescape(html)
    for essential in essentials:
        assert essential in text, (essential, text)
        assert essential in readable, (essential, "not in the HTML part")
    return text, html
