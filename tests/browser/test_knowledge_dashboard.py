"""The knowledge page in a real browser: a file dropped on the drop zone becomes a queued
source; while it is processed, the page swaps in the server's fresh rendering of the
sources and totals by itself (htmx polling a partial); when ingestion finishes, the row's
status, documents and chunks and the knowledge base's totals show the new figures without
a reload, and the polling ends. Ingestion is not queued here: the test runs the task
itself (with a fake embedder). The page's timers run on Playwright's clock, so the test can
move time on instead of waiting."""

from __future__ import annotations

from django_tenants.utils import tenant_context

from knowledge.models import Chunk, Document, KnowledgeBase, Source
from knowledge.tasks import source_ingest_task
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
HOURS = (
    "Opening hours\n\nWe open at 9 and close at 5 on weekdays.\n\n"
    "Saturday\n\nThe shop opens from 10 to 2 on Saturdays. Sundays we rest."
)


class FakeEmbedder:
    dimensions = 384
    model_id = "fake-embedder"

    def embed_query(self, text):
        return [0.01] * self.dimensions

    def embed_documents(self, texts):
        return [self.embed_query(t) for t in texts]


def _cell(row, role: str) -> str:
    return row.locator(f'[data-role="{role}"]').inner_text().strip()


def test_dropped_file_is_queued_and_its_counts_and_totals_update_by_themselves(
    page, site, live_port, monkeypatch
):
    queued: list = []
    monkeypatch.setattr(
        "knowledge.services.enqueue_on_commit", lambda task, *args, **kwargs: queued.append(args)
    )
    monkeypatch.setattr("knowledge.ingestion.kb_embedder", lambda kb: FakeEmbedder())
    owner = UserFactory(email="knowledge@example.com")
    tenant = TenantFactory(slug="drop-co", name="Drop Co", owner=owner)
    with tenant_context(tenant):
        kb = KnowledgeBase.objects.get()
    signed_in(page, owner, "drop-co.saas.test")
    polls: list[str] = []
    page.on("request", lambda request: polls.append(request.url) if "/live" in request.url else None)
    page.clock.install()  # time still flows; run_for() below moves it on at once
    page.goto(f"http://drop-co.saas.test:{live_port}/dashboard/knowledge/{kb.pk}/")
    assert page.get_by_role("tab", name="Upload files").get_attribute("aria-selected") == "true"
    assert page.locator("#add-url").is_hidden()  # tabs: one panel at a time
    assert page.locator("#sources-live").get_attribute("hx-trigger") is None  # nothing to watch

    with page.expect_navigation():
        page.evaluate(DROP, HOURS)
    row = page.locator("tr[data-source-id]")
    row.wait_for()
    assert "opening-hours.txt" in row.inner_text()
    assert _cell(row, "badge") == "Queued"
    assert (_cell(row, "documents"), _cell(row, "chunks")) == ("0", "0")
    with tenant_context(tenant):
        source = Source.objects.get()
    assert (source.kind, source.status, source.file_name) == ("file", "queued", "opening-hours.txt")
    assert queued == [(source.pk,)]
    assert page.locator("#sources-live").get_attribute("hx-trigger") == "every 2s"
    page.evaluate("() => { window.__same_page = true; }")  # gone if the page reloads

    with tenant_context(tenant):
        Source.objects.filter(pk=source.pk).update(status="processing", progress_done=3, progress_total=10)
    page.clock.run_for(2_100)
    page.wait_for_function(
        "() => document.querySelector('[data-role=\"badge\"]').textContent.trim() === 'Processing'",
        timeout=10_000,
    )
    bar = page.locator('tr[data-source-id] [data-role="bar"]')
    assert bar.evaluate("el => [el.value, el.max]") == [3, 10]
    assert _cell(row, "progress-text") == "3 / 10"

    # The ingestion runs (the task a worker would run): documents and chunks are stored and
    # the source turns ready.
    with tenant_context(tenant):
        source_ingest_task(source.pk)
        documents = Document.objects.filter(source=source).count()
        chunks = Chunk.objects.filter(source=source).count()
        assert Source.objects.get(pk=source.pk).status == "ready"
    assert documents == 1 and chunks >= 1
    page.clock.run_for(2_100)
    page.wait_for_function(
        "() => document.querySelector('[data-role=\"badge\"]').textContent.trim() === 'Ready'", timeout=10_000
    )
    row = page.locator("tr[data-source-id]")
    assert (_cell(row, "documents"), _cell(row, "chunks")) == (str(documents), str(chunks))
    assert page.locator('[data-total="documents"]').inner_text().strip() == str(documents)
    assert page.locator('[data-total="chunks"]').inner_text().strip() == str(chunks)
    assert page.locator('[data-total="sources"]').inner_text().strip() == "1"
    assert row.locator('[data-role="progress"]').count() == 0
    assert "1 added" in _cell(row, "report")
    assert page.locator("[data-announcer]").inner_text() == "“opening-hours.txt” is ready."
    assert page.evaluate("() => window.__same_page") is True  # no reload
    assert page.locator("#sources-live").get_attribute("hx-trigger") is None

    # Nothing is queued or processing any more: the page stops asking. A minute of the
    # page's time passes at once (its poll interval is 2 s), then one request of our own:
    # any poll the page made would have been seen before it.
    asked = len(polls)
    assert asked >= 2
    page.clock.run_for(60_000)
    with page.expect_request(lambda request: request.url.endswith("/healthz")):
        page.evaluate("() => fetch('/healthz')")
    assert len(polls) == asked
    assert page.js_errors == []
    with tenant_context(tenant):
        Source.objects.get(pk=source.pk).file.delete(save=False)
