"""The Analytics page in a real browser at 390 and 1,280 px: the range presets, a custom
range and the widget filter change what it shows; the heat map's hours and the charts' days
reach the keyboard with their values; nothing is wider than the screen (nor is the answer-speed
table wider than its box: on phones its rows stack); no serious axe-core
violation. Screenshots go to $SCREENSHOT_DIR (default /tmp/shots-analytics)."""

from __future__ import annotations

import os
import tempfile
import zoneinfo
from datetime import timedelta
from pathlib import Path

from django.utils import timezone
from django_tenants.utils import tenant_context

from chat.models import Conversation, Message
from insights.services import answer_timing_report, rollups_refresh
from tenants.models import Tenant
from tests.browser.conftest import axe_serious_violations, horizontal_overflow, signed_in
from tests.chat.factories import ConversationFactory, MessageFactory
from tests.knowledge.factories import SourceFactory
from tests.tenants.factories import MembershipFactory, TenantFactory, UserFactory
from tests.widget_builder.factories import WidgetFactory
from widget_builder.models import Widget

# How far the answer-speed table scrolls sideways inside its box (0: it fits).
SPEED_TABLE_SCROLLS = (
    "(() => { const box = document.querySelector('#speed .table-wrap');"
    " return box.scrollWidth - box.clientWidth; })()"
)
SHOTS = Path(os.environ.get("SCREENSHOT_DIR") or Path(tempfile.gettempdir()) / "shots-analytics")


def _workspace(slug: str):
    owner = UserFactory(email=f"owner@{slug}.example.com")
    tenant = TenantFactory(slug=slug, name="Northwind Support", owner=owner)
    Tenant.objects.filter(pk=tenant.pk).update(time_zone="Europe/Paris")
    tenant.refresh_from_db()
    agent = MembershipFactory(tenant=tenant, role="agent").user
    now = timezone.now()
    with tenant_context(tenant):
        shop = Widget.objects.get()
        Widget.objects.filter(pk=shop.pk).update(name="Shop")
        help_desk = WidgetFactory(name="Help desk")
        sources = [SourceFactory(title=t) for t in ("Shipping rates", "Returns policy", "Opening hours")]
        for i in range(60):
            widget = shop if i % 3 else help_desk
            at = now - timedelta(days=i % 20, hours=(i * 5) % 24)
            conversation = ConversationFactory(widget=widget)
            MessageFactory(conversation=conversation, role=Message.Role.VISITOR, text="Do you ship abroad?")
            cited = [{"n": 1, "title": s.title, "url": "", "source_id": s.pk} for s in sources[: 1 + i % 3]]
            answer = MessageFactory(
                conversation=conversation,
                role=Message.Role.BOT,
                text="We do [1].",
                outcome="no_answer" if i % 6 == 0 else "answered",
                citations=cited,
                provider="openai" if i % 4 == 0 else "anthropic",
                latency_ms=300 + 37 * i,
            )
            if i % 2:
                answer_timing_report(message=answer, first_token_ms=400 + 41 * i, full_ms=1500 + 90 * i)
            handoff = at + timedelta(minutes=1) if i % 5 == 0 else None
            if handoff:
                MessageFactory(conversation=conversation, role=Message.Role.AGENT, text="Happy to help.")
            Message.objects.filter(conversation=conversation).update(created_at=at)
            Message.objects.filter(conversation=conversation, role="agent").update(
                created_at=at + timedelta(minutes=2 + i % 7)
            )
            Message.objects.filter(pk=answer.pk).update(
                feedback_rating=(1 if i % 4 else -1) if i % 3 == 0 else None,
                feedback_at=at if i % 3 == 0 else None,
            )
            Conversation.objects.filter(pk=conversation.pk).update(
                created_at=at,
                handoff_requested_at=handoff,
                closed_at=at + timedelta(minutes=30) if i % 2 == 0 else None,
                csat_score=(1 + i % 5) if i % 4 == 0 else None,
                csat_at=at + timedelta(minutes=31) if i % 4 == 0 else None,
            )
        rollups_refresh(time_zone=tenant.time_zone)  # past days from the rollups, today from the rows
    return tenant, owner, agent, help_desk


def _check(page, name: str, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    page.wait_for_load_state("load")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
    assert horizontal_overflow(page) == "", name
    if width < 480:  # the answer-speed table stacks its rows rather than scrolling sideways
        assert page.evaluate(SPEED_TABLE_SCROLLS) <= 0, name
    assert axe_serious_violations(page) == [], name


def test_the_analytics_page_in_a_browser(page, site, live_port):
    _, _, agent, help_desk = _workspace("northwind-insights")
    host = "northwind-insights.saas.test"
    signed_in(page, agent, host)  # agents may look too
    base = f"http://{host}:{live_port}/dashboard/analytics/"
    page.goto(base)
    for width in (1280, 390):
        _check(page, "analytics", width)
    page.set_viewport_size({"width": 1280, "height": 900})

    # a preset: 30 days, marked current, figures beside the 30 days before
    page.get_by_role("link", name="30 days").click()
    page.wait_for_url("**days=30**")
    assert page.get_by_role("link", name="30 days").get_attribute("aria-current") == "page"
    conversations = page.locator('[data-figure="conversations"] .value').inner_text()
    assert conversations == "60"
    assert page.locator("#conversations-chart .col").count() == 30

    # the heat map: each hour is focusable and says its value
    cell = page.locator("#heat-map .cell").nth(0)
    cell.focus()
    label = page.evaluate("document.activeElement.getAttribute('aria-label')")
    assert label.startswith("Mon 00:00") and "visitor message" in label
    assert page.locator("#heat-map .cell").count() == 7 * 24
    busiest = page.locator("#heat-map rect.l5").count()
    assert busiest >= 1

    # a custom range and one widget
    today = timezone.localdate(timezone.now(), timezone=zoneinfo.ZoneInfo("Europe/Paris"))
    page.fill("#range-from", str(today - timedelta(days=9)))
    page.fill("#range-to", str(today))
    page.select_option("#widget-filter", label="Help desk")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(f"**widget={help_desk.pk}**")
    assert page.locator("#conversations-chart .col").count() == 10
    assert page.locator("#widget-filter").input_value() == str(help_desk.pk)
    rows = page.locator("#speed tbody tr")
    assert rows.count() >= 1 and all("Help desk" in rows.nth(i).inner_text() for i in range(rows.count()))
    for width in (1280, 390):
        _check(page, "analytics-custom", width)

    # a bad range: said, and the default shown
    page.goto(base + f"?from={today}&to={today - timedelta(days=3)}")
    assert "The end date is before the start date." in page.locator(".alert-error").inner_text()
    page.emulate_media(color_scheme="dark")
    page.goto(base + "?days=90")
    _check(page, "analytics-dark", 1280)
    assert page.js_errors == []
