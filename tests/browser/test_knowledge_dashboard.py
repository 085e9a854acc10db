"""The knowledge page in a real browser: a file dropped on the drop zone becomes a queued
source, and the source's status and progress bar update by themselves, without a reload.
Ingestion does not run here (queuing is recorded); the test moves the source along. The
page's timers run on Playwright's clock, so the test can move time on instead of waiting."""

from __future__ import annotations

from django.utils import timezone
from django_tenants.utils import tenant_context

from knowledge.models import KnowledgeBase, Source
from tests.browser.conftest import signed_in
from tests.tenants.factories import TenantFactory, UserFactory

DROP = """
async (text) => {
  const zone = document.querySelector("[data-dropzone]");
  const data = new DataTransfer();
  data.items.add(new File([text], "opening-hours.txt", {type: "text/plain"}));
  for (const type of ["dragenter", "dragover", "drop"]) {
    zone.dispatchEvent(new DragEvent(type, {dataTransfer: data, bubbles: true, cancelable: true}));
  }
}
"""


def test_dropped_file_is_queued_and_its_progress_updates_by_itself(page, site, live_port, monkeypatch):
    queued: list = []
    monkeypatch.setattr(
        "knowledge.services.enqueue_on_commit", lambda task, *args, **kwargs: queued.append(args)
    )
    owner = UserFactory(email="knowledge@example.com")
    tenant = TenantFactory(slug="drop-co", name="Drop Co", owner=owner)
    with tenant_context(tenant):
        kb = KnowledgeBase.objects.get()
    signed_in(page, owner, "drop-co.saas.test")
    polls: list[str] = []
    page.on("request", lambda request: polls.append(request.url) if request.url.endswith("/status") else None)
    page.clock.install()  # time still flows; run_for() below moves it on at once
    page.goto(f"http://drop-co.saas.test:{live_port}/dashboard/knowledge/{kb.pk}/")
    assert page.get_by_role("tab", name="Upload files").get_attribute("aria-selected") == "true"
    assert page.locator("#add-url").is_hidden()  # tabs: one panel at a time

    with page.expect_navigation():
        page.evaluate(DROP, "We open at 9 and close at 5.")
    row = page.locator("tr[data-source-id]")
    row.wait_for()
    assert "opening-hours.txt" in row.inner_text()
    badge = row.locator('[data-role="badge"]')
    assert badge.inner_text() == "Queued"
    with tenant_context(tenant):
        source = Source.objects.get()
    assert (source.kind, source.status, source.file_name) == ("file", "queued", "opening-hours.txt")
    assert queued == [(source.pk,)]

    with tenant_context(tenant):
        Source.objects.filter(pk=source.pk).update(status="processing", progress_done=3, progress_total=10)
    page.wait_for_function(
        "() => document.querySelector('[data-role=\"badge\"]').textContent === 'Processing'", timeout=10_000
    )
    bar = row.locator('[data-role="bar"]')
    page.wait_for_function("() => document.querySelector('[data-role=\"bar\"]').value === 3", timeout=10_000)
    assert bar.evaluate("el => [el.value, el.max]") == [3, 10]
    assert row.locator('[data-role="progress-text"]').inner_text() == "3 / 10"
    assert row.locator('[data-role="progress"]').is_visible()

    with tenant_context(tenant):
        Source.objects.filter(pk=source.pk).update(
            status="ready",
            progress_done=10,
            last_synced_at=timezone.now(),
            last_report={"added": 1, "updated": 0, "removed": 0, "unchanged": 0},
        )
    page.wait_for_function(
        "() => document.querySelector('[data-role=\"badge\"]').textContent === 'Ready'", timeout=10_000
    )
    assert row.locator('[data-role="progress"]').is_hidden()
    assert "1 added" in row.locator('[data-role="report"]').inner_text()
    assert page.locator("[data-announcer]").inner_text() == "“opening-hours.txt” is ready."

    # Nothing is queued or processing any more: the page stops asking. A minute of the
    # page's time passes at once (its poll interval is 2 s, its retries at most 10 s), then
    # one request of our own: any poll the page made would have been seen before it.
    asked = len(polls)
    page.clock.run_for(60_000)
    with page.expect_request(lambda request: request.url.endswith("/healthz")):
        page.evaluate("() => fetch('/healthz')")
    assert len(polls) == asked
    assert page.js_errors == []
