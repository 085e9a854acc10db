"""knowledge.ingestion: the pipeline against the real database, model and index (chunks
with vectors and full text, only what changed re-embedded, a failure keeps the previous
version whole, re-syncs reporting what changed). Retrieval: test_retrieval.py."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from knowledge import ingestion
from knowledge.models import Chunk, Document, KnowledgeBase, Source
from knowledge.retrieval import retrieve
from knowledge.services import source_add_file, source_add_text, source_delete, source_set_qa

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_background_ingestion(monkeypatch):
    """Sources are ingested by calling the pipeline in the test (not on a thread)."""
    monkeypatch.setattr("knowledge.services.enqueue_on_commit", lambda *a, **k: None)


@pytest.fixture
def embed_calls(monkeypatch):
    """Count the texts sent to the embedding model."""
    calls: list[int] = []
    real = ingestion.kb_embedder

    def counting(kb):
        embedder = real(kb)

        class Counting:
            model_id, dimensions = embedder.model_id, embedder.dimensions

            def embed_documents(self, texts):
                calls.append(len(texts))
                return embedder.embed_documents(texts)

            def embed_query(self, text):
                return embedder.embed_query(text)

        return Counting()

    monkeypatch.setattr("knowledge.ingestion.kb_embedder", counting)
    return calls


def _kb(seeded) -> KnowledgeBase:
    return KnowledgeBase.objects.order_by("id").first()


GUIDE = """# Returns

You can send items back within 30 days for a full refund.

# Shipping

