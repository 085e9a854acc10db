"""Files as context in the widget (docs/files.md): a visitor's CSV read by the bot shows
the chip "Read by the bot", a ragged one says why it could not be read, and the answer
computed with the model's ``query_table`` call cites the file."""

from __future__ import annotations

import json

from django_tenants.utils import tenant_context

from chat.models import ConversationFile
from tests.browser.test_chat_answers import WAIT, _open, _setup, fake, passages  # noqa: F401 - fixtures
from tests.fakes.llm_server import Behaviour, FakeToolCall


def test_a_csv_is_read_by_the_bot_and_a_total_is_computed_from_it(
    page,
    site,
    host_pages,
    fake,  # noqa: F811 - the fixture imported above
    passages,  # noqa: F811
    tmp_path,
):
    tenant, widget = _setup(
        host_pages,
        fake,
        "answers-csv",
        attachment_kinds=["text"],
        files_as_context=True,
        knowledge_only=False,
    )
    composer = _open(page, site, host_pages, widget, "/csv")
    page.get_by_role("button", name="Attach a file").wait_for(timeout=WAIT)

    ragged = tmp_path / "ragged.csv"
    ragged.write_text("sku,qty\nA,2\nB\n")
    page.locator("input[type=file]").set_input_files(str(ragged))
    page.get_by_text("The bot could not read it").wait_for(timeout=WAIT)
    assert page.get_by_text("Row 3 has 1 cells where the header has 2").is_visible()

    sales = tmp_path / "sales.csv"
    sales.write_text("region,amount\nNorth,10.10\nSouth,5\nNorth,0.20\n")
    page.locator("input[type=file]").set_input_files(str(sales))
    page.get_by_text("Read by the bot").wait_for(timeout=WAIT)
    with tenant_context(tenant):
        file_id = str(ConversationFile.objects.get(status="ready").attachment.public_id)

    query = {
        "file": file_id,
        "filters": [{"column": "region", "op": "eq", "value": "North"}],
        "aggregate": {"op": "sum", "column": "amount"},
    }
    fake.enqueue(
        Behaviour(tool_calls=[FakeToolCall("query_table", query)]),
        Behaviour(text="North's total is 10.30 [1]."),
    )
    composer.fill("What is the total of amount where region is North?")
    composer.press("Enter")
    page.get_by_text("North's total is 10.30").wait_for(timeout=WAIT)
    assert page.get_by_text("[1] sales.csv · rows 1, 3").is_visible()  # the rows it was computed from
    [result] = fake.requests[-1].tool_results
    assert json.loads(result["content"])["value"] == "10.30"
    for width in (360, 1280):
        page.set_viewport_size({"width": width, "height": 800})
        page.screenshot(path=f"build/screenshots/widget-files-{width}.png")
    assert page.js_errors == []
