"""The ingestion pipeline: a source's files or pages -> text -> chunks -> vectors -> index.

    source_ingest(source_id, run)  (Celery task knowledge.tasks.source_ingest_task)
      claim the run                knowledge.runs: an older run's or a finished source's
                                   delivery does nothing; heartbeats as it goes
      pages of the source          file | text | Q&A | one URL | a crawl | a sitemap
      read ahead (a thread)        extract (knowledge.extraction: by content, with page
                                   numbers, headings, HTML main content without hidden
                                   text) and chunk (knowledge.chunking: by structure, then
                                   tokens with overlap) the next pages while the model embeds
      embed what is new            in batches of the embedder's size over several pages;
                                   vectors of unchanged chunks (same content hash, same
                                   model) are reused: re-ingesting unchanged content embeds
                                   nothing
      replace atomically           each document's chunks are swapped in one transaction
                                   (a batch's documents share it, with the heartbeat), so
                                   retrieval sees the old version or the new, never half
      documents no longer found are removed (crawls, sitemaps); the report says what changed

The bounded pipeline itself is ``knowledge.pipeline``. Idempotent: running it twice, or
again after a worker died in the middle, gives the same documents and chunks.
Preconditions: the tenant's schema is active.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from urllib.parse import unquote, urlsplit

from django.db import transaction
from django.utils import timezone

from saas.crypto import secret_decrypt
from saas.errors import QuotaExceeded
from saas.tenant_connection import connection

from . import runs
from .embeddings import embedder_for
from .embeddings.base import EmbeddingError
from .extraction import ExtractionError, Section, extract
from .fetching import FetchError, RobotsCache, crawl, fetch, sitemap_urls
from .models import Chunk, Document, KnowledgeBase, Source, knowledge_changed, source_finished
from .pipeline import CHUNK_OVERLAP as CHUNK_OVERLAP
from .pipeline import CHUNK_TOKENS as CHUNK_TOKENS
from .pipeline import Page, Pipeline, Report

logger = logging.getLogger(__name__)

SYNC_INTERVALS: dict[str, timedelta] = {
    Source.Schedule.DAILY: timedelta(days=1),
    Source.Schedule.WEEKLY: timedelta(days=7),
}
UNEXPECTED = (
    "Something went wrong while processing this source. Try again; if it keeps failing, contact support."
)


def kb_embedder(kb: KnowledgeBase):
    return embedder_for(
        kb.embedding_provider,
        kb.embedding_model,
        api_key=secret_decrypt(kb.embedding_api_key_encrypted),
        base_url=kb.embedding_base_url,
        dimensions=kb.embedding_dimensions if kb.embedding_provider != "local" else None,
    )


def source_ingest(source_id: int, run: int | None = None) -> dict:
    """Ingest (or re-sync) one source as ``run`` (None: a new run now). Returns its report;
    the source ends ready or failed with a reason a person can act on. A delivery that must
    not run (``knowledge.runs.run_claim``) returns ``{"skipped": ...}`` and changes nothing;
    a run another one replaced midway stops with ``{"superseded": ...}``."""
    source = Source.objects.select_related("knowledge_base").filter(pk=source_id).first()
    if source is None:
        return {}
    claimed = runs.run_claim(source.pk, run)
    if claimed is None:
        return {"skipped": run}
    try:
        report = _ingest(source, claimed)
    except runs.Superseded:
        logger.info("ingestion superseded source=%s run=%s", source.pk, claimed)
        return {"superseded": claimed}
    except (ExtractionError, FetchError, EmbeddingError, QuotaExceeded) as error:
        _fail(source, claimed, str(error))
        return {"error": str(error)}
    except Exception:
        logger.exception("ingestion failed source=%s schema=%s", source.pk, connection.schema_name)
        _fail(source, claimed, UNEXPECTED)
        return {"error": UNEXPECTED}
    now = timezone.now()
    interval = SYNC_INTERVALS.get(source.sync_schedule)
    finished = runs.run_finish(
        source.pk,
        claimed,
        status=Source.Status.READY,
        error="" if not report.failed else f"{len(report.failed)} page(s) could not be read.",
        last_synced_at=now,
        next_sync_at=now + interval if interval else None,
        last_report=report.as_dict(),
        updated_at=now,
    )
    if not finished:
        return {"superseded": claimed}
    logger.info("ingestion finished source=%s run=%s", source.pk, claimed)
    source_id = source.pk
    transaction.on_commit(lambda: knowledge_changed.send(sender=Source, source_id=source_id))
    _finished(source_id, Source.Status.READY)
    return report.as_dict()


def _fail(source: Source, run: int, reason: str) -> None:
    if runs.run_finish(source.pk, run, status=Source.Status.FAILED, error=reason[:500]):
        _finished(source.pk, Source.Status.FAILED)


def _finished(source_id: int, status: str) -> None:
    transaction.on_commit(lambda: source_finished.send(sender=Source, source_id=source_id, status=status))


def _ingest(source: Source, run: int) -> Report:
    kb = source.knowledge_base
    report = Report()
    pipeline = Pipeline(
        source=source,
        kb=kb,
        embedder=kb_embedder(kb),
        report=report,
        beat=lambda done: runs.run_beat(source.pk, run, done=done),
        set_total=lambda total: _set_total(source, total),
    )
    outcome = pipeline.run(lambda set_total: _pages(source, set_total))
    if source.kind in (Source.Kind.URL,) and report.failed:
        raise FetchError(report.failed[0]["error"])
    with transaction.atomic():
        runs.run_beat(source.pk, run)  # still this run's: the removals below are its own
        if outcome.complete:  # a page that is gone from the site (or the file) leaves the index
            gone = Document.objects.filter(source=source).exclude(key__in=outcome.seen)
            report.removed = gone.count()
            gone.delete()
        done = Source.objects.filter(pk=source.pk).values_list("progress_done", flat=True).first() or 0
        Source.objects.filter(pk=source.pk).update(progress_total=max(done, 1))
    return report


def _set_total(source: Source, total: int) -> None:
    Source.objects.filter(pk=source.pk).update(progress_total=total)


def _pages(source: Source, set_total: Callable[[int], None]) -> Iterator[Page]:
    """The source's pages, read on the pipeline's reader thread: no queries here (the page
    total goes through ``set_total``)."""
    kind = source.kind
    if kind == Source.Kind.FILE:
        set_total(1)
        with source.file.open("rb") as handle:
            data = handle.read()
        extracted = extract(data, source.file_name)
        yield Page("file", extracted.title or source.file_name or source.title, sections=extracted.sections)
    elif kind == Source.Kind.TEXT:
        set_total(1)
        extracted = extract(source.text.encode(), "text.md")
        yield Page("text", source.title, sections=extracted.sections)
    elif kind == Source.Kind.QA:
        set_total(1)
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
        set_total(1)
        yield _web_page(source.url, RobotsCache())
    elif kind == Source.Kind.SITEMAP:
        robots = RobotsCache()  # one robots.txt read per site for the whole run
        urls = sitemap_urls(source.url, max_urls=source.page_limit)
        set_total(len(urls))
        for url in urls:
            yield _web_page(url, robots)
    elif kind == Source.Kind.CRAWL:
        set_total(source.page_limit)
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


def _embedding_text_stored(chunk: Chunk) -> str:
    """What ``chunking.embedding_text`` made of this chunk when it was ingested."""
    return (f"{chunk.heading_path}: " if chunk.heading_path else "") + chunk.text


def knowledge_base_reembed(kb_id: int, *, batch: int = 256, until: float | None = None) -> tuple[int, bool]:
    """Re-embed every chunk whose vector came from another model (after a model change),
    batch by batch, until done or past ``until`` (``time.monotonic()``). Returns how many
    were re-embedded and whether all are. Chunks keep their old vector until their new one
    is written; retrieval only uses vectors of the knowledge base's current model."""
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
        if until is not None and time.monotonic() > until:
            return done, False
        vectors = embedder.embed_documents([_embedding_text_stored(c) for c in stale])
        with transaction.atomic():
            for chunk, vector in zip(stale, vectors, strict=True):
                chunk.embedding, chunk.embedding_dim = list(vector), embedder.dimensions
                chunk.embedding_model_id = embedder.model_id
            Chunk.objects.bulk_update(stale, ["embedding", "embedding_dim", "embedding_model_id"])
            runs.reembed_beat(kb.pk)  # alive: the reaper leaves it be
        done += len(stale)
    KnowledgeBase.objects.filter(pk=kb.pk).update(reembedding=False, embedding_model_id=embedder.model_id)
    return done, True
