"""knowledge.views, the knowledge dashboard: knowledge bases, adding each kind of source through the forms
(ingestion itself is tested elsewhere: queuing is recorded here, not run), the status
endpoint the page polls, documents and their chunk preview, the retrieval test page and
the settings with the embedding model. Roles, and ids of another tenant or another
knowledge base."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html import escape

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context

from billing.plans import Plan
from billing.quotas import tenant_plan
from knowledge.models import Chunk, Document, KnowledgeBase, Source
from knowledge.retrieval import Passage
from saas.crypto import secret_decrypt
from tests.knowledge.factories import ChunkFactory, DocumentFactory, KnowledgeBaseFactory, SourceFactory

pytestmark = pytest.mark.django_db

SECRET = "sk-embed-SECRET-98765"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64


# --- fixtures and helpers ----------------------------------------------------------------


@pytest.fixture
def queued(monkeypatch) -> list:
    """Record what the services queue instead of running ingestion."""
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


@dataclass
class Tree:
    kb: KnowledgeBase
    source: Source
    document: Document
    chunks: list[Chunk] = field(default_factory=list)


def _tree(
    seeded, *, name="Help center", kind=Source.Kind.QA, texts=("First chunk",), pk=None, **source
) -> Tree:
    """A knowledge base with one source, one document and its chunks (full-text indexed,
    no vectors), in ``seeded``'s schema; ``pk`` gives every object that id."""
    ids = {"pk": pk} if pk else {}
    with tenant_context(seeded.tenant):
        kb = KnowledgeBaseFactory(name=name, **ids)
        defaults = {"title": f"{name} source", "status": Source.Status.READY, "text": ""}
        if kind == Source.Kind.QA:
            defaults["qa_pairs"] = [{"question": "Old question?", "answer": "Old answer."}]
        src = SourceFactory(knowledge_base=kb, kind=kind, **{**defaults, **source}, **ids)
        doc = DocumentFactory(
            source=src,
            key="qa",
            title=f"{name} document",
            url="https://help.example/page",
            content_hash="x",
            chunk_count=len(texts),
            **ids,
        )
        chunks = [
            ChunkFactory(
                document=doc,
                position=i,
                text=text,
                heading_path="Shipping > Europe",
                page=i + 1,
                anchor=f"part-{i}",
                token_count=len(text.split()),
                content_hash=f"h{i}",
            )
            for i, text in enumerate(texts)
        ]
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE knowledge_chunk SET search_vector = to_tsvector('english', text) "
                "WHERE document_id = %s",
                [doc.pk],
            )
    return Tree(kb, src, doc, chunks)


def _pages(tree: Tree) -> list[tuple[str, str]]:
    """(path, who may open it): every GET page of the knowledge dashboard."""
    kb, source, document = tree.kb.pk, tree.source.pk, tree.document.pk
    base = f"/dashboard/knowledge/{kb}"
    return [
        ("/dashboard/knowledge/", "all"),
        (f"{base}/", "all"),
        (f"{base}/status", "all"),
        (f"{base}/live", "all"),
        (f"{base}/search/", "all"),
        (f"{base}/settings/", "managers"),
        (f"{base}/sources/{source}/", "all"),
        (f"{base}/sources/{source}/delete/", "managers"),
        (f"{base}/sources/{source}/qa/", "managers"),
        (f"{base}/documents/{document}/", "all"),
    ]


def _text(response) -> str:
    return response.content.decode()


class FakeEmbedder:
    dimensions = 384
    model_id = "fake-embedder"

    def __init__(self, error: Exception | None = None):
        self.error = error

    def embed_query(self, text):
        if self.error:
            raise self.error
        return [0.01] * self.dimensions

    def embed_documents(self, texts):
        return [self.embed_query(t) for t in texts]


# --- roles and isolation -----------------------------------------------------------------


@pytest.mark.parametrize("role", ["owner", "admin", "agent", "stranger", "other", None])
def test_role_matrix_for_every_knowledge_page(as_role, tenant_a, role):
    tree = _tree(tenant_a)
    client = as_role(role)
    for path, who in _pages(tree):
        status = client.get(path).status_code
        if role is None:
            expected = 302
        elif role in ("stranger", "other"):
            expected = 404
        elif who == "managers" and role == "agent":
            expected = 403
        else:
            expected = 200
        assert status == expected, (path, role, status)


