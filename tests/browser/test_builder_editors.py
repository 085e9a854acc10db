"""The builder's editors in a real browser: colours with the contrast verdict, the prechat
form builder, business hours, suggested questions, custom CSS; what they save is read back
from the database, and a refused save shows the error where it belongs and keeps the input."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from tests.browser.conftest import signed_in
from tests.tenants.factories import TenantFactory, UserFactory
from widget_builder.models import Widget


@pytest.fixture
def builder(page, site, live_port):
    owner = UserFactory(email="editors@example.com")
    tenant = TenantFactory(slug="editors-co", name="Editors Co", owner=owner)
    with tenant_context(tenant):
        widget = Widget.objects.get()
    signed_in(page, owner, "editors-co.saas.test")
    url = f"http://editors-co.saas.test:{live_port}/dashboard/widgets/{widget.pk}/"
    page.goto(url)
    page.locator("#preview-stage [data-chat-widget]").wait_for(state="attached")

    def stored() -> Widget:
        with tenant_context(tenant):
            return Widget.objects.get(pk=widget.pk)

    return page, stored


def _save(page) -> None:
    page.get_by_role("button", name="Save draft").click()
    page.get_by_text("Draft saved.").wait_for()


def test_colour_swatch_and_hex_stay_in_sync_and_the_verdict_follows(builder):
    page, _ = builder
    hex_input = page.locator("#id_primary_color")
    swatch = page.get_by_label("Primary colour picker")
    verdict = page.locator("#contrast")
    assert verdict.locator("[data-contrast-level]").inner_text() == "AA"  # white on #2d5bd7

    hex_input.fill("#ffff00")  # white text on yellow
    assert swatch.input_value() == "#ffff00"
    assert verdict.locator("[data-contrast-level]").inner_text() == "too low for text"
    assert verdict.locator("[data-contrast-ratio]").inner_text() == "1.0:1"

    swatch.fill("#000000")  # the picker writes the hex field
    assert hex_input.input_value() == "#000000"
    assert verdict.locator("[data-contrast-ratio]").inner_text() == "21.0:1"
    assert verdict.locator("[data-contrast-level]").inner_text() == "AAA"

    hex_input.fill("abc")  # short form, no hash: read as #aabbcc
    assert swatch.input_value() == "#aabbcc"
    # the preview follows: the launcher takes the new colour
    launcher = page.locator("#preview-stage [data-chat-widget] button")
    page.wait_for_function(
        "() => { const h = document.querySelector('#preview-stage [data-chat-widget]');"
        " return h && getComputedStyle(h.shadowRoot.querySelector('button')).backgroundColor"
        " === 'rgb(170, 187, 204)'; }"
    )
    assert launcher.count() == 1


def test_prechat_builder_adds_reorders_removes_and_saves_in_order(builder):
    page, stored = builder
    editor = page.get_by_role("group", name="Fields")
    rows = editor.locator("li.pf")

    def add(kind: str, label: str) -> None:
        editor.get_by_role("button", name="Add a field").click()
        row = rows.last
        row.get_by_label("Kind").select_option(label=kind)
        row.get_by_label("Label").fill(label)

    add("Email", "Work email")
    rows.last.get_by_label("Required").check()
    add("Short text", "Company")
    add("Choice list", "Plan")
    rows.last.get_by_label("Options, one per line").fill("Free\nPro")
    add("Phone", "Phone")
    assert rows.count() == 4

    # keyboard: move "Company" (field 2) to the top; focus stays on the moved field's button
    editor.get_by_role("button", name="Move field 2 up").focus()
    page.keyboard.press("Enter")
    assert rows.first.get_by_label("Label").input_value() == "Company"
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == "Move field 1 down"
    # "Plan" (field 3) one down, below "Phone"
    editor.get_by_role("button", name="Move field 3 down").click()
    editor.get_by_role("button", name="Remove field 3").click()  # "Phone", now third
    assert [rows.nth(i).get_by_label("Label").input_value() for i in range(rows.count())] == [
        "Company",
        "Work email",
        "Plan",
    ]
    assert page.get_by_label("Prechat fields (JSON)").is_hidden()  # no JSON in sight
    _save(page)

    fields = stored().prechat_fields
    assert [(f["kind"], f["label"]) for f in fields] == [
        ("text", "Company"),
        ("email", "Work email"),
        ("select", "Plan"),
    ]
    assert fields[0]["key"] == "company" and fields[1]["key"] == "email" and fields[1]["required"] is True
    assert fields[2]["options"] == ["Free", "Pro"]
    # the saved form comes back as rows
    assert page.get_by_role("group", name="Fields").locator("li.pf").count() == 3
    assert page.js_errors == []


def test_business_hours_editor_saves_two_ranges_on_a_day_and_a_time_zone(builder):
    page, stored = builder
    editor = page.get_by_role("group", name="Business hours")
    assert editor.get_by_label("Monday open").count() == 0  # always open: no table
    editor.get_by_label("Always open").uncheck()
    editor.get_by_label("Time zone").select_option("Europe/Berlin")
    monday = editor.locator('li[data-day="mon"]')
    monday.get_by_label("Monday until").fill("12:00")
    monday.get_by_role("button", name="Add hours").click()
    monday.get_by_label("Monday from").nth(1).fill("13:30")
    monday.get_by_label("Monday until").nth(1).fill("18:00")
    editor.get_by_label("Friday open").uncheck()
    editor.get_by_label("Sunday open").check()
    editor.locator('li[data-day="sun"]').get_by_label("Sunday until").fill("00:00")  # midnight
    _save(page)

    hours = stored().business_hours
    assert hours["tz"] == "Europe/Berlin"
    assert hours["days"]["mon"] == [["09:00", "12:00"], ["13:30", "18:00"]]
    assert hours["days"]["tue"] == [["09:00", "17:00"]]
    assert hours["days"]["fri"] == [] and hours["days"]["sat"] == []
    assert hours["days"]["sun"] == [["09:00", "24:00"]]

    # back to always open: the table hides and nothing is stored
    page.get_by_role("group", name="Business hours").get_by_label("Always open").check()
    assert page.locator('li[data-day="mon"]').count() == 0
    _save(page)
    assert stored().business_hours == {}


def test_suggested_questions_add_and_remove(builder):
    page, stored = builder
    editor = page.get_by_role("group", name="Suggested questions")
    for text in ("Do you ship abroad?", "What does it cost?", "Can I return it?"):
        editor.get_by_role("button", name="Add a question").click()
        editor.get_by_role("textbox").last.fill(text)
    editor.get_by_role("button", name="Remove question 2").click()
    _save(page)
    assert stored().suggested_questions == ["Do you ship abroad?", "Can I return it?"]

    editor = page.get_by_role("group", name="Suggested questions")
    for text in ("Three", "Four"):
        editor.get_by_role("button", name="Add a question").click()
        editor.get_by_role("textbox").last.fill(text)
    assert editor.get_by_role("button", name="Up to 4 questions").is_disabled()  # the server's limit


def test_a_refused_save_shows_the_error_at_the_field_and_keeps_the_input(builder):
    page, stored = builder
    page.get_by_label("Bot name").fill("Kept Bot")
    page.locator("#id_text_color").fill("#3355dd")  # on #2d5bd7: far too low
    hours = page.get_by_role("group", name="Business hours")
    hours.get_by_label("Always open").uncheck()
    hours.locator('li[data-day="mon"]').get_by_label("Monday from").fill("18:00")  # after 17:00
    editor = page.get_by_role("group", name="Fields")
    editor.get_by_role("button", name="Add a field").click()  # no label
    page.get_by_role("button", name="Save and publish").click()

    page.locator(".toasts").get_by_text("Nothing was saved").wait_for()
    colour = page.locator(".color-field", has=page.locator("#id_text_color"))
    assert "contrast of at least 4.5:1" in colour.locator(".errorlist").inner_text()
    assert page.locator("#id_text_color").get_attribute("aria-invalid") == "true"
    monday = page.locator('li[data-day="mon"]')
    assert "start before end" in monday.locator(".errorlist").inner_text()
    assert monday.get_by_label("Monday from").input_value() == "18:00"  # kept
    row = page.get_by_role("group", name="Fields").locator("li.pf").first
    assert "needs a label" in row.locator(".errorlist").inner_text()
    assert row.get_by_label("Label").get_attribute("aria-invalid") == "true"
    assert page.get_by_label("Bot name").input_value() == "Kept Bot"
    assert page.locator("#id_text_color").input_value() == "#3355dd"
    assert stored().bot_name == "Assistant"  # nothing saved
    # the first setting to fix has focus
    assert page.evaluate("document.activeElement.id") == "id_text_color"


def test_custom_css_reset_restores_what_was_saved(builder):
    page, stored = builder
    css = page.get_by_label("Custom CSS")
    css.fill(".panel { border-radius: 2px }")
    _save(page)
    page.get_by_label("Custom CSS").fill("oops")
    page.get_by_role("button", name="Reset to saved CSS").click()
    assert page.get_by_label("Custom CSS").input_value() == ".panel { border-radius: 2px }"
    assert "monospace" in page.get_by_label("Custom CSS").evaluate("e => getComputedStyle(e).fontFamily")
    assert stored().custom_css == ".panel { border-radius: 2px }"
