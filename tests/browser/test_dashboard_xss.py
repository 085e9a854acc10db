"""A transcript full of hostile content stays inert in a real browser: nothing runs, nothing
is fetched, no javascript: link is left to click."""

from __future__ import annotations

from django_tenants.utils import tenant_context

from tests.browser.conftest import signed_in
from tests.chat.factories import ContactFactory, ConversationFactory, MessageFactory
from tests.tenants.factories import TenantFactory, UserFactory
from widget_builder.models import Widget

PAYLOAD = (
    "<script>window.__xss = 1</script>\n\n"
    '<img src="https://evil.test/img.png" onerror="window.__xss = 2">\n\n'
    "<svg onload=\"window.__xss = 3\"><circle r='9'/></svg>\n\n"
    '<a href="javascript:window.__xss = 4">raw link</a>\n\n'
    "[markdown link](javascript:window.__xss=5) [data link](data:text/html,<script>alert(6)</script>)\n\n"
    '![pixel](https://evil.test/pixel.png) <iframe src="https://evil.test/frame"></iframe>\n\n'
    '<details open ontoggle="window.__xss = 7">x</details> <style>body{background:url(https://evil.test/bg)}</style>\n\n'
    "\"><script>alert(8)</script> ' onmouseover='window.__xss=9"
)


def test_hostile_transcript_is_inert(page, site, live_port):
    owner = UserFactory(email="xss-owner@example.com")
    tenant = TenantFactory(slug="xss-co", name="XSS Co", owner=owner)
    with tenant_context(tenant):
        widget = Widget.objects.get()
        contact = ContactFactory(
            widget=widget,
            name='<img src=x onerror="window.__xss = 10">',
            email="visitor@example.com",
            page_url="javascript:window.__xss=11",
            answers={"note": "<script>window.__xss = 12</script>"},
        )
        conversation = ConversationFactory(widget=widget, contact=contact)
        MessageFactory(conversation=conversation, role="visitor", text=PAYLOAD)
        MessageFactory(
            conversation=conversation,
            role="bot",
            text=PAYLOAD + " [1] [2]",
            outcome="answered",
            citations=[
                {
                    "n": 1,
                    "title": "<b onmouseover=alert(13)>Docs</b>",
                    "url": "javascript:window.__xss=14",
                },
                {"n": 2, "title": "Data", "url": "data:text/html,<script>alert(15)</script>"},
            ],
            feedback_rating=-1,
            feedback_comment="<script>window.__xss = 16</script>",
        )
        MessageFactory(conversation=conversation, role="agent", text=PAYLOAD)

    dialogs: list[str] = []
    evil: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("request", lambda request: evil.append(request.url) if "evil.test" in request.url else None)
    signed_in(page, owner, "xss-co.saas.test")
    response = page.goto(f"http://xss-co.saas.test:{live_port}/dashboard/conversations/{conversation.pk}/")
    assert response.status == 200
    page.wait_for_load_state("networkidle")

    transcript = page.locator("ol.transcript > li")
    assert transcript.count() == 3
    assert "<script>window.__xss = 1</script>" in transcript.nth(0).inner_text()  # shown, as text
    # hover and focus everything a handler could hang on
    for item in transcript.all():
        item.hover()
    page.mouse.move(5, 5)

    assert page.evaluate("typeof window.__xss") == "undefined"
    assert dialogs == [] and evil == []
    assert page.locator("a[href^='javascript' i], a[href^='data' i], [href*='javascript:' i]").count() == 0
    assert (
        page.locator(
            # the design system's own icons (class "icon", a <use> of the sprite) aside
            "ol.transcript script, ol.transcript img, ol.transcript svg:not(.icon), ol.transcript iframe"
        ).count()
        == 0
    )
    assert page.locator("[onerror], [onload], [onmouseover], [ontoggle]").count() == 0
    sprite = page.locator("ol.transcript svg.icon use")
    assert all(
        href.startswith("/static/ui/icons.svg#")
        for href in sprite.evaluate_all("els => els.map(e => e.getAttribute('href'))")
    )
    assert page.js_errors == []