@pytest.mark.parametrize("role", ["agent", "stranger", None])
def test_changes_need_a_manager(as_role, tenant_a, queued, role):
    tree = _tree(tenant_a, kind=Source.Kind.TEXT, text="hello", status=Source.Status.FAILED)
    client = as_role(role)
    base = f"/dashboard/knowledge/{tree.kb.pk}"
    expected = {"agent": 403, "stranger": 404, None: 302}[role]
    posts = [
        ("/dashboard/knowledge/", {"kb-name": "Sneaky", "kb-language": "english"}),
        (f"{base}/", {"add": "text", "text-title": "Sneaky", "text-text": "Sneaky text"}),
        (f"{base}/settings/", {"kb-name": "Sneaky", "emb-provider": "local"}),
        (f"{base}/sources/{tree.source.pk}/retry", {}),
        (f"{base}/sources/{tree.source.pk}/delete/", {}),
    ]
    for path, data in posts:
        assert client.post(path, data).status_code == expected, path
    with tenant_context(tenant_a.tenant):
        assert not KnowledgeBase.objects.filter(name="Sneaky").exists()
        assert Source.objects.filter(pk=tree.source.pk, status=Source.Status.FAILED).exists()
        assert Source.objects.count() == 1
    assert queued == []


def test_agents_see_knowledge_without_the_manager_controls(as_role, tenant_a):
    tree = _tree(tenant_a, status=Source.Status.FAILED, error="Broken file")
    page = _text(as_role("agent").get(f"/dashboard/knowledge/{tree.kb.pk}/"))
    assert "Broken file" in page and "Add a source" not in page
    assert "/retry" not in page and "/delete/" not in page and "/settings/" not in page
    listing = _text(as_role("agent").get("/dashboard/knowledge/"))
    assert "Help center" in listing and "Create knowledge base" not in listing


def test_ids_of_another_tenant_are_not_found(owner, tenant_a, tenant_b, queued):
    foreign = _tree(tenant_b, name="MARKER-B knowledge", pk=987_654, texts=("MARKER-B secret chunk",))
    for path, _ in _pages(foreign):
        if path == "/dashboard/knowledge/":
            continue
        response = owner.get(path)
        assert response.status_code == 404, path
        assert "MARKER-B" not in _text(response)
    base = f"/dashboard/knowledge/{foreign.kb.pk}"
    for path in (f"{base}/sources/{foreign.source.pk}/retry", f"{base}/sources/{foreign.source.pk}/delete/"):
        assert owner.post(path).status_code == 404
    assert "MARKER-B" not in _text(owner.get("/dashboard/knowledge/"))
    with tenant_context(tenant_b.tenant):
        assert Source.objects.filter(pk=foreign.source.pk).exists()
    assert queued == []


def test_a_source_or_document_is_only_found_under_its_own_knowledge_base(owner, tenant_a, queued):
    one = _tree(tenant_a, name="One")
    two = _tree(tenant_a, name="Two", texts=("Two's chunk",))
    mixed = f"/dashboard/knowledge/{one.kb.pk}"
    for path in (
        f"{mixed}/sources/{two.source.pk}/",
        f"{mixed}/sources/{two.source.pk}/qa/",
        f"{mixed}/sources/{two.source.pk}/delete/",
        f"{mixed}/documents/{two.document.pk}/",
    ):
        assert owner.get(path).status_code == 404, path
    for path in (f"{mixed}/sources/{two.source.pk}/retry", f"{mixed}/sources/{two.source.pk}/delete/"):
        assert owner.post(path).status_code == 404, path
    assert owner.post(f"{mixed}/sources/{two.source.pk}/qa/", {"qa-title": "x"}).status_code == 404
    assert owner.get("/dashboard/knowledge/999999/").status_code == 404
    with tenant_context(tenant_a.tenant):
        assert Source.objects.filter(pk=two.source.pk).exists()
    assert queued == []


# --- knowledge bases ---------------------------------------------------------------------


def test_list_counts_sources_documents_and_chunks_without_a_query_per_base(owner, tenant_a):
    _tree(tenant_a, name="Alpha", texts=("a", "b", "c"))

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert owner.get("/dashboard/knowledge/").status_code == 200
        return len(captured)

    queries()  # warm the host and session caches
    few = queries()
    for name in ("Beta", "Gamma", "Delta"):
        _tree(tenant_a, name=name, texts=("x", "y"))
    assert queries() == few

    response = owner.get("/dashboard/knowledge/")
    bases = {kb.name: kb for kb in response.context["bases"]}
    alpha = bases["Alpha"]
    assert (alpha.source_count, alpha.document_count, alpha.chunk_count) == (1, 1, 3)
    assert (bases["Beta"].source_count, bases["Beta"].chunk_count) == (1, 2)
    assert bases["Main knowledge base"].source_count == 0
    assert (alpha.failed_count, alpha.active_count) == (0, 0)

    with tenant_context(tenant_a.tenant):
        SourceFactory(knowledge_base=alpha, kind="text", title="Broken", text="x", status="failed")
        SourceFactory(knowledge_base=alpha, kind="text", title="Busy", text="y", status="processing")
        SourceFactory(knowledge_base=alpha, kind="text", title="Waiting", text="z", status="queued")
    response = owner.get("/dashboard/knowledge/")
    alpha = {kb.name: kb for kb in response.context["bases"]}["Alpha"]
    assert (alpha.source_count, alpha.failed_count, alpha.active_count) == (4, 1, 2)
    page = _text(response)
    assert "2 in progress" in page and "1 failed" in page