Parcels to Germany travel with DHL and arrive in 3 to 5 working days.
"""


def test_a_text_source_becomes_chunks_with_vectors_and_full_text(tenant_a):
    with tenant_context(tenant_a.tenant):
        source = source_add_text(tenant=tenant_a.tenant, kb=_kb(tenant_a), title="Guide", text=GUIDE)
        report = ingestion.source_ingest(source.pk)
        source.refresh_from_db()
        chunks = list(Chunk.objects.filter(source=source).order_by("position"))
    assert (
        report["added"] == 1
        and source.status == "ready"
        and source.progress_done == source.progress_total == 1
    )
    assert [c.heading_path for c in chunks] == ["Returns", "Shipping"]
    assert all(c.embedding_dim == 384 and len(c.embedding) == 384 and c.search_vector for c in chunks)
    with tenant_context(tenant_a.tenant):
        (top, *_) = retrieve(query="How long does delivery to Germany take?")
    assert top.heading_path == "Shipping" and top.title == "Guide" and top.ranks


def test_re_ingesting_unchanged_content_embeds_nothing(tenant_a, embed_calls):
    with tenant_context(tenant_a.tenant):
        source = source_add_text(tenant=tenant_a.tenant, kb=_kb(tenant_a), title="Guide", text=GUIDE)
        first = ingestion.source_ingest(source.pk)
        ids = set(Chunk.objects.filter(source=source).values_list("id", flat=True))
        again = ingestion.source_ingest(source.pk)
        assert set(Chunk.objects.filter(source=source).values_list("id", flat=True)) == ids  # untouched
    assert first["embedded_chunks"] == 2 and again["embedded_chunks"] == 0 and again["unchanged"] == 1
    assert embed_calls == [2]


def test_a_changed_document_replaces_its_chunks_and_embeds_only_what_changed(tenant_a, embed_calls):
    with tenant_context(tenant_a.tenant):
        source = source_add_text(tenant=tenant_a.tenant, kb=_kb(tenant_a), title="Guide", text=GUIDE)
        ingestion.source_ingest(source.pk)
        Source.objects.filter(pk=source.pk).update(text=GUIDE.replace("3 to 5", "2 to 4"))
        report = ingestion.source_ingest(source.pk)
        texts = list(Chunk.objects.filter(source=source).order_by("position").values_list("text", flat=True))
    assert report["updated"] == 1 and report["embedded_chunks"] == 1 and report["reused_chunks"] == 1
    assert "2 to 4" in texts[1] and not any("3 to 5" in t for t in texts)


def test_a_failure_while_replacing_keeps_the_previous_version_whole(tenant_a, monkeypatch):
    with tenant_context(tenant_a.tenant):
        source = source_add_text(tenant=tenant_a.tenant, kb=_kb(tenant_a), title="Guide", text=GUIDE)
        ingestion.source_ingest(source.pk)
        before = list(Chunk.objects.filter(source=source).values_list("id", "text"))
        Source.objects.filter(pk=source.pk).update(text=GUIDE + "\n# Warranty\n\nTwo years on everything.\n")

        def broken(*args, **kwargs):
            raise RuntimeError("the database went away mid-write")

        monkeypatch.setattr(Chunk.objects, "bulk_create", broken)
        report = ingestion.source_ingest(source.pk)
        source.refresh_from_db()
        after = list(Chunk.objects.filter(source=source).values_list("id", "text"))
    assert report["error"] == ingestion.UNEXPECTED and source.status == "failed"
    assert after == before  # the old chunks were never half replaced


def test_qa_pairs_are_one_chunk_each_and_editing_them_re_embeds_only_the_edit(tenant_a, embed_calls):
    pairs = [
        {"question": "Do you ship abroad?", "answer": "Yes, to 30 countries."},
        {"question": "Can I pay by invoice?", "answer": "Business customers can."},
    ]
    with tenant_context(tenant_a.tenant):
        source = source_set_qa(tenant=tenant_a.tenant, kb=_kb(tenant_a), pairs=pairs, title="FAQ")
        ingestion.source_ingest(source.pk)
        assert Chunk.objects.filter(source=source).count() == 2
        pairs[1]["answer"] = "Business customers with an account can."
        source_set_qa(tenant=tenant_a.tenant, kb=_kb(tenant_a), pairs=pairs, source=source)
        ingestion.source_ingest(source.pk)
    assert embed_calls == [2, 1]


def test_a_file_source_and_its_deletion_leave_nothing_behind(tenant_a, django_capture_on_commit_callbacks):
    with tenant_context(tenant_a.tenant):
        upload = SimpleUploadedFile("faq.md", b"# Hours\n\nWe open at 9 and close at 17.\n")
        source = source_add_file(tenant=tenant_a.tenant, kb=_kb(tenant_a), upload=upload)
        name = source.file.name
        assert ingestion.source_ingest(source.pk)["added"] == 1
        document = Document.objects.get(source=source)
        assert document.title and Chunk.objects.filter(document=document).exists()
        with django_capture_on_commit_callbacks(execute=True):
            source_delete(source=source)
        assert not Document.objects.filter(pk=document.pk).exists()
        assert not Chunk.objects.filter(source_id=source.pk).exists()
        assert not default_storage.exists(name)


def test_a_broken_file_fails_with_a_reason_a_person_can_act_on(tenant_a):
    with tenant_context(tenant_a.tenant):
        upload = SimpleUploadedFile("report.pdf", b"%PDF-1.7\n" + b"\x00garbage" * 50)
        source = source_add_file(tenant=tenant_a.tenant, kb=_kb(tenant_a), upload=upload)
        ingestion.source_ingest(source.pk)
        source.refresh_from_db()
    assert source.status == "failed" and source.error and "went wrong" not in source.error


def test_a_website_re_sync_reports_what_changed(tenant_a, settings):
    from knowledge.services import source_add_url

    from .site_server import SiteServer

    with SiteServer() as site:
        settings.KNOWLEDGE_FETCH_PRIVATE_ALLOWLIST = [f"127.0.0.1:{site.port}"]
        settings.KNOWLEDGE_CRAWL_DELAY_CAP = 0
        site.add("/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain")
        site.add("/", "<main><h1>Home</h1><p>Welcome.</p><a href='/a'>A</a> <a href='/b'>B</a> "
                 "<a href='/private/x'>X</a></main>")  # fmt: skip
        site.add("/a", "<main><h1>A</h1><p>Alpha opening hours are nine to five.</p></main>")
        site.add("/b", "<main><h1>B</h1><p>Beta deliveries leave on Mondays.</p></main>")
        site.add("/private/x", "<main><h1>X</h1><p>Never fetched.</p></main>")
        with tenant_context(tenant_a.tenant):
            source = source_add_url(
                kb=_kb(tenant_a), url=site.url("/"), kind="crawl", depth=1, page_limit=10, schedule="daily"
            )
            first = ingestion.source_ingest(source.pk)
            site.add("/a", "<main><h1>A</h1><p>Alpha opening hours are ten to six.</p></main>")
            site.add("/", "<main><h1>Home</h1><p>Welcome.</p><a href='/a'>A</a></main>")  # B is gone
            second = ingestion.source_ingest(source.pk)
            source.refresh_from_db()
            keys = sorted(Document.objects.filter(source=source).values_list("key", flat=True))
    assert first["added"] == 3 and "/private/x" not in site.paths()  # robots.txt honoured
    assert (second["updated"], second["removed"], second["unchanged"]) == (2, 1, 0)  # home and A changed
    assert source.last_report == second and source.next_sync_at > source.last_synced_at
    assert keys == sorted([site.url("/"), site.url("/a")])


def test_changing_the_embedding_model_re_embeds_every_chunk(tenant_a, fake_llm_server, settings):
    from knowledge.services import knowledge_base_set_embedding

    settings.OPENAI_BASE_URL = fake_llm_server.url + "/v1"
    with tenant_context(tenant_a.tenant):
        kb = _kb(tenant_a)
        source = source_add_text(tenant=tenant_a.tenant, kb=kb, title="Guide", text=GUIDE)
        ingestion.source_ingest(source.pk)
        knowledge_base_set_embedding(
            kb=kb, provider="openai", model="text-embedding-3-small", dimensions=1536, api_key="sk-embed-test"
        )
        assert ingestion.knowledge_base_reembed(kb.pk) == (2, True)
        dims = set(Chunk.objects.filter(knowledge_base=kb).values_list("embedding_dim", flat=True))
        (top, *_) = retrieve(query="How long does delivery to Germany take?")
    assert dims == {1536} and top.ranks.get("vector")
