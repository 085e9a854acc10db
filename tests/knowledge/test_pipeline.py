"""knowledge.pipeline: the new chunks of several pages go to the model in one batch and
their documents are written in one transaction with the run's heartbeat; a run another one
replaced writes nothing; the reader's errors reach the caller; a slow reader still beats."""

from __future__ import annotations

import threading

import pytest
from django_tenants.utils import tenant_context

from knowledge import pipeline, runs
from knowledge.extraction import ExtractionError, Section
from knowledge.ingestion import kb_embedder
from knowledge.models import Chunk, Document, KnowledgeBase, Source
from knowledge.pipeline import Page, Pipeline, Report
from tests.knowledge.factories import SourceFactory

pytestmark = pytest.mark.django_db


class Recording:
    """The knowledge base's real embedder, recording how many texts each call hands it."""

    def __init__(self, embedder) -> None:
        self.embedder, self.calls = embedder, []
        self.model_id, self.dimensions, self.max_batch = embedder.model_id, embedder.dimensions, 64

    def embed_documents(self, texts):
        self.calls.append(len(texts))
        return self.embedder.embed_documents(texts)


def _page(n: int) -> Page:
    text = f"Topic {n}: the filter of model {n} is cleaned every {n + 2} weeks with warm water."
    return Page(f"https://example.com/{n}", f"Page {n}", url=f"https://example.com/{n}",
                sections=[Section(text=text, heading_path=[f"Page {n}"], page=None, anchor="")])  # fmt: skip


@pytest.fixture
def crawl(tenant_a):
    with tenant_context(tenant_a.tenant):
        kb = KnowledgeBase.objects.order_by("id").first()
        source = SourceFactory(knowledge_base=kb, kind=Source.Kind.CRAWL, url="https://example.com/")
        run = runs.run_claim(source.pk, None)
        yield kb, source, run


def _pipeline(kb, source, run, embedder, beats=None) -> Pipeline:
    def beat(done: int) -> None:
        if beats is not None:
            beats.append(done)
        runs.run_beat(source.pk, run, done=done)

    return Pipeline(
        source=source, kb=kb, embedder=embedder, report=Report(), beat=beat, set_total=lambda n: None
    )


def test_pages_read_ahead_are_embedded_together_and_written_in_one_transaction(tenant_a, crawl):
    kb, source, run = crawl
    with tenant_context(tenant_a.tenant):
        embedder = Recording(kb_embedder(kb))
        beats: list[int] = []
        work = _pipeline(kb, source, run, embedder, beats)
        for n in range(5):  # five pages waiting in the reader's queue
            work._take(pipeline._chunked(_page(n), embedder.model_id))
        assert embedder.calls == []  # gathered, not yet embedded
        work._drain()
        assert embedder.calls == [5]  # one batch for the five pages
        assert beats == [5]  # one heartbeat, counting the five pages
        assert Document.objects.filter(source=source).count() == 5
        assert Chunk.objects.filter(source=source, search_vector__isnull=True).count() == 0
        assert Source.objects.get(pk=source.pk).progress_done == 5
        assert work.report.added == 5


def test_a_full_batch_is_embedded_without_waiting_for_more_pages(tenant_a, crawl):
    kb, source, run = crawl
    with tenant_context(tenant_a.tenant):
        embedder = Recording(kb_embedder(kb))
        embedder.max_batch = 2
        work = _pipeline(kb, source, run, embedder)
        for n in range(5):
            work._take(pipeline._chunked(_page(n), embedder.model_id))
        assert Document.objects.filter(source=source).count() == 2  # written while 3 and 4 embed
        work._drain()
        assert embedder.calls == [2, 2, 1]
        assert Document.objects.filter(source=source).count() == 5


def test_the_whole_run_through_the_reader_thread(tenant_a, crawl):
    kb, source, run = crawl
    with tenant_context(tenant_a.tenant):
        embedder = Recording(kb_embedder(kb))
        totals: list[int] = []
        work = _pipeline(kb, source, run, embedder)
        work.set_total = totals.append

        def pages(set_total):
            set_total(12)
            yield from (_page(n) for n in range(12))

        outcome = work.run(pages)
        assert totals == [12]
        assert outcome.complete and outcome.seen == {f"https://example.com/{n}" for n in range(12)}
        assert sum(embedder.calls) == 12
        assert Document.objects.filter(source=source).count() == 12
        assert Source.objects.get(pk=source.pk).progress_done == 12


def test_a_replaced_run_writes_nothing(tenant_a, crawl):
    kb, source, run = crawl
    with tenant_context(tenant_a.tenant):
        runs.run_issue(source.pk)  # a person queued it again meanwhile
        work = _pipeline(kb, source, run, kb_embedder(kb))
        with pytest.raises(runs.Superseded):
            work.run(lambda set_total: iter([_page(1), _page(2)]))
        assert not Document.objects.filter(source=source).exists()


def test_the_reader_s_error_reaches_the_caller(tenant_a, crawl):
    kb, source, run = crawl

    def pages(set_total):
        yield _page(1)
        raise ExtractionError("This file cannot be read.")

    with tenant_context(tenant_a.tenant), pytest.raises(ExtractionError, match="cannot be read"):
        _pipeline(kb, source, run, kb_embedder(kb)).run(pages)


def test_a_slow_reader_still_beats(tenant_a, crawl, monkeypatch):
    monkeypatch.setattr(pipeline, "HEARTBEAT_SECONDS", 0.01)
    kb, source, run = crawl
    beaten = threading.Event()

    def pages(set_total):
        assert beaten.wait(timeout=30)  # a slow site: the page comes after a heartbeat
        yield _page(1)

    with tenant_context(tenant_a.tenant):
        beats: list[int] = []
        work = _pipeline(kb, source, run, kb_embedder(kb), beats)
        real = work.beat

        def beat(done: int) -> None:
            real(done)
            beaten.set()

        work.beat = beat
        work.run(pages)
        assert beats[0] == 0  # alive, nothing done yet
        assert Document.objects.filter(source=source).count() == 1
