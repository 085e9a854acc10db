"""The Contacts section and the CSV exports in a real browser (the live server of the page
sweep, on its seeded workspace; the async stream itself is tests/saas/test_csv_stream.py's):
search, a contact's page and the way to their conversation, the exports
downloaded as files (BOM, the page's filters), at 1,280 and 390 px with no overflow and no
serious axe-core violation. Screenshots go to $SCREENSHOT_DIR (default: the temporary
folder) for review."""

from __future__ import annotations

import csv
import io
import os
import tempfile
from pathlib import Path

from tests.browser.conftest import axe_serious_violations, horizontal_overflow, signed_in

WIDTHS = (1280, 390)
SHOTS = Path(os.environ.get("SCREENSHOT_DIR") or Path(tempfile.gettempdir()) / "screenshots")
BOM = "\ufeff"


def _looks_right(page, name: str) -> None:
    """At each width: nothing wider than the screen, no serious axe finding; a screenshot."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        assert horizontal_overflow(page) == "", (name, width, horizontal_overflow(page))
        assert axe_serious_violations(page) == [], (name, width)
        page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": WIDTHS[0], "height": 900})


def _downloaded(page, selector: str) -> list[list[str]]:
    with page.expect_download() as download:
        page.click(selector)
    text = Path(download.value.path()).read_text(encoding="utf-8")
    assert text.startswith(BOM)
    return list(csv.reader(io.StringIO(text[1:])))


def test_contacts_search_a_contact_and_the_exports(live_port, page, sweep_workspace):
    signed_in(page, sweep_workspace.owner, sweep_workspace.host)
    base = f"http://{sweep_workspace.host}:{live_port}"
    page.goto(base + "/dashboard/contacts/")
    assert page.locator("tr[data-contact]").count() == 4  # the seeded visitors who wrote
    page.locator('nav a[href="/dashboard/contacts/"]').first.wait_for()  # in the sidebar
    _looks_right(page, "contacts-list")
    page.click(".inbox-filters > summary")
    page.get_by_label("Consent").wait_for()
    _looks_right(page, "contacts-filters")

    page.fill("input[name=q]", "grace")
    page.click("form[role=search] button[type=submit]")
    page.wait_for_url("**/dashboard/contacts/?q=grace*")
    assert page.locator("tr[data-contact]").count() == 1
    header, *rows = _downloaded(page, "button[data-export=contacts]")
    assert header[:3] == ["Contact ID", "Name", "Email"] and "Answer: company" in header
    assert [row[1] for row in rows] == ["Grace Hopper"]

    page.click("a.contact-name")
    page.wait_for_url("**/dashboard/contacts/*/")
    assert page.locator("h1").inner_text() == "Grace Hopper"
    assert page.get_by_text("Grace Hopper & Co").is_visible()  # a prechat answer
    _looks_right(page, "contact-detail")
    page.click(".contact-conversations a")
    page.wait_for_url("**/dashboard/conversations/*/")

    page.goto(base + "/dashboard/contacts/?q=nobody-like-this")
    assert page.get_by_text("No contact matches").is_visible()
    _looks_right(page, "contacts-none")

    page.goto(base + "/dashboard/conversations/?view=all")
    header, *rows = _downloaded(page, "button[data-export=conversations]")
    listed = page.locator("li.inbox-row").evaluate_all(
        "rows => rows.map(r => Number(r.dataset.conversation))"
    )
    assert header[0] == "Conversation ID" and sorted(int(row[0]) for row in rows) == sorted(listed)
    assert {row[header.index("Contact name")] for row in rows} >= {"Ada Lovelace", "Grace Hopper"}
    _looks_right(page, "inbox-with-export")
