"""The workspace pages of the dashboard (team, API keys, billing, settings, analytics) and
the standalone suspended and expired-link pages, in a real browser at 360 and 1,280 px:
nothing wider than the screen, no serious or critical axe-core violation, the chart's
values reachable by keyboard. Screenshots go to $SCREENSHOT_DIR (default
/tmp/shots-pages), which CI does not keep."""

from __future__ import annotations

import io
import os
import tempfile
from datetime import timedelta
from pathlib import Path

from django.utils import timezone
from django_tenants.utils import tenant_context
from PIL import Image, ImageDraw

from billing.models import UsageCounter
from billing.periods import DAILY, tenant_period
from chat.models import Conversation, Message
from tenants.models import Invitation, Tenant
from tenants.services.api_keys import api_key_create
from tenants.services.settings import logo_data_uri
from tests.browser.conftest import axe_serious_violations, signed_in
from tests.chat.factories import ConversationFactory, MessageFactory
from tests.tenants.factories import TenantFactory, UserFactory
from widget_builder.models import Widget

SHOTS = Path(os.environ.get("SCREENSHOT_DIR") or Path(tempfile.gettempdir()) / "shots-pages")
PAGES = [
    ("team", "/dashboard/team/"),
    ("api", "/dashboard/api/"),
    ("billing", "/dashboard/billing/"),
    ("settings", "/dashboard/settings/"),
    ("analytics", "/dashboard/analytics/"),
    ("analytics-30", "/dashboard/analytics/?days=30"),
]

# The outermost elements reaching past the viewport's right edge (for the failure message).
WIDER_THAN_THE_SCREEN = """() => {
  const width = document.documentElement.clientWidth, found = [];
  for (const el of document.querySelectorAll("body *")) {
    const right = el.getBoundingClientRect().right;
    if (right > width + 1 && !(el.parentElement && found.includes(el.parentElement))) found.push(el);
  }
  return found.slice(0, 8).map(el =>
    `${el.tagName.toLowerCase()}.${el.className} ${Math.round(el.getBoundingClientRect().right)}`);
}"""