def test_list_shows_storage_used_against_the_plan(owner, tenant_a):
    _tree(tenant_a, kind=Source.Kind.TEXT, text="x" * 2048)
    response = owner.get("/dashboard/knowledge/")
    storage = response.context["storage"]
    assert storage["used"] == 2048
    limit_mb = tenant_plan(tenant_a.tenant).storage_mb
    if limit_mb is not None:
        assert storage["limit"] == limit_mb * 1024 * 1024
        assert "included in your plan" in _text(response)
    assert "2.0\xa0KB" in _text(response)


def test_managers_create_a_knowledge_base(owner, tenant_a):
    response = owner.post(
        "/dashboard/knowledge/",
        {"kb-name": "Returns", "kb-description": "For the returns desk", "kb-language": "german"},
    )
    with tenant_context(tenant_a.tenant):
        kb = KnowledgeBase.objects.get(name="Returns")
    assert response.status_code == 302 and response["Location"] == f"/dashboard/knowledge/{kb.pk}/"
    assert (kb.description, kb.language, kb.embedding_provider) == ("For the returns desk", "german", "local")

    invalid = owner.post("/dashboard/knowledge/", {"kb-name": "", "kb-language": "klingon"})
    assert invalid.status_code == 200
    assert invalid.context["form"].errors.keys() == {"name", "language"}


# --- adding sources ----------------------------------------------------------------------


def test_uploading_files_queues_one_source_each(owner, tenant_a, queued, uploads):
    tree = _tree(tenant_a)
    files = [
        SimpleUploadedFile("notes.txt", b"Opening hours: 9 to 5.", content_type="text/plain"),
        SimpleUploadedFile("faq.md", b"# FAQ\n\nShipping takes two days.", content_type="text/markdown"),
    ]
    response = owner.post(
        f"/dashboard/knowledge/{tree.kb.pk}/", {"add": "file", "file-files": files}, follow=True
    )
    assert "2 sources added" in _text(response)
    with tenant_context(tenant_a.tenant):
        made = {s.file_name: s for s in Source.objects.filter(knowledge_base=tree.kb, kind=Source.Kind.FILE)}
    assert set(made) == {"notes.txt", "faq.md"}
    notes = made["notes.txt"]
    assert notes.status == Source.Status.QUEUED and notes.title == "notes.txt"
    assert notes.file_size == len(b"Opening hours: 9 to 5.") and notes.file.name
    assert sorted(args for _, args in queued) == sorted((s.pk,) for s in made.values())
    assert {name for name, _ in queued} == {"knowledge.tasks.source_ingest_task"}


def test_an_empty_file_among_several_is_named_and_the_others_are_added(owner, tenant_a, queued, uploads):
    tree = _tree(tenant_a)
    files = [
        SimpleUploadedFile("notes.txt", b"Opening hours: 9 to 5.", content_type="text/plain"),
        SimpleUploadedFile("empty.txt", b"", content_type="text/plain"),
        SimpleUploadedFile("manual.pdf", PNG, content_type="application/pdf"),
    ]
    response = owner.post(f"/dashboard/knowledge/{tree.kb.pk}/", {"add": "file", "file-files": files})
    text = _text(response)
    assert response.status_code == 200 and "1 of the files added" in text
    assert "empty.txt: The submitted file is empty." in text and "manual.pdf: " in text
    with tenant_context(tenant_a.tenant):
        made = Source.objects.filter(knowledge_base=tree.kb, kind=Source.Kind.FILE)
        assert [s.file_name for s in made] == ["notes.txt"]
    assert len(queued) == 1


def test_a_batch_of_empty_files_names_each(owner, tenant_a, queued, uploads):
    tree = _tree(tenant_a)
    files = [SimpleUploadedFile(name, b"", content_type="text/plain") for name in ("a.txt", "b.txt")]
    text = _text(owner.post(f"/dashboard/knowledge/{tree.kb.pk}/", {"add": "file", "file-files": files}))
    assert "a.txt: The submitted file is empty." in text and "b.txt: The submitted file is empty." in text
    assert queued == []


def test_a_png_named_pdf_is_refused_with_the_services_reason(owner, tenant_a, queued, uploads):
    from knowledge.extraction import ExtractionError, detect_type

    with pytest.raises(ExtractionError) as refused:
        detect_type(PNG, "manual.pdf")
    tree = _tree(tenant_a)
    upload = SimpleUploadedFile("manual.pdf", PNG, content_type="application/pdf")
    response = owner.post(f"/dashboard/knowledge/{tree.kb.pk}/", {"add": "file", "file-files": [upload]})
    assert response.status_code == 200
    assert f"manual.pdf: {escape(str(refused.value))}" in _text(response)
    assert response.context["panel"] == "file"
    with tenant_context(tenant_a.tenant):
        assert not Source.objects.filter(kind=Source.Kind.FILE).exists()
    assert queued == []


