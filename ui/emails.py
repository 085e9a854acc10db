"""Emails that look like the product: every message is rendered twice, a plain-text body
and an HTML alternative on the shared layout (templates/email/base.html), and sent as one
multipart message.

    email_send(subject=..., template="tenants/email/invitation", context={...}, to=[...])

renders ``tenants/email/invitation.txt`` and ``tenants/email/invitation.html``. The HTML
templates extend ``email/base.html`` (inline styles are allowed there only: mail clients
ignore stylesheets). This module sits at the bottom of the app layers: it imports no app.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

BRAND = "Chatbot platform"


def email_render(template: str, context: Mapping[str, Any]) -> tuple[str, str]:
    """The text body and the HTML body of ``template`` (a path without extension)."""
    data = {"brand": BRAND, "base_domain": getattr(settings, "BASE_DOMAIN", ""), **context}
    text = render_to_string(f"{template}.txt", data).strip() + "\n"
    html = render_to_string(f"{template}.html", data)
    return text, html


def email_message(
    *,
    subject: str,
    text: str,
    html: str,
    to: Sequence[str],
    from_email: str | None = None,
    reply_to: Sequence[str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> EmailMultiAlternatives:
    """One multipart message: the text body, the HTML as its alternative (``headers``:
    extra ones, such as List-Unsubscribe)."""
    message = EmailMultiAlternatives(
        subject=" ".join(subject.splitlines()).strip(),
        body=text,
        from_email=from_email or settings.DEFAULT_FROM_EMAIL,
        to=list(to),
        reply_to=list(reply_to) if reply_to else None,
        headers=dict(headers) if headers else None,
    )
    if html:
        message.attach_alternative(html, "text/html")
    return message


def email_send(
    *,
    subject: str,
    template: str,
    context: Mapping[str, Any],
    to: Sequence[str],
    from_email: str | None = None,
    reply_to: Sequence[str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> int:
    """Render ``template`` (text and HTML) and send it; returns the number sent (0 or 1)."""
    text, html = email_render(template, context)
    message = email_message(
        subject=subject,
        text=text,
        html=html,
        to=to,
        from_email=from_email,
        reply_to=reply_to,
        headers=headers,
    )
    return message.send()
