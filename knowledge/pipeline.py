"""The ingestion's bounded pipeline: the model is kept busy while pages are read and written.

    reader thread     pages (fetch, extract) -> chunks -> content hashes
                         | a queue of at most READ_AHEAD pages
    this thread       unchanged page: nothing to do; else reuse the vectors of unchanged
                      chunks, gather the new chunks of the pages read so far (up to the
                      embedder's batch size; fewer when the reader is behind, so the model
                      never waits for a full batch) and hand them to the embedding thread
    embedding thread  one batch at a time through the model
    this thread       meanwhile, writes the batch embedded before in one transaction (each
                      document's chunks swapped whole) with the run's heartbeat
                      (``knowledge.runs``)

While the model embeds a batch, the reader extracts and chunks the next pages and this
thread writes the previous batch; the embedder gets full batches instead of one page's
few chunks. Only this thread queries the database. The reader touches no
database (its connection would not see the caller's transaction): it reports the page
total through the queue. An error of the reader (a file that cannot be read) is raised
here; an error here stops the reader.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from django.db import connections, transaction
from django_tenants.utils import schema_context

from billing.quotas import quota_require
from saas.errors import QuotaExceeded
from saas.tenant_connection import connection

from .chunking import Chunk as Piece
from .chunking import chunk_sections, embedding_text
from .extraction import Section
from .models import Chunk, Document, KnowledgeBase, Source
from .runs import HEARTBEAT_SECONDS

if TYPE_CHECKING:
    from tenants.models import Tenant

CHUNK_TOKENS, CHUNK_OVERLAP = 220, 30
READ_AHEAD = 32  # pages read and chunked ahead of the model
WEB_KINDS = (Source.Kind.CRAWL, Source.Kind.SITEMAP)


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


@dataclass
class _Read:
    page: Page
    chunks: list[Piece]
    content_hash: str


@dataclass
class _Pending:
    read: _Read
    vectors: dict[str, Any]  # content hash -> vector (reused, then the new ones)
    missing: list[Piece]
    new: bool  # no document yet (counts against the pages quota until written)


@dataclass
class Outcome:
    seen: set[str] = field(default_factory=set)  # keys of the pages found
    complete: bool = True  # every page was read: documents not seen are gone


_END = object()


def _chunked(page: Page, model_id: str) -> _Read:
    # The local model reads 256 tokens; a chunk plus its heading prefix must fit.
    chunks = chunk_sections(page.sections, max_tokens=CHUNK_TOKENS, overlap_tokens=CHUNK_OVERLAP)
    digest = hashlib.sha256(model_id.encode())
    for chunk in chunks:
        digest.update(chunk.content_hash.encode())
    return _Read(page, chunks, digest.hexdigest())


class _Reader(threading.Thread):
    """Reads and chunks pages into a bounded queue, ahead of the model."""

    def __init__(self, pages: Callable[[Callable[[int], None]], Iterator[Page]], model_id: str) -> None:
        super().__init__(name="ingest-reader", daemon=True)
        self.pages, self.model_id, self.schema = pages, model_id, connection.schema_name
        self.out: queue.Queue[object] = queue.Queue(maxsize=READ_AHEAD)
        self.stopped = threading.Event()

    def _put(self, item: object) -> bool:
        while not self.stopped.is_set():
            try:
                self.out.put(item, timeout=0.5)
                return True
            except queue.Full:
                continue
        return False

    def _total(self, total: int) -> None:
        self._put(("total", total))

    def run(self) -> None:
        try:
            with schema_context(self.schema):  # tenant storage paths; no query is made here
                for page in self.pages(self._total):
                    item = page if page.error else _chunked(page, self.model_id)
                    if not self._put(item):
                        return
            self._put(_END)
        except BaseException as error:  # handed to the consumer, which raises it
            self._put(error)
        finally:
            connections.close_all()  # this thread's own, if anything opened one

    def stop(self) -> None:
        self.stopped.set()
        while True:  # unblock a reader waiting on a full queue
            try:
                self.out.get_nowait()
            except queue.Empty:
                break
        self.join(timeout=5)


class Pipeline:
    """One run's ingestion of ``pages`` into ``source``. ``beat(done)`` records the run's
    heartbeat and ``done`` more pages, inside the write's transaction when there is one;
    ``set_total(n)`` the number of pages expected."""

    def __init__(
        self,
        *,
        source: Source,
        kb: KnowledgeBase,
        embedder: Any,
        report: Report,
        beat: Callable[[int], None],
        set_total: Callable[[int], None],
    ) -> None:
        self.source, self.kb, self.embedder, self.report = source, kb, embedder, report
        self.beat, self.set_total = beat, set_total
        self.outcome = Outcome()
        self.pending: list[_Pending] = []
        self.done = 0  # pages finished since the last beat
        self.new_pages = 0  # new documents gathered or embedding, not yet written (the pages quota)
        self.inflight: tuple[list[_Pending], Future[None]] | None = None  # embedding now
        self.embedding = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-embed")
        self.full = False  # the plan's pages are used up: no more pages are read
        self.batch = max(1, int(getattr(embedder, "max_batch", 64) or 64))

    def run(self, pages: Callable[[Callable[[int], None]], Iterator[Page]]) -> Outcome:
        reader = _Reader(pages, self.embedder.model_id)
        reader.start()
        try:
            while True:
                try:
                    item = reader.out.get_nowait()
                except queue.Empty:  # nothing read yet: embed what is gathered meanwhile
                    self._flush()
                    try:
                        item = reader.out.get(timeout=HEARTBEAT_SECONDS)
                    except queue.Empty:  # the reader is slow (a slow site): still alive
                        self._beat_now()
                        continue
                if item is _END:
                    break
                if isinstance(item, BaseException):
                    raise item
                if not self._take(item):
                    break
            self._drain()
            self._beat_now()
        finally:
            reader.stop()
            self.embedding.shutdown(wait=True, cancel_futures=True)
        return self.outcome

    def _beat_now(self) -> None:
        with transaction.atomic():
            self.beat(self.done)
        self.done = 0

    def _take(self, item: object) -> bool:
        """Handle one item of the reader; False: stop reading (the plan is full)."""
        if self.full:
            return False
        if isinstance(item, tuple):
            self.set_total(int(item[1]))
            return True
        if isinstance(item, Page):  # a page that could not be read
            self.report.failed.append({"url": item.url or item.key, "error": item.error})
            self.outcome.complete = self.outcome.complete and self.source.kind in WEB_KINDS
            self.done += 1
            return True
        read = cast(_Read, item)
        self.outcome.seen.add(read.page.key)
        try:
            self._plan(read)
        except QuotaExceeded as error:
            self._refused(read.page, error)
        if sum(len(p.missing) for p in self.pending) >= self.batch:
            self._flush()
        return not self.full

    def _refused(self, page: Page, error: QuotaExceeded) -> None:
        if self.source.kind not in WEB_KINDS:
            raise error
        # The plan's pages are used up: what was stored stays, the rest waits for an upgrade
        # (the next sync picks it up) and the report says why.
        self.report.failed.append({"url": page.url or page.key, "error": str(error)})
        self.outcome.complete, self.full = False, True

    def _plan(self, read: _Read) -> None:
        existing = Document.objects.filter(source=self.source, key=read.page.key[:2000]).first()
        if existing is not None and existing.content_hash == read.content_hash:
            self.report.unchanged += 1
            self.done += 1
            return
        if existing is None:  # a new page: refused before any embedding if the plan is full
            tenant = cast("Tenant", connection.tenant)  # ingestion runs in the tenant's context
            waiting = self.new_pages
            with transaction.atomic():
                quota_require(tenant, "pages", used=lambda: Document.objects.count() + waiting)
            self.new_pages += 1
        hashes = {c.content_hash for c in read.chunks}
        vectors: dict[str, Any] = dict(  # content hash -> its stored vector
            Chunk.objects.filter(
                knowledge_base=self.kb,
                content_hash__in=hashes,
                embedding_model_id=self.embedder.model_id,
                embedding__isnull=False,
            ).values_list("content_hash", "embedding")
        )
        missing = [c for c in read.chunks if c.content_hash not in vectors]
        self.pending.append(_Pending(read, vectors, missing, existing is None))

    def _embed(self, batch: list[_Pending]) -> None:
        """The batch's new chunks through the model (on the embedding thread: no queries)."""
        missing = [c for p in batch for c in p.missing]
        if missing:
            vectors = self.embedder.embed_documents([embedding_text(c) for c in missing])
            by_hash = {c.content_hash: v for c, v in zip(missing, vectors, strict=True)}
            for gathered in batch:
                gathered.vectors.update({c.content_hash: by_hash[c.content_hash] for c in gathered.missing})

    def _flush(self) -> None:
        """Hand the gathered pages to the model, and write the batch it embedded before
        meanwhile (the model is not kept waiting for the database)."""
        previous, self.inflight = self.inflight, None
        if self.pending:
            batch, self.pending = self.pending, []
            self.inflight = (batch, self.embedding.submit(self._embed, batch))
        if previous is not None:
            self._write(*previous)

    def _drain(self) -> None:
        """Write what is gathered and embedding, waiting for the model."""
        self._flush()
        self._flush()

    def _write(self, pending: list[_Pending], embedded: Future[None]) -> None:
        embedded.result()  # the model's error, if any, is raised here
        missing = sum(len(p.missing) for p in pending)
        self.report.embedded_chunks += missing
        self.report.reused_chunks += sum(len(p.read.chunks) for p in pending) - missing
        self.new_pages -= sum(1 for p in pending if p.new)
        refused: tuple[Page, QuotaExceeded] | None = None
        with transaction.atomic():
            self.beat(self.done + len(pending))  # raises Superseded: nothing below is written
            self.done = 0
            written: list[int] = []
            for item in pending:
                try:
                    with transaction.atomic():
                        document, created = self._swap(item)
                except QuotaExceeded as error:
                    refused = (item.read.page, error)
                    break
                written.append(document.pk)
                outcome = "added" if created else "updated"
                setattr(self.report, outcome, getattr(self.report, outcome) + 1)
            self._index(written)
        if refused is not None:  # what was written before it stays
            self._refused(*refused)

    def _swap(self, item: _Pending) -> tuple[Document, bool]:
        page, chunks = item.read.page, item.read.chunks
        document, created = Document.objects.select_for_update().get_or_create(
            source=self.source,
            key=page.key[:2000],
            defaults={
                "knowledge_base": self.kb,
                "title": page.title[:300],
                "url": page.url,
                "content_hash": "",
            },
        )
        if created:  # exact under concurrency: the tenant's row is locked until the commit
            tenant = cast("Tenant", connection.tenant)
            quota_require(tenant, "pages", used=lambda: Document.objects.count() - 1)
        Chunk.objects.filter(document=document).delete()
        Chunk.objects.bulk_create(
            [
                Chunk(
                    document=document,
                    source=self.source,
                    knowledge_base=self.kb,
                    position=c.position,
                    text=c.text,
                    heading_path=" > ".join(c.heading_path)[:1000],
                    page=c.page,
                    anchor=(c.anchor or "")[:200],
                    token_count=c.token_count,
                    content_hash=c.content_hash,
                    embedding=list(item.vectors[c.content_hash]),
                    embedding_dim=self.embedder.dimensions,
                    embedding_model_id=self.embedder.model_id,
                )
                for c in chunks
            ],
            batch_size=500,
        )
        document.title, document.url = page.title[:300], page.url
        document.content_hash, document.chunk_count = item.read.content_hash, len(chunks)
        document.save(update_fields=["title", "url", "content_hash", "chunk_count", "updated_at"])
        return document, created

    def _index(self, documents: list[int]) -> None:
        """The full-text vectors of the written documents' chunks, in one statement."""
        if not documents:
            return
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {Chunk._meta.db_table} SET search_vector = "  # noqa: S608 - our table
                "setweight(to_tsvector(%s::regconfig, heading_path), 'A') || "
                "to_tsvector(%s::regconfig, text) WHERE document_id = ANY(%s)",
                [self.kb.language, self.kb.language, documents],
            )