def _check(page, name: str, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    page.wait_for_load_state("load")
    scroll = page.evaluate("document.documentElement.scrollWidth")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
    wide = page.evaluate(WIDER_THAN_THE_SCREEN) if scroll > width else []
    assert scroll <= width, f"{name} is {scroll} px wide at {width}: {wide}"
    assert axe_serious_violations(page) == [], name


def _logo() -> str:
    image = Image.new("RGB", (96, 96), (20, 120, 90))
    ImageDraw.Draw(image).ellipse((18, 18, 78, 78), fill=(250, 250, 250))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return logo_data_uri(out.getvalue())


def _workspace(slug: str) -> tuple[Tenant, object]:
    owner = UserFactory(email=f"owner@{slug}.example.com")
    tenant = TenantFactory(slug=slug, name="Northwind Support", owner=owner)
    Tenant.objects.filter(pk=tenant.pk).update(plan="starter", time_zone="Europe/Paris", logo=_logo())
    tenant.refresh_from_db()
    Invitation.objects.create(tenant=tenant, email="maria.garcia@example.com", role="agent", invited_by=owner)
    api_key_create(tenant=tenant, name="CRM sync", role="admin", by=tenant.memberships.get(user=owner))
    start, today = tenant_period(tenant.pk), timezone.now().date()
    values = [12, 30, 18, 44, 25, 9, 37]
    days = [start + timedelta(days=i) for i in range((today - start).days + 1)]
    for day, value in zip(days, values * 5, strict=False):
        UsageCounter.objects.create(
            tenant=tenant, period=day, metric=DAILY.format(metric="ai_answers"), value=value
        )
    UsageCounter.objects.create(
        tenant=tenant, period=start, metric="ai_answers", value=sum(values[: len(days)])
    )
    with tenant_context(tenant):
        widget = Widget.objects.get()
        now = timezone.now()
        for i in range(24):
            conversation = ConversationFactory(widget=widget)
            MessageFactory(conversation=conversation, role=Message.Role.VISITOR, text="Do you ship abroad?")
            outcome = "no_answer" if i % 5 == 0 else "answered"
            MessageFactory(conversation=conversation, role=Message.Role.BOT, text="We do.", outcome=outcome)
            at = now - timedelta(days=i % 12, hours=i)
            Conversation.objects.filter(pk=conversation.pk).update(
                created_at=at,
                handoff_requested_at=at if i % 7 == 0 else None,
                csat_score=(4 + i % 2) if i % 3 == 0 else None,
                csat_at=at if i % 3 == 0 else None,
            )
            Message.objects.filter(conversation=conversation).update(created_at=at)
    return tenant, owner


def test_workspace_pages_fit_phones_and_pass_axe(page, site, live_port):
    _, owner = _workspace("northwind")
    host = "northwind.saas.test"
    signed_in(page, owner, host)
    for name, path in PAGES:
        page.goto(f"http://{host}:{live_port}{path}")
        for width in (1280, 360):
            _check(page, name, width)
    page.emulate_media(color_scheme="dark")  # every colour is a token: dark mode too
    for name, path in PAGES:
        page.goto(f"http://{host}:{live_port}{path}")
        _check(page, f"{name}-dark", 1280)
    assert page.js_errors == []


def test_refusals_look_like_errors_in_the_browser(page, site, live_port):
    tenant, owner = _workspace("refusals")
    Tenant.objects.filter(pk=tenant.pk).update(plan="free")  # one seat: the owner's
    Invitation.objects.filter(tenant=tenant).delete()
    host = "refusals.saas.test"
    signed_in(page, owner, host)
    page.goto(f"http://{host}:{live_port}/dashboard/team/")
    page.locator("#id_email").fill("new.person@example.com")
    page.locator("#id_role").select_option("admin")
    page.get_by_role("button", name="Send invitation").click()
    alert = page.locator("#invite .alert-error")
    alert.wait_for()
    assert "The Free plan includes 1 team seat." in alert.inner_text()
    assert page.locator("#id_email").input_value() == "new.person@example.com"
    assert page.locator("#id_role").input_value() == "admin"
    for width in (1280, 360):
        _check(page, "team-refused", width)

    page.goto(f"http://{host}:{live_port}/dashboard/settings/")
    page.locator("#id_name").fill("Typed Name")
    page.locator("#id_logo").set_input_files(
        files=[
            {
                "name": "logo.svg",
                "mimeType": "image/svg+xml",
                "buffer": b"<svg xmlns='http://www.w3.org/2000/svg'/>",
            }
        ]
    )
    page.get_by_role("button", name="Save settings").click()
    page.locator("#id_logo_errors").wait_for()
    assert page.locator("#id_logo_errors").inner_text().endswith("Use a PNG, JPEG or WebP image.")
    assert page.locator("#id_name").input_value() == "Typed Name"
    assert page.locator(".alert-error").first.is_visible()
    for width in (1280, 360):
        _check(page, "settings-refused", width)

    page.goto(f"http://{host}:{live_port}/dashboard/api/")
    page.locator("#id_name").fill("Zapier")
    page.get_by_role("button", name="Create key").click()
    page.locator("#new-secret").wait_for()
    assert page.locator("#new-secret").inner_text().startswith("sk_")
    for width in (1280, 360):
        _check(page, "api-new-key", width)


def test_the_chart_gives_each_day_to_the_keyboard(page, site, live_port):
    _, owner = _workspace("chartco")
    host = "chartco.saas.test"
    signed_in(page, owner, host)
    page.goto(f"http://{host}:{live_port}/dashboard/billing/")
    first = page.locator("#answers-chart .col").first
    first.focus()
    label = first.get_attribute("aria-label")
    assert label.endswith("AI answers") and ": 12 " in label
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == label
    page.keyboard.press("Tab")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#usage").screenshot(path=str(SHOTS / "billing-chart-focused.png"))
    assert page.evaluate("document.activeElement.getAttribute('aria-label')").endswith(": 30 AI answers") or (
        page.locator("#answers-chart .col").count() == 1
    )
    # the value shows above the focused bar (CSS), the dates are on the axis
    assert page.locator("#answers-chart .x-label").count() >= 1
    assert page.locator("#answers-chart .y-label").count() >= 2


def test_suspended_and_expired_link_pages(page, site, live_port):
    tenant, _ = _workspace("paused")
    host = "paused.saas.test"
    page.goto(f"http://{host}:{live_port}/auth/handoff?token=nope")
    assert page.get_by_role("heading", name="This sign-in link has expired").is_visible()
    for width in (1280, 360):
        _check(page, "handoff-invalid", width)
    Tenant.objects.filter(pk=tenant.pk).update(status=Tenant.Status.SUSPENDED)
    from tenants.selectors import tenant_routes_cache_forget

    tenant_routes_cache_forget(tenant)
    page.goto(f"http://{host}:{live_port}/dashboard/")
    assert page.get_by_role("heading", name="This workspace is suspended").is_visible()
    for width in (1280, 360):
        _check(page, "suspended", width)