def test_uploads_that_are_too_large_or_over_quota_are_refused(owner, tenant_a, queued, uploads, monkeypatch):
    tree = _tree(tenant_a)
    url = f"/dashboard/knowledge/{tree.kb.pk}/"

    def upload():
        return SimpleUploadedFile("notes.txt", b"Some text for the bot.", content_type="text/plain")

    monkeypatch.setattr("knowledge.services.MAX_UPLOAD_MB", 0)
    assert "Upload files of at most 0 MB." in _text(
        owner.post(url, {"add": "file", "file-files": [upload()]})
    )

    monkeypatch.setattr("knowledge.services.MAX_UPLOAD_MB", 20)
    tiny = Plan("tiny", "Tiny", 0, 0, widgets=1, ai_answers=0, storage_mb=0, pages=0, seats=1)
    monkeypatch.setattr("billing.quotas.plan_get", lambda code: tiny)
    page = _text(owner.post(url, {"add": "file", "file-files": [upload()]}))
    assert "The Tiny plan includes 0 MB of knowledge. Upgrade to Free for 10 MB of knowledge." in page
    page = _text(owner.post(url, {"add": "text", "text-title": "T", "text-text": "Some text"}))
    assert "The Tiny plan includes 0 MB of knowledge." in page

    assert "Choose at least one file." in _text(owner.post(url, {"add": "file"}))
    with tenant_context(tenant_a.tenant):
        assert not Source.objects.filter(kind__in=["file", "text"]).exists()
    assert queued == []


@pytest.mark.parametrize(
    ("kind", "depth", "limit", "schedule"),
    [("url", 2, 50, ""), ("crawl", 3, 20, "weekly"), ("sitemap", 2, 500, "daily")],
)
def test_adding_a_web_source_stores_its_options(
    owner, tenant_a, queued, settings, kind, depth, limit, schedule
):
    settings.KNOWLEDGE_FETCH_ALLOW_PRIVATE = True  # no DNS in tests
    tree = _tree(tenant_a)
    data = {
        "add": "url",
        "url-url": "https://help.example/start",
        "url-kind": kind,
        "url-depth": depth,
        "url-page_limit": limit,
        "url-schedule": schedule,
    }
    response = owner.post(f"/dashboard/knowledge/{tree.kb.pk}/", data)
    assert response.status_code == 302
    with tenant_context(tenant_a.tenant):
        source = Source.objects.get(knowledge_base=tree.kb, url="https://help.example/start")
    assert (source.kind, source.crawl_depth, source.page_limit, source.sync_schedule) == (
        kind,
        depth,
        limit,
        schedule,
    )
    assert source.status == Source.Status.QUEUED
    assert queued == [("knowledge.tasks.source_ingest_task", (source.pk,))]


def test_web_sources_are_validated(owner, tenant_a, queued, settings):
    settings.KNOWLEDGE_FETCH_ALLOW_PRIVATE = False
    settings.KNOWLEDGE_FETCH_PRIVATE_ALLOWLIST = []
    tree = _tree(tenant_a)
    url = f"/dashboard/knowledge/{tree.kb.pk}/"
    base = {"add": "url", "url-kind": "crawl", "url-depth": 2, "url-page_limit": 50, "url-schedule": ""}
    response = owner.post(url, {**base, "url-url": "http://127.0.0.1:8000/admin"})
    assert "This address is not on the public internet." in _text(response)
    response = owner.post(url, {**base, "url-url": "https://help.example/", "url-depth": 6})
    assert response.context["forms"]["url"].errors.keys() == {"depth"}
    assert response.context["panel"] == "url"
    with tenant_context(tenant_a.tenant):
        assert not Source.objects.filter(kind=Source.Kind.CRAWL).exists()
    assert queued == []


def test_adding_qa_pairs_and_text(owner, tenant_a, queued):
    tree = _tree(tenant_a, kind=Source.Kind.TEXT, text="x")
    url = f"/dashboard/knowledge/{tree.kb.pk}/"
    response = owner.post(
        url,
        {
            "add": "qa",
            "qa-title": "Shipping FAQ",
            "qa-question": ["How long does shipping take?", "", "Do you ship abroad?"],
            "qa-answer": ["Two days.", "", "Yes, to the EU."],
        },
    )
    assert response.status_code == 302
    response = owner.post(
        url, {"add": "text", "text-title": "Opening hours", "text-text": "  9 to 5, Mon-Fri. "}
    )
    assert response.status_code == 302
    with tenant_context(tenant_a.tenant):
        qa = Source.objects.get(kind=Source.Kind.QA)
        text = Source.objects.get(title="Opening hours")
    assert qa.title == "Shipping FAQ" and qa.status == Source.Status.QUEUED
    assert qa.qa_pairs == [
        {"question": "How long does shipping take?", "answer": "Two days."},
        {"question": "Do you ship abroad?", "answer": "Yes, to the EU."},
    ]
    assert (text.kind, text.text, text.status) == ("text", "9 to 5, Mon-Fri.", "queued")
    assert [args for _, args in queued] == [(qa.pk,), (text.pk,)]

    refused = owner.post(url, {"add": "qa", "qa-title": "Empty", "qa-question": ["Only a question"]})
    assert "Add at least one question with its answer." in _text(refused)
    assert refused.context["panel"] == "qa"


