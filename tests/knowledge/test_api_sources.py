"""knowledge.apis_sources, the workspace API's sources and documents: adding each kind the
dashboard offers (JSON, and files as multipart with the dashboard's limits and the plan's
storage), the queued ingestion (run here by the test), status, progress and report, re-sync,
deletion; documents of a base or a source by cursor, deletion. Roles and other workspaces'
ids: test_api.py."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from django_tenants.utils import tenant_context

from billing.plans import Plan
from knowledge import ingestion
from knowledge.models import Chunk, Document, Source
from tests.knowledge.factories import ChunkFactory, DocumentFactory, KnowledgeBaseFactory, SourceFactory
from tests.knowledge.test_api import BASE, PROBLEM, client_for, errors_of, send, tree

pytestmark = pytest.mark.django_db
INGEST = "knowledge.tasks.source_ingest_task"


@pytest.fixture(autouse=True)
def queued(monkeypatch) -> list:
    """What the services queue, recorded instead of run (ingestion is run by the tests)."""
    calls: list = []
    monkeypatch.setattr(
        "knowledge.services.enqueue_on_commit", lambda task, *args, **kwargs: calls.append((task.name, args))
    )
    return calls


@pytest.fixture
def uploads(tenant_a):
    """Delete the files the test uploaded to tenant A (rows roll back, files would stay)."""
    yield
    with tenant_context(tenant_a.tenant):
        for source in Source.objects.exclude(file=""):
            source.file.delete(save=False)


@pytest.fixture
def kb(tenant_a):
    with tenant_context(tenant_a.tenant):
        return KnowledgeBaseFactory(name="Help")


def stored(seeded, source_id: int) -> Source:
    with tenant_context(seeded.tenant):
        return Source.objects.get(pk=source_id)


# --- adding ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "depth", "limit", "schedule"),
    [("url", 2, 50, ""), ("crawl", 3, 20, "weekly"), ("sitemap", 2, 500, "daily")],
)
def test_web_sources_are_stored_queued_with_their_options(
    tenant_a, kb, queued, settings, kind, depth, limit, schedule
):
    settings.KNOWLEDGE_FETCH_ALLOW_PRIVATE = True  # no DNS in tests
    body = {"kind": kind, "url": "https://help.example/start", "depth": depth, "page_limit": limit}
    response = send(
        client_for(tenant_a), "post", f"{BASE}/{kb.pk}/sources", {**body, "sync_schedule": schedule}
    )
    assert response.status_code == 201, response.content
    created = response.json()
    assert (created["kind"], created["depth"], created["page_limit"], created["sync_schedule"]) == (
        kind,
        depth,
        limit,
        schedule,
    )
    assert created["status"] == "queued" and created["active"] is True
    assert created["progress"] == {"done": 0, "total": 0} and created["report"] is None
    source = stored(tenant_a, created["id"])
    assert (source.knowledge_base_id, source.url) == (kb.pk, "https://help.example/start")
    assert queued == [(INGEST, (source.pk,))]


def test_an_address_off_the_public_internet_is_refused(tenant_a, kb, queued, settings):
    settings.KNOWLEDGE_FETCH_ALLOW_PRIVATE = False
    settings.KNOWLEDGE_FETCH_PRIVATE_ALLOWLIST = []
    body = {"kind": "crawl", "url": "http://127.0.0.1:8000/admin"}
    errors = errors_of(send(client_for(tenant_a), "post", f"{BASE}/{kb.pk}/sources", body))
    assert errors["url"][0]["code"] == "unsafe_url"
    assert queued == []


def test_a_text_source_is_ingested_and_reports_its_progress(tenant_a, kb, queued):
    client = client_for(tenant_a)
    body = {"kind": "text", "title": "Hours", "text": "# Opening hours\n\nWe open from 9 to 5 on weekdays."}
    created = send(client, "post", f"{BASE}/{kb.pk}/sources", body).json()
    assert (created["kind"], created["title"], created["status"]) == ("text", "Hours", "queued")
    assert queued == [(INGEST, (created["id"],))]
    with tenant_context(tenant_a.tenant):
        ingestion.source_ingest(created["id"])
    done = client.get(f"{BASE}/{kb.pk}/sources/{created['id']}").json()
    assert done["status"] == "ready" and done["active"] is False
    assert done["document_count"] == 1 and done["chunk_count"] >= 1
    assert done["report"]["added"] == 1 and done["report"]["failed"] == []
    assert done["last_synced_at"].endswith("Z")


def test_qa_pairs_are_stored(tenant_a, kb, queued):
    body = {"kind": "qa", "title": "FAQ", "qa_pairs": [{"question": "Ship abroad?", "answer": "To the EU."}]}
    created = send(client_for(tenant_a), "post", f"{BASE}/{kb.pk}/sources", body).json()
    assert stored(tenant_a, created["id"]).qa_pairs == [{"question": "Ship abroad?", "answer": "To the EU."}]


def test_bad_source_input_is_422_per_field(tenant_a, kb, queued):
    client = client_for(tenant_a)
    path = f"{BASE}/{kb.pk}/sources"
    errors = errors_of(send(client, "post", path, {"kind": "file"}))
    assert set(errors) == {"kind"}
    errors = errors_of(
        send(client, "post", path, {"kind": "crawl", "url": "nope", "depth": 6, "page_limit": 0})
    )
    assert set(errors) == {"url", "depth", "page_limit"}
    for kind, field in (("url", "url"), ("text", "text"), ("qa", "qa_pairs")):
        assert set(errors_of(send(client, "post", path, {"kind": kind, "text": "  "}))) == {field}
    errors = errors_of(send(client, "post", path, {"kind": "qa", "qa_pairs": [{"question": "Q?"}]}))
    assert set(errors) == {"qa_pairs.0.answer"}
    errors = errors_of(
        send(client, "post", path, {"kind": "url", "url": "https://a.example", "sync_schedule": "x"})
    )
    assert set(errors) == {"sync_schedule"}
    assert queued == []


def test_a_file_is_uploaded_as_multipart(tenant_a, kb, queued, uploads):
    upload = SimpleUploadedFile("notes.md", b"# Notes\n\nReturns take 30 days.", content_type="text/markdown")
    response = client_for(tenant_a).post(f"{BASE}/{kb.pk}/sources/upload", {"file": upload})
    assert response.status_code == 201, response.content
    created = response.json()
    assert (created["kind"], created["file_name"], created["file_size"]) == ("file", "notes.md", 30)
    with tenant_context(tenant_a.tenant):
        assert Source.objects.get(pk=created["id"]).file.read() == b"# Notes\n\nReturns take 30 days."
    assert queued == [(INGEST, (created["id"],))]


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64


def test_uploads_keep_the_dashboards_limits(tenant_a, kb, queued, uploads, monkeypatch):
    client = client_for(tenant_a)
    path = f"{BASE}/{kb.pk}/sources/upload"

    def upload(name="notes.txt", content=b"Some text for the bot."):
        return SimpleUploadedFile(name, content, content_type="application/octet-stream")

    errors = errors_of(client.post(path, {"file": upload("image.png", PNG)}))
    assert errors["file"][0]["code"] == "unsupported_file"
    assert set(errors_of(client.post(path, {}))) == {"file"}
    assert set(errors_of(client.post(path, {"file": upload(content=b"")}))) == {"file"}

    monkeypatch.setattr("knowledge.services.MAX_UPLOAD_MB", 0)
    response = client.post(path, {"file": upload()})
    assert response.status_code == 413 and response.json()["code"] == "payload_too_large"

    monkeypatch.setattr("knowledge.services.MAX_UPLOAD_MB", 20)
    tiny = Plan("tiny", "Tiny", 0, 0, widgets=1, ai_answers=0, storage_mb=0, pages=0, seats=1)
    monkeypatch.setattr("billing.quotas.plan_get", lambda code: tiny)
    for response in (
        client.post(path, {"file": upload()}),
        send(client, "post", f"{BASE}/{kb.pk}/sources", {"kind": "text", "text": "Some text"}),
    ):
        assert response.status_code == 403 and response["Content-Type"] == PROBLEM
        assert response.json()["code"] == "quota_exceeded"
    with tenant_context(tenant_a.tenant):
        assert not Source.objects.filter(knowledge_base=kb).exists()
    assert queued == []


def test_a_json_body_to_the_upload_is_415(tenant_a, kb):
    response = send(client_for(tenant_a), "post", f"{BASE}/{kb.pk}/sources/upload", {"file": "x"})
    assert response.status_code == 415 and response["Content-Type"] == PROBLEM


# --- listing, reading, re-syncing, deleting -------------------------------------------------


def test_sources_list_filters_and_pages(tenant_a, kb):
    with tenant_context(tenant_a.tenant):
        failed = SourceFactory(knowledge_base=kb, status=Source.Status.FAILED, error="Gone")
        ready = [
            SourceFactory(knowledge_base=kb, kind=Source.Kind.QA, status=Source.Status.READY)
            for _ in range(4)
        ]
        SourceFactory(status=Source.Status.READY)  # another knowledge base's
    client = client_for(tenant_a)
    path = f"{BASE}/{kb.pk}/sources"

    def ids(query):
        response = client.get(f"{path}?{query}")
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()["results"]]

    assert ids("status=failed") == [failed.pk]
    assert set(ids("kind=qa")) == {s.pk for s in ready}
    assert ids("") == [s.pk for s in reversed([failed, *ready])]  # newest first
    seen: list[int] = []
    page = f"{path}?limit=2&ordering=title"
    for _ in range(5):
        body = client.get(page).json()
        seen += [row["id"] for row in body["results"]]
        if body["next_cursor"] is None:
            break
        page = f"{path}?limit=2&ordering=title&cursor={body['next_cursor']}"
    assert len(seen) == len(set(seen)) == 5
    assert set(errors_of(client.get(f"{path}?status=lost&kind=video&limit=101"))) == {
        "status",
        "kind",
        "limit",
    }


def test_a_source_shows_its_status_progress_and_report(tenant_a, kb):
    with tenant_context(tenant_a.tenant):
        source = SourceFactory(
            knowledge_base=kb,
            kind=Source.Kind.CRAWL,
            url="https://help.example/",
            status=Source.Status.PROCESSING,
            progress_done=3,
            progress_total=8,
            last_report={"added": 2, "updated": 1, "removed": 0, "unchanged": 4, "failed": [{"url": "x"}]},
            last_synced_at=timezone.now(),
        )
    body = client_for(tenant_a, "agent").get(f"{BASE}/{kb.pk}/sources/{source.pk}").json()
    assert (body["status"], body["active"], body["progress"]) == ("processing", True, {"done": 3, "total": 8})
    assert body["report"] == {
        "added": 2,
        "updated": 1,
        "unchanged": 4,
        "removed": 0,
        "failed": [{"url": "x"}],
        "embedded_chunks": 0,
        "reused_chunks": 0,
    }


def test_sync_queues_a_new_run_unless_one_is_going(tenant_a, kb, queued):
    with tenant_context(tenant_a.tenant):
        failed = SourceFactory(knowledge_base=kb, status=Source.Status.FAILED, error="Timed out", run=3)
        busy = SourceFactory(knowledge_base=kb, status=Source.Status.PROCESSING)
    client = client_for(tenant_a)
    response = send(client, "post", f"{BASE}/{kb.pk}/sources/{failed.pk}/sync")
    assert response.status_code == 202, response.content
    assert (response.json()["status"], response.json()["error"]) == ("queued", "")
    assert stored(tenant_a, failed.pk).run > 3
    assert queued == [(INGEST, (failed.pk,))]
    response = send(client, "post", f"{BASE}/{kb.pk}/sources/{busy.pk}/sync")
    assert response.status_code == 409 and response["Content-Type"] == PROBLEM
    assert len(queued) == 1


def test_deleting_a_source_deletes_its_documents_and_file(
    tenant_a, kb, uploads, django_capture_on_commit_callbacks
):
    client = client_for(tenant_a)
    upload = SimpleUploadedFile("notes.txt", b"Returns take 30 days.", content_type="text/plain")
    created = client.post(f"{BASE}/{kb.pk}/sources/upload", {"file": upload}).json()
    with tenant_context(tenant_a.tenant):
        ingestion.source_ingest(created["id"])
        source = Source.objects.get(pk=created["id"])
        name, storage = source.file.name, source.file.storage
        assert storage.exists(name) and Chunk.objects.filter(source=source).exists()
    with django_capture_on_commit_callbacks(execute=True):
        assert client.delete(f"{BASE}/{kb.pk}/sources/{created['id']}").status_code == 204
    with tenant_context(tenant_a.tenant):
        assert not Source.objects.filter(pk=created["id"]).exists()
        assert not Document.objects.filter(source_id=created["id"]).exists()
        assert not storage.exists(name)


# --- documents -----------------------------------------------------------------------------


def test_documents_of_a_base_and_of_a_source(tenant_a, kb):
    with tenant_context(tenant_a.tenant):
        first = SourceFactory(knowledge_base=kb, kind=Source.Kind.CRAWL, status=Source.Status.READY)
        second = SourceFactory(knowledge_base=kb, status=Source.Status.READY)
        pages = [DocumentFactory(source=first, key=f"p{i}", title=f"Page {i}") for i in range(5)]
        text = DocumentFactory(source=second, title="Text")
        ChunkFactory(document=pages[0])
    client = client_for(tenant_a, "key:agent")

    def walk(path, joiner="?"):
        seen: list[int] = []
        url = f"{path}{joiner}limit=2"
        for _ in range(10):
            body = client.get(url).json()
            seen += [row["id"] for row in body["results"]]
            if body["next_cursor"] is None:
                return seen
            url = f"{path}{joiner}limit=2&cursor={body['next_cursor']}"
        raise AssertionError("no last page")

    everything = walk(f"{BASE}/{kb.pk}/documents")
    assert everything == [d.pk for d in (*pages, text)]  # by title, no gap or repeat
    assert walk(f"{BASE}/{kb.pk}/sources/{first.pk}/documents") == [d.pk for d in pages]
    assert walk(f"{BASE}/{kb.pk}/documents?source={second.pk}", "&") == [text.pk]
    row = client.get(f"{BASE}/{kb.pk}/documents/{pages[0].pk}").json()
    assert (row["source_id"], row["knowledge_base_id"], row["chunk_count"]) == (first.pk, kb.pk, 0)
    assert set(errors_of(client.get(f"{BASE}/{kb.pk}/documents?source=x&ordering=size"))) == {
        "source",
        "ordering",
    }
    assert client.get(f"{BASE}/{kb.pk}/sources/{first.pk + 1000}/documents").status_code == 404


def test_deleting_a_document_deletes_its_chunks_unless_its_source_is_processing(tenant_a):
    kb, source, document = tree(tenant_a)
    client = client_for(tenant_a)
    with tenant_context(tenant_a.tenant):
        Source.objects.filter(pk=source.pk).update(status=Source.Status.PROCESSING)
    response = client.delete(f"{BASE}/{kb.pk}/documents/{document.pk}")
    assert response.status_code == 409 and response["Content-Type"] == PROBLEM
    with tenant_context(tenant_a.tenant):
        assert Chunk.objects.filter(document_id=document.pk).exists()
        Source.objects.filter(pk=source.pk).update(status=Source.Status.READY)
    assert client.delete(f"{BASE}/{kb.pk}/documents/{document.pk}").status_code == 204
    with tenant_context(tenant_a.tenant):
        assert not Document.objects.filter(pk=document.pk).exists()
        assert not Chunk.objects.filter(document_id=document.pk).exists()
        assert Source.objects.filter(pk=source.pk).exists()


def test_a_qa_sources_pairs_are_replaced(tenant_a, queued):
    kb, source, _ = tree(tenant_a)
    client = client_for(tenant_a)
    path = f"{BASE}/{kb.pk}/sources/{source.pk}"
    body = {"title": "Hours", "qa_pairs": [{"question": "Open on Sunday?", "answer": "No."}]}
    response = send(client, "patch", path, body)
    assert response.status_code == 200, response.content
    assert (response.json()["title"], response.json()["status"]) == ("Hours", "queued")
    assert stored(tenant_a, source.pk).qa_pairs == [{"question": "Open on Sunday?", "answer": "No."}]
    assert queued == [(INGEST, (source.pk,))]
    assert set(errors_of(send(client, "patch", path, {"qa_pairs": []}))) == {"qa_pairs"}
    with tenant_context(tenant_a.tenant):
        text = SourceFactory(knowledge_base=kb, status=Source.Status.READY)
    errors = errors_of(send(client, "patch", f"{BASE}/{kb.pk}/sources/{text.pk}", body))
    assert set(errors) == {"qa_pairs"} and stored(tenant_a, text.pk).qa_pairs == []
    assert len(queued) == 1


def test_an_idempotency_key_adds_one_source(tenant_a, kb, queued):
    client = client_for(tenant_a, "key:admin")
    body = {"kind": "text", "title": "Hours", "text": "Open 9 to 5."}
    path = f"{BASE}/{kb.pk}/sources"
    first = client.post(path, json.dumps(body), content_type="application/json", HTTP_IDEMPOTENCY_KEY="add-1")
    again = client.post(path, json.dumps(body), content_type="application/json", HTTP_IDEMPOTENCY_KEY="add-1")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    with tenant_context(tenant_a.tenant):
        assert Source.objects.filter(knowledge_base=kb).count() == 1
    assert len(queued) == 1
