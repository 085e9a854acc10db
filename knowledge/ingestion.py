"""The ingestion pipeline: a source's files or pages -> text -> chunks -> vectors -> index.

    source_ingest(source_id)       (Celery task knowledge.tasks.source_ingest_task)
      pages of the source          file | text | Q&A | one URL | a crawl | a sitemap
      per page: extract            knowledge.extraction (by content, with page numbers,
                                   headings, HTML main content without hidden text)
               chunk               knowledge.chunking (by structure, then tokens with overlap)
               embed what is new   vectors of unchanged chunks (same content hash, same
                                   model) are reused: re-ingesting unchanged content embeds
                                   nothing
               replace atomically  the document's chunks are swapped in one transaction,
                                   so retrieval sees the old version or the new, never half
      documents no longer found are removed (crawls, sitemaps); the report says what changed

Idempotent: running it twice, or again after a worker died in the middle, gives the same
documents and chunks. Preconditions: the tenant's schema is active.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import unquote, urlsplit

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from billing.quotas import quota_require
from saas.crypto import secret_decrypt
from saas.errors import QuotaExceeded
from saas.tenant_connection import connection

from .chunking import chunk_sections, embedding_text
from .embeddings import embedder_for
from .embeddings.base import EmbeddingError
from .extraction import ExtractionError, Section, extract
from .fetching import FetchError, RobotsCache, crawl, fetch, sitemap_urls
from .models import Chunk, Document, KnowledgeBase, Source

if TYPE_CHECKING:
    from tenants.models import Tenant

logger = logging.getLogger(__name__)

SYNC_INTERVALS: dict[str, timedelta] = {
    Source.Schedule.DAILY: timedelta(days=1),
    Source.Schedule.WEEKLY: timedelta(days=7),
}
CHUNK_TOKENS, CHUNK_OVERLAP = 220, 30
UNEXPECTED = (
    "Something went wrong while processing this source. Try again; if it keeps failing, contact support."
)


@dataclass
class Page:
    key: str  # stable per source: the URL, or "file" / "text" / "qa"
    title: str
    url: str = ""
    sections: list[Section] = field(default_factory=list)
    error: str = ""  # a page that failed (crawls go on without it)


@dataclass
class Report:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    failed: list[dict] = field(default_factory=list)
    embedded_chunks: int = 0
    reused_chunks: int = 0

    def as_dict(self) -> dict:
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "failed": self.failed[:20],
            "embedded_chunks": self.embedded_chunks,
            "reused_chunks": self.reused_chunks,
        }


def kb_embedder(kb: KnowledgeBase):
    return embedder_for(
        kb.embedding_provider,
        kb.embedding_model,
        api_key=secret_decrypt(kb.embedding_api_key_encrypted),
        base_url=kb.embedding_base_url,
        dimensions=kb.embedding_dimensions if kb.embedding_provider != "local" else None,
    )


def source_ingest(source_id: int) -> dict:
    """Ingest (or re-sync) one source. Returns its report; the source ends ready or failed
    with a reason a person can act on."""
    source = Source.objects.select_related("knowledge_base").filter(pk=source_id).first()
    if source is None:
        return {}
    Source.objects.filter(pk=source.pk).update(
        status=Source.Status.PROCESSING, error="", progress_done=0, updated_at=timezone.now()
    )
    try:
        report = _ingest(source)
    except (ExtractionError, FetchError, EmbeddingError, QuotaExceeded) as error:
        _fail(source, str(error))
        return {"error": str(error)}
    except Exception:
        logger.exception("ingestion failed source=%s schema=%s", source.pk, connection.schema_name)
        _fail(source, UNEXPECTED)
        return {"error": UNEXPECTED}
    now = timezone.now()
    interval = SYNC_INTERVALS.get(source.sync_schedule)
    Source.objects.filter(pk=source.pk).update(
        status=Source.Status.READY,
        error="" if not report.failed else f"{len(report.failed)} page(s) could not be read.",
        last_synced_at=now,
        next_sync_at=now + interval if interval else None,
        last_report=report.as_dict(),
        updated_at=now,
    )
    return report.as_dict()


def _fail(source: Source, reason: str) -> None:
    Source.objects.filter(pk=source.pk).update(
        status=Source.Status.FAILED, error=reason[:500], updated_at=timezone.now()
    )


def _ingest(source: Source) -> Report:
    kb = source.knowledge_base
    embedder = kb_embedder(kb)
    report = Report()
    seen: set[str] = set()
    complete = True
    for page in _pages(source):
        if page.error:
            report.failed.append({"url": page.url or page.key, "error": page.error})
            complete = complete and source.kind in (Source.Kind.CRAWL, Source.Kind.SITEMAP)
        else:
            seen.add(page.key)
            try:
                outcome = _document_store(source, kb, page, embedder, report)
            except QuotaExceeded as error:
                if source.kind not in (Source.Kind.CRAWL, Source.Kind.SITEMAP):
                    raise
                # The plan's pages are used up: what was stored stays, the rest waits for
                # an upgrade (the next sync picks it up) and the report says why.
                report.failed.append({"url": page.url or page.key, "error": str(error)})
                complete = False
                break
            setattr(report, outcome, getattr(report, outcome) + 1)
        Source.objects.filter(pk=source.pk).update(
            progress_done=F("progress_done") + 1, updated_at=timezone.now()
        )
    if source.kind in (Source.Kind.URL,) and report.failed:
        raise FetchError(report.failed[0]["error"])
    if complete:  # a page that is gone from the site (or the file) leaves the index
        gone = Document.objects.filter(source=source).exclude(key__in=seen)
        report.removed = gone.count()
        gone.delete()
    done = Source.objects.filter(pk=source.pk).values_list("progress_done", flat=True).first() or 0
    Source.objects.filter(pk=source.pk).update(progress_total=max(done, 1))
    return report


def _set_total(source: Source, total: int) -> None:
    Source.objects.filter(pk=source.pk).update(progress_total=total)


def _pages(source: Source) -> Iterator[Page]:
    kind = source.kind
    if kind == Source.Kind.FILE:
        _set_total(source, 1)
        with source.file.open("rb") as handle:
            data = handle.read()
        extracted = extract(data, source.file_name)
        yield Page("file", extracted.title or source.file_name or source.title, sections=extracted.sections)
    elif kind == Source.Kind.TEXT:
        _set_total(source, 1)
        extracted = extract(source.text.encode(), "text.md")
        yield Page("text", source.title, sections=extracted.sections)
    elif kind == Source.Kind.QA:
        _set_total(source, 1)
        sections = [
            Section(
                text=f"Q: {pair['question']}\nA: {pair['answer']}",
                heading_path=[pair["question"]],
                page=None,
                anchor="",
            )
            for pair in source.qa_pairs
            if pair.get("question") and pair.get("answer")
        ]
        yield Page("qa", source.title, sections=sections)
    elif kind == Source.Kind.URL:
        _set_total(source, 1)
        yield _web_page(source.url, RobotsCache())
    elif kind == Source.Kind.SITEMAP:
        robots = RobotsCache()  # one robots.txt read per site for the whole run
        urls = sitemap_urls(source.url, max_urls=source.page_limit)
        _set_total(source, len(urls))
        for url in urls:
            yield _web_page(url, robots)
    elif kind == Source.Kind.CRAWL:
        _set_total(source, source.page_limit)
        for fetched in crawl(source.url, max_depth=source.crawl_depth, max_pages=source.page_limit):
            yield _page_from(fetched)


def _web_page(url: str, robots: RobotsCache) -> Page:
    try:
        return _page_from(fetch(url, robots=robots))
    except (FetchError, ExtractionError) as error:
        return Page(url, url, url=url, error=str(error))


def _page_from(fetched) -> Page:
    url = getattr(fetched, "final_url", "") or getattr(fetched, "url", "")
    error = getattr(fetched, "error", "")
    if error:
        return Page(url, url, url=url, error=str(error))
    try:
        extracted = extract(fetched.body, _filename_for(url, fetched.content_type))
    except ExtractionError as exc:
        return Page(url, url, url=url, error=str(exc))
    return Page(url, extracted.title or url, url=url, sections=extracted.sections)


def _filename_for(url: str, content_type: str) -> str:
    """A file name for extraction: the URL's last path part (titles of CSV/JSON come from
    it), with the extension the content type implies."""
    content_type = (content_type or "").split(";")[0].strip().lower()
    by_type = {
        "application/pdf": ".pdf",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
        "text/plain": ".txt",
        "text/markdown": ".md",
        "text/csv": ".csv",
        "application/json": ".json",
    }
    stem = unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]).rsplit(".", 1)[0] or "page"
    return stem[:100] + by_type.get(content_type, ".html")


def _document_store(source: Source, kb: KnowledgeBase, page: Page, embedder, report: Report) -> str:
    """Store one page as a document; returns "added", "updated" or "unchanged"."""
    # The local model reads 256 tokens; a chunk plus its heading prefix must fit.
    chunks = chunk_sections(page.sections, max_tokens=CHUNK_TOKENS, overlap_tokens=CHUNK_OVERLAP)
    digest = hashlib.sha256(embedder.model_id.encode())
    for chunk in chunks:
        digest.update(chunk.content_hash.encode())
    content_hash = digest.hexdigest()
    existing = Document.objects.filter(source=source, key=page.key[:2000]).first()
    if existing is not None and existing.content_hash == content_hash:
        return "unchanged"
    tenant = cast("Tenant", connection.tenant)  # ingestion runs in the tenant's context
    if existing is None:  # a new page: refused before any embedding if the plan is full
        with transaction.atomic():
            quota_require(tenant, "pages", used=Document.objects.count)

    hashes = {c.content_hash for c in chunks}
    reuse: dict[str, Any] = dict(  # content hash -> its stored vector
        Chunk.objects.filter(
            knowledge_base=kb,
            content_hash__in=hashes,
            embedding_model_id=embedder.model_id,
            embedding__isnull=False,
        ).values_list("content_hash", "embedding")
    )
    missing = [c for c in chunks if c.content_hash not in reuse]
    if missing:
        vectors = embedder.embed_documents([embedding_text(c) for c in missing])
        reuse.update({c.content_hash: v for c, v in zip(missing, vectors, strict=True)})
    report.embedded_chunks += len(missing)
    report.reused_chunks += len(chunks) - len(missing)

    with transaction.atomic():
        document, created = Document.objects.select_for_update().get_or_create(
            source=source,
            key=page.key[:2000],
            defaults={"knowledge_base": kb, "title": page.title[:300], "url": page.url, "content_hash": ""},
        )
        if created:  # exact under concurrency: the tenant's row is locked until the commit
            quota_require(tenant, "pages", used=lambda: Document.objects.count() - 1)
        Chunk.objects.filter(document=document).delete()
        Chunk.objects.bulk_create(
            [
                Chunk(
                    document=document,
                    source=source,
                    knowledge_base=kb,
                    position=c.position,
                    text=c.text,
                    heading_path=" > ".join(c.heading_path)[:1000],
                    page=c.page,
                    anchor=(c.anchor or "")[:200],
                    token_count=c.token_count,
                    content_hash=c.content_hash,
                    embedding=list(reuse[c.content_hash]),
                    embedding_dim=embedder.dimensions,
                    embedding_model_id=embedder.model_id,
                )
                for c in chunks
            ],
            batch_size=500,
        )
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {Chunk._meta.db_table} SET search_vector = "  # noqa: S608 - our table
                "setweight(to_tsvector(%s::regconfig, heading_path), 'A') || "
                "to_tsvector(%s::regconfig, text) WHERE document_id = %s",
                [kb.language, kb.language, document.pk],
            )
        document.title, document.url = page.title[:300], page.url
        document.content_hash, document.chunk_count = content_hash, len(chunks)
        document.save(update_fields=["title", "url", "content_hash", "chunk_count", "updated_at"])
    return "added" if created else "updated"


def _embedding_text_stored(chunk: Chunk) -> str:
    """What ``chunking.embedding_text`` made of this chunk when it was ingested."""
    return (f"{chunk.heading_path}: " if chunk.heading_path else "") + chunk.text


def knowledge_base_reembed(kb_id: int, *, batch: int = 256) -> int:
    """Re-embed every chunk whose vector came from another model (after a model change).
    Chunks keep their old vector until their new one is written; retrieval only uses
    vectors of the knowledge base's current model."""
    kb = KnowledgeBase.objects.get(pk=kb_id)
    embedder = kb_embedder(kb)
    done = 0
    while True:
        stale = list(
            Chunk.objects.filter(knowledge_base=kb)
            .exclude(embedding_model_id=embedder.model_id)
            .order_by("id")[:batch]
        )
        if not stale:
            break
        vectors = embedder.embed_documents([_embedding_text_stored(c) for c in stale])
        with transaction.atomic():
            for chunk, vector in zip(stale, vectors, strict=True):
                chunk.embedding, chunk.embedding_dim = list(vector), embedder.dimensions
                chunk.embedding_model_id = embedder.model_id
            Chunk.objects.bulk_update(stale, ["embedding", "embedding_dim", "embedding_model_id"])
        done += len(stale)
    KnowledgeBase.objects.filter(pk=kb.pk).update(reembedding=False, embedding_model_id=embedder.model_id)
    return done