def test_editing_a_qa_source_replaces_its_pairs(owner, tenant_a, queued):
    tree = _tree(tenant_a)
    url = f"/dashboard/knowledge/{tree.kb.pk}/sources/{tree.source.pk}/qa/"
    page = _text(owner.get(url))
    assert 'value="Old question?"' in page and "Old answer.</textarea>" in page
    response = owner.post(url, {"qa-title": "Renamed", "qa-question": ["New?"], "qa-answer": ["New."]})
    assert response.status_code == 302
    with tenant_context(tenant_a.tenant):
        source = Source.objects.get(pk=tree.source.pk)
    assert source.title == "Renamed" and source.qa_pairs == [{"question": "New?", "answer": "New."}]
    assert source.status == Source.Status.QUEUED and queued == [
        ("knowledge.tasks.source_ingest_task", (source.pk,))
    ]

    refused = owner.post(url, {"qa-title": "Gone", "qa-question": [""], "qa-answer": [""]})
    assert "Add at least one question with its answer." in _text(refused)
    with tenant_context(tenant_a.tenant):
        assert Source.objects.get(pk=tree.source.pk).title == "Renamed"

    text = _tree(tenant_a, name="Other", kind=Source.Kind.TEXT, text="x")
    assert owner.get(f"/dashboard/knowledge/{text.kb.pk}/sources/{text.source.pk}/qa/").status_code == 404


# --- status, retry, delete ---------------------------------------------------------------


def test_the_page_shows_status_progress_errors_and_reports(owner, tenant_a):
    tree = _tree(tenant_a, status=Source.Status.PROCESSING, progress_done=3, progress_total=10)
    with tenant_context(tenant_a.tenant):
        SourceFactory(
            knowledge_base=tree.kb,
            kind=Source.Kind.URL,
            title="Broken page",
            url="https://help.example/broken",
            status=Source.Status.FAILED,
            error="The server answered 404 <not found>.",
        )
        SourceFactory(
            knowledge_base=tree.kb,
            kind=Source.Kind.SITEMAP,
            title="Docs",
            url="https://help.example/sitemap.xml",
            sync_schedule="weekly",
            last_synced_at=timezone.now(),
            last_report={"added": 4, "updated": 1, "removed": 2, "unchanged": 7, "failed": []},
        )
    page = _text(owner.get(f"/dashboard/knowledge/{tree.kb.pk}/"))
    assert 'value="3"' in page and 'max="10"' in page and "3 / 10" in page
    assert "The server answered 404 &lt;not found&gt;." in page and "Retry<span" in page
    assert "4 added, 1 updated, 2 removed, 7 unchanged" in page and "re-sync weekly" in page
    assert 'data-status-url="/dashboard/knowledge/' in page and 'data-active="1"' in page
    assert re.search(r'<script src="/static/knowledge/knowledge\.js" defer></script>', page)
    assert re.search(r'<link rel="stylesheet" href="/static/knowledge/knowledge\.css">', page)
    assert not re.search(r"\son[a-z]+=", page), "no inline event handlers"


def test_status_endpoint_returns_each_sources_progress(as_role, tenant_a):
    tree = _tree(tenant_a, status=Source.Status.PROCESSING, progress_done=3, progress_total=10)
    with tenant_context(tenant_a.tenant):
        failed = SourceFactory(
            knowledge_base=tree.kb, kind="text", title="t", text="x", status="failed", error="Nope"
        )
    response = as_role("agent").get(f"/dashboard/knowledge/{tree.kb.pk}/status")
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    body = response.json()
    states = {s["id"]: s for s in body["sources"]}
    mine = states[tree.source.pk]
    assert (mine["status"], mine["progress_done"], mine["progress_total"], mine["error"]) == (
        "processing",
        3,
        10,
        "",
    )
    assert (states[failed.pk]["status"], states[failed.pk]["error"]) == ("failed", "Nope")
    assert body["active"] is True

    with tenant_context(tenant_a.tenant):
        Source.objects.filter(pk=tree.source.pk).update(status="ready")
    assert as_role("agent").get(f"/dashboard/knowledge/{tree.kb.pk}/status").json()["active"] is False


def test_the_live_partial_carries_fresh_counts_and_polls_only_while_something_is_processing(
    as_role, tenant_a
):
    tree = _tree(tenant_a, status=Source.Status.PROCESSING, progress_done=3, progress_total=10)
    with tenant_context(tenant_a.tenant):
        ready = SourceFactory(knowledge_base=tree.kb, kind="text", title="Hours", text="x", status="ready")
        DocumentFactory(source=ready, key="a")
        DocumentFactory(source=ready, key="b")
    live = f"/dashboard/knowledge/{tree.kb.pk}/live"
    page = _text(owner_page := as_role("agent").get(f"/dashboard/knowledge/{tree.kb.pk}/"))
    assert owner_page.status_code == 200
    assert f'hx-get="{live}?watch={tree.source.pk}" hx-trigger="every 2s" hx-swap="outerHTML"' in page

    response = as_role("agent").get(live, {"watch": str(tree.source.pk)}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    partial = _text(response)
    assert partial.lstrip().startswith('<div id="sources-live"') and 'class="sidebar"' not in partial
    assert 'hx-trigger="every 2s"' in partial and "3 / 10" in partial
    assert re.search(r'data-total="documents">\s*3\b', partial)  # one from the tree, two from Hours
    assert re.search(r'data-total="chunks">\s*1\b', partial)
    assert '<p id="sources-announcer" hx-swap-oob="innerHTML"></p>' in partial  # nothing finished

    # Ingestion finishes: the same request now carries the counts, no trigger (the polling
    # ends) and the announcement of the source that was watched.
    with tenant_context(tenant_a.tenant):
        Source.objects.filter(pk=tree.source.pk).update(status="ready")
        ChunkFactory.create_batch(4, document=tree.document)
    partial = _text(as_role("agent").get(live, {"watch": f"{tree.source.pk},x,{ready.pk}99"}))
    assert "hx-trigger" not in partial and "hx-get" not in partial and 'data-active="0"' in partial
    assert re.search(r'data-total="chunks">\s*5\b', partial)
    row = partial[partial.index(f'data-source-id="{tree.source.pk}"') :]
    assert re.search(r'data-role="chunks">5<', row)
    assert '<p id="sources-announcer" hx-swap-oob="innerHTML">“Help center source” is ready.</p>' in partial


def test_retry_queues_a_failed_source_again(owner, tenant_a, queued):
    tree = _tree(tenant_a, kind=Source.Kind.TEXT, text="x", status=Source.Status.FAILED, error="Broken")
    response = owner.post(f"/dashboard/knowledge/{tree.kb.pk}/sources/{tree.source.pk}/retry")
    assert response.status_code == 302
    with tenant_context(tenant_a.tenant):
        source = Source.objects.get(pk=tree.source.pk)
    assert (source.status, source.error) == ("queued", "")
    assert queued == [("knowledge.tasks.source_ingest_task", (source.pk,))]

    again = owner.post(f"/dashboard/knowledge/{tree.kb.pk}/sources/{tree.source.pk}/retry", follow=True)
    assert "already being processed" in _text(again) and len(queued) == 1
    assert owner.get(f"/dashboard/knowledge/{tree.kb.pk}/sources/{tree.source.pk}/retry").status_code == 405


def test_delete_asks_first_then_removes_the_source_with_its_chunks(owner, tenant_a):
    tree = _tree(tenant_a, texts=("a", "b"))
    confirm = owner.get(f"/dashboard/knowledge/{tree.kb.pk}/sources/{tree.source.pk}/delete/")
    assert "1 document and 2 chunks" in _text(confirm)
    with tenant_context(tenant_a.tenant):
        assert Source.objects.filter(pk=tree.source.pk).exists()
    response = owner.post(f"/dashboard/knowledge/{tree.kb.pk}/sources/{tree.source.pk}/delete/")
    assert response.status_code == 302
    with tenant_context(tenant_a.tenant):
        assert not Source.objects.filter(pk=tree.source.pk).exists()
        assert not Chunk.objects.filter(document_id=tree.document.pk).exists()


# --- documents and chunks ----------------------------------------------------------------


def test_source_lists_its_documents_and_the_document_its_chunks_in_order(as_role, tenant_a):
    tree = _tree(tenant_a, texts=("Second <script>window.__xss=1</script>\n  indented", "Third part"))
    agent = as_role("agent")
    listing = _text(agent.get(f"/dashboard/knowledge/{tree.kb.pk}/sources/{tree.source.pk}/"))
    assert f"/dashboard/knowledge/{tree.kb.pk}/documents/{tree.document.pk}/" in listing
    assert "Help center document" in listing and "https://help.example/page" in listing

    page = _text(agent.get(f"/dashboard/knowledge/{tree.kb.pk}/documents/{tree.document.pk}/"))
    assert "<script>window.__xss" not in page
    assert "Second &lt;script&gt;window.__xss=1&lt;/script&gt;\n  indented" in page
    assert page.index("Second &lt;script") < page.index("Third part")
    assert "Shipping &gt; Europe" in page and "page 1" in page and "#part-0" in page and "3 tokens" in page


# --- retrieval test page -----------------------------------------------------------------


def test_search_shows_fused_and_per_method_ranks(as_role, tenant_a, monkeypatch):
    monkeypatch.setattr("knowledge.ingestion.kb_embedder", lambda kb: FakeEmbedder())
    tree = _tree(
        tenant_a,
        texts=(
            "Parcels to Europe arrive in three days.",
            "Our office cat is named Biscuit.",
            "Refunds take a week.",
        ),
    )
    response = as_role("agent").get(f"/dashboard/knowledge/{tree.kb.pk}/search/", {"q": "parcels europe"})
    assert response.status_code == 200
    results = response.context["results"]
    assert [p["excerpt"] for p in results["fused"]] == ["Parcels to Europe arrive in three days."]
    assert results["fused"][0]["ranks"] == [("text", 1)] and results["fused"][0]["score"] > 0
    assert results["vector"] == [] and len(results["text"]) == 1
    page = _text(response)
    assert "words #1" in page and "Reciprocal rank fusion" in page and "Shipping &gt; Europe" in page
    assert "Help center source" in page


def test_search_calls_retrieval_once_per_method(owner, tenant_a, monkeypatch):
    tree = _tree(tenant_a)
    calls = []

    def retrieve(**kwargs):
        calls.append(kwargs)
        ranks = {"vector": 2, "text": 1} if len(kwargs["methods"]) == 2 else {kwargs["methods"][0]: 1}
        return [
            Passage(
                text="Ship <b>fast</b>",
                title="Guide",
                url="https://help.example/guide#eu",
                page=4,
                source_id=tree.source.pk,
                rank=1,
                ranks=ranks,
                score=0.0325,
                heading_path="Shipping > EU",
            )
        ]

    monkeypatch.setattr("knowledge.retrieval.retrieve", retrieve)
    page = _text(owner.get(f"/dashboard/knowledge/{tree.kb.pk}/search/?q=shipping"))
    assert [c["methods"] for c in calls] == [("vector", "text"), ("vector",), ("text",)]
    assert all(c["knowledge_base_ids"] == [tree.kb.pk] and c["query"] == "shipping" for c in calls)
    assert re.search(r">words #1</span>.*>meaning #2</span>", page, re.S)
    assert "0.0325" in page and "page 4" in page
    assert "Ship &lt;b&gt;fast&lt;/b&gt;" in page and 'href="https://help.example/guide#eu"' in page


def test_search_falls_back_to_keywords_when_embeddings_fail(owner, tenant_a, monkeypatch):
    from knowledge.embeddings.base import EmbeddingError

    monkeypatch.setattr(
        "knowledge.ingestion.kb_embedder", lambda kb: FakeEmbedder(EmbeddingError("The model is offline."))
    )
    tree = _tree(tenant_a, texts=("Parcels to Europe arrive in three days.",))
    response = owner.get(f"/dashboard/knowledge/{tree.kb.pk}/search/", {"q": "parcels"})
    assert response.status_code == 200
    assert "The model is offline." in _text(response)
    assert len(response.context["results"]["fused"]) == 1


def test_search_on_an_empty_knowledge_base_says_nothing_is_ingested(owner, tenant_a, monkeypatch):
    monkeypatch.setattr("knowledge.retrieval.retrieve", lambda **kwargs: pytest.fail("not called"))
    with tenant_context(tenant_a.tenant):
        kb = KnowledgeBaseFactory(name="Empty")
    response = owner.get(f"/dashboard/knowledge/{kb.pk}/search/", {"q": "anything"})
    assert "Nothing ingested yet" in _text(response)


# --- settings ----------------------------------------------------------------------------


def _settings_form(kb: KnowledgeBase, **changes) -> dict:
    data = {
        "kb-name": kb.name,
        "kb-description": kb.description,
        "kb-language": kb.language,
        "emb-provider": kb.embedding_provider,
        "emb-model": kb.embedding_model,
        "emb-dimensions": "" if kb.embedding_provider == "local" else kb.embedding_dimensions,
        "emb-base_url": kb.embedding_base_url,
        "emb-api_key": "",
    }
    emb = {"provider", "model", "dimensions", "base_url", "api_key"}
    return {**data, **{(f"emb-{k}" if k in emb else k): v for k, v in changes.items()}}


def _reload(tenant, kb) -> KnowledgeBase:
    with tenant_context(tenant.tenant):
        return KnowledgeBase.objects.get(pk=kb.pk)


def test_settings_store_the_embedding_choice_and_never_show_the_key(owner, tenant_a, queued):
    with tenant_context(tenant_a.tenant):
        kb = KnowledgeBaseFactory(name="Docs")
    url = f"/dashboard/knowledge/{kb.pk}/settings/"
    response = owner.post(url, _settings_form(kb, provider="openai", api_key=SECRET), follow=True)
    assert SECRET not in _text(response) and "re-embedded" in _text(response)
    kb = _reload(tenant_a, kb)
    assert (kb.embedding_provider, kb.embedding_model, kb.embedding_dimensions) == (
        "openai",
        "text-embedding-3-small",
        1536,
    )
    assert kb.reembedding is True and secret_decrypt(kb.embedding_api_key_encrypted) == SECRET
    assert queued == [("knowledge.tasks.knowledge_base_reembed_task", (kb.pk,))]
    page = _text(owner.get(url))
    assert SECRET not in page and "A key is stored" in page and "Re-embedding runs in the background" in page

    # Blank keeps the key; a name-only change re-embeds nothing.
    owner.post(url, {**_settings_form(kb), "kb-name": "Docs 2"})
    kb = _reload(tenant_a, kb)
    assert kb.name == "Docs 2" and secret_decrypt(kb.embedding_api_key_encrypted) == SECRET
    assert len(queued) == 1

    # Another endpoint without a new key: the stored key is not sent there.
    owner.post(
        url,
        _settings_form(
            kb,
            provider="openai_compatible",
            model="bge-small",
            dimensions=384,
            base_url="http://127.0.0.1:9/v1",
        ),
    )
    kb = _reload(tenant_a, kb)
    assert (kb.embedding_provider, kb.embedding_model, kb.embedding_dimensions, kb.embedding_base_url) == (
        "openai_compatible",
        "bge-small",
        384,
        "http://127.0.0.1:9/v1",
    )
    assert kb.embedding_api_key_encrypted == "" and len(queued) == 2


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        (
            {"provider": "local", "dimensions": 1536},
            "dimensions",
            "The built-in model makes vectors of size 384.",
        ),
        ({"provider": "openai", "dimensions": 512}, "dimensions", "Select a valid choice."),
        ({"provider": "openai"}, "api_key", "Paste your OpenAI API key."),
        (
            {"provider": "openai", "model": "text-embedding-ada-002", "dimensions": 384, "api_key": "sk-1"},
            "dimensions",
            "makes vectors of only 1536 dimensions",
        ),
        ({"provider": "openai_compatible", "model": "m", "dimensions": 384}, "base_url", "Enter the address"),
        (
            {"provider": "openai_compatible", "model": "m", "base_url": "https://e.example/v1"},
            "dimensions",
            "Choose the size",
        ),
        (
            {
                "provider": "openai_compatible",
                "model": "m",
                "dimensions": 384,
                "base_url": "http://10.0.0.1/v1",
            },
            "base_url",
            "This address is not on the public internet.",
        ),
    ],
)
def test_settings_validate_the_embedding_model(owner, tenant_a, queued, settings, changes, field, message):
    settings.LLM_ALLOW_PRIVATE_BASE_URLS = False
    with tenant_context(tenant_a.tenant):
        kb = KnowledgeBaseFactory(name="Docs")
    response = owner.post(
        f"/dashboard/knowledge/{kb.pk}/settings/", _settings_form(kb, **{"api_key": "", **changes})
    )
    assert response.status_code == 200
    errors = response.context["embedding"].errors
    assert any(message in e for e in errors.get(field, [])), errors
    assert _reload(tenant_a, kb).embedding_provider == "local" and queued == []


def test_language_is_fixed_once_content_is_indexed(owner, tenant_a):
    tree = _tree(tenant_a)
    url = f"/dashboard/knowledge/{tree.kb.pk}/settings/"
    assert owner.get(url).context["form"].fields["language"].disabled
    owner.post(url, _settings_form(tree.kb, **{"kb-language": "german"}))
    assert _reload(tenant_a, tree.kb).language == "english"
    with tenant_context(tenant_a.tenant):
        empty = KnowledgeBaseFactory(name="Empty")
    owner.post(
        f"/dashboard/knowledge/{empty.pk}/settings/", _settings_form(empty, **{"kb-language": "german"})
    )
    assert _reload(tenant_a, empty).language == "german"


def test_a_refused_settings_page_shows_what_is_stored(owner, tenant_a, queued):
    with tenant_context(tenant_a.tenant):
        kb = KnowledgeBaseFactory(name="Docs")
    response = owner.post(
        f"/dashboard/knowledge/{kb.pk}/settings/",
        _settings_form(kb, **{"kb-name": "Renamed", "provider": "openai"}),  # no key: refused
    )
    assert response.status_code == 200
    assert response.context["embedding"].errors["api_key"] == ["Paste your OpenAI API key."]
    assert response.context["kb"].name == "Docs" and "<title>Settings · Docs" in _text(response)
    assert response.context["form"]["name"].value() == "Renamed"  # the input is kept to fix
    assert _reload(tenant_a, kb).name == "Docs" and queued == []
