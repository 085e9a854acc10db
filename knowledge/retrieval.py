"""Hybrid retrieval: the interface the chat engine calls.

``retrieve`` runs in the tenant's schema (the caller enters it), so only this tenant's
chunks are in the tables it reads; it searches the knowledge bases named (all when none):

* vector search: cosine distance on the pgvector HNSW index of the knowledge base's vector
  size (a partial expression index per size, migration 0003), with the query embedded by
  the knowledge base's own model on another thread while the full-text search runs;
* full-text search: chunks holding every lexeme of the question, then those holding at least
  half (knowledge base's language configuration), found through the GIN index, a bounded
  number ranked by ``ts_rank`` (headings weigh more);
* reciprocal rank fusion of the two lists (k = 60), an optional minimum fused score, and
  the chunks' citation data (document title, URL with anchor, file name, page);
* each passage's relevance signal: the cosine similarity of its vector match
  (``Passage.similarity``) and whether it passes its knowledge base's threshold or holds
  every word of the question (``Passage.relevant``, the rule of ``knowledge.relevance``).

When the query cannot be embedded (the embedding server is down, a tenant's embedding API
fails) a search asked for both methods answers from full-text search alone, with one
warning per minute per process; a search asked for vectors only raises ``EmbeddingError``.

No similarity score is ever shown to visitors: ``Passage.score`` is for the dashboard.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

from django.db import connection, transaction
from django.db.models import Exists, OuterRef

from saas.observability.metrics import RETRIEVAL_DURATION

# The module, not the function: the embedder is looked up when a search runs.
from . import ingestion
from .embeddings.base import Embedder, EmbeddingError
from .models import Chunk, KnowledgeBase
from .relevance import is_relevant, min_relevance

RRF_K = 60
CANDIDATES = 40  # from each method, before fusion
# The columns a passage is made of (_passages).
PASSAGE_FIELDS = (
    "text",
    "heading_path",
    "page",
    "anchor",
    "source",
    "document",
    "document__url",
    "document__title",
    "source__title",
    "source__file_name",
    "source__kind",
)
EF_SEARCH = 200  # HNSW candidate list: recall@10 0.97 at 100k chunks for ~1 ms more than 100
EMBEDDING_WARNING_SECONDS = 60.0

logger = logging.getLogger(__name__)
_embedding_warned = 0.0  # monotonic time of the last "answered without vectors" warning

# Full-text, in two passes through the GIN index: chunks holding every word of the question,
# then (if fewer than CANDIDATES) chunks holding at least half of them (a question rarely
# repeats every word of its answer; one shared common word is noise; "k of n" is an OR of
# ANDs). Each pass ranks at most MATCH_CAP matches by ts_rank against all the words, so
# a question made of very common words costs the same as any other.
MAX_LEXEMES = 8
MATCH_CAP = 500  # ts_rank over 500 matches: ~1 ms (ts_rank_cd over 1,000: ~5 ms)
TEXT_SEARCH_SQL = f"""
SELECT id, ts_rank(sv, to_tsquery(%s::regconfig, %s), 1) AS rank, kb FROM (
    SELECT c.id, c.knowledge_base_id AS kb, c.search_vector AS sv FROM knowledge_chunk c
     WHERE c.knowledge_base_id = ANY(%s) AND c.search_vector @@ to_tsquery(%s::regconfig, %s)
       AND NOT (c.id = ANY(%s))
     LIMIT {MATCH_CAP}
) m
ORDER BY rank DESC, id
LIMIT %s
"""  # noqa: S608 - only constants are formatted in


def _quoted(lexeme: str) -> str:
    return "'" + lexeme.replace("'", "''") + "'"


def _text_queries(lexemes: list[str]) -> tuple[str, list[str]]:
    """(rank query, match queries from strict to loose) in to_tsquery syntax."""
    words = sorted(set(lexemes), key=lambda w: (-len(w), w))[:MAX_LEXEMES]  # longer ~ rarer
    quoted = [_quoted(w) for w in words]
    need = max(1, (len(quoted) + 1) // 2)
    matches = [" & ".join(quoted)]
    if need < len(quoted):
        matches.append(" | ".join("(" + " & ".join(group) + ")" for group in combinations(quoted, need)))
    return " | ".join(quoted), matches


@dataclass(frozen=True)
class Passage:
    text: str
    title: str
    url: str = ""
    file: str = ""
    page: int | None = None
    source_id: int | None = None
    rank: int = 0  # 1-based, after fusion
    ranks: dict[str, int] = field(default_factory=dict)  # rank in each method ("vector", "text")
    score: float = 0.0  # never shown to visitors
    chunk_id: int | None = None
    heading_path: str = ""
    similarity: float | None = None  # cosine similarity of the vector match (None: not a vector hit)
    relevant: bool = True  # passes knowledge.relevance's rule (never shown to visitors)
    document_id: int | None = None

    def citation(self, number: int) -> dict[str, Any]:
        """What a message stores and the widget shows for ``[number]``."""
        return {
            "n": number,
            "title": self.title,
            "url": self.url,
            "file": self.file,
            "page": self.page,
            "source_id": self.source_id,
        }


@RETRIEVAL_DURATION.time()
def retrieve(
    *,
    query: str,
    knowledge_base_ids: list[int] | None = None,
    limit: int = 5,
    min_score: float | None = None,
    methods: tuple[str, ...] = ("vector", "text"),
    relevant_only: bool = False,
) -> list[Passage]:
    """Passages answering ``query`` from the given knowledge bases (all when ``None``), best
    first, each with its relevance signal (``similarity``, ``relevant``). ``methods``
    narrows the search to one method (the dashboard compares them); ``relevant_only``
    leaves out the passages that are not relevant enough (before ``limit`` is applied).
    Preconditions: the tenant's schema is active."""
    query = (query or "").strip()[:2000]
    if not query:
        return []
    # One query: the knowledge bases, each with whether it holds a chunk at all.
    found = KnowledgeBase.objects.annotate(
        has_chunks=Exists(Chunk.objects.filter(knowledge_base=OuterRef("pk")))
    )
    if knowledge_base_ids is not None:
        found = found.filter(pk__in=knowledge_base_ids)
    kbs: list[KnowledgeBase] = list(found)
    if not any(getattr(kb, "has_chunks", False) for kb in kbs):
        return []  # nothing ingested yet: no query embedding, no searches
    ranked: dict[str, list[int]] = {}
    hits = _Hits()
    # The question is embedded on another thread while the full-text search runs here
    # (onnxruntime and HTTP both release the GIL): the slower of the two sets the pace.
    vectors = _query_vectors_start(query, kbs, ingestion.kb_embedder) if "vector" in methods else []
    if "text" in methods:
        ranked["text"] = _text_ranked(query, kbs, hits)
    if "vector" in methods:
        ranked["vector"] = _vector_ranked_unless_down(vectors, hits, alone="text" not in methods)
    fused: dict[int, float] = defaultdict(float)
    ranks: dict[int, dict[str, int]] = defaultdict(dict)
    for method, ids in ranked.items():
        for position, chunk_id in enumerate(ids, start=1):
            fused[chunk_id] += 1.0 / (RRF_K + position)
            ranks[chunk_id][method] = position
    best = sorted(fused, key=lambda cid: (-fused[cid], cid))
    if min_score is not None:
        best = [cid for cid in best if fused[cid] >= min_score]
    thresholds = {kb.pk: min_relevance(kb) for kb in kbs}
    relevant = {
        cid: is_relevant(
            hits.similarity.get(cid), thresholds[hits.kb_of[cid]], every_word=cid in hits.every_word
        )
        for cid in best
    }
    if relevant_only:
        best = [cid for cid in best if relevant[cid]]
    best = best[:limit]
    return _passages(best, fused, ranks, hits, relevant)


def _vector_ranked_unless_down(jobs: list[VectorJob], hits: _Hits, *, alone: bool) -> list[int]:
    """The vector ranking; none when the query could not be embedded and full-text search
    answers too (one warning per EMBEDDING_WARNING_SECONDS, not one per question)."""
    global _embedding_warned
    try:
        return _vector_ranked(jobs, hits)
    except EmbeddingError as error:
        if alone:
            raise
        now = time.monotonic()
        if now - _embedding_warned >= EMBEDDING_WARNING_SECONDS or _embedding_warned == 0.0:
            _embedding_warned = now
            logger.warning("retrieval answers from full-text search alone: %s", error)
        return []


@dataclass
class _Hits:
    """What the searches learnt of each chunk besides its rank: its knowledge base, the
    cosine similarity of its vector match, and whether it holds every word of a
    multi-word question."""

    kb_of: dict[int, int] = field(default_factory=dict)
    similarity: dict[int, float] = field(default_factory=dict)
    every_word: set[int] = field(default_factory=set)


_embedding_pool: tuple[int, ThreadPoolExecutor] | None = None
_embedding_pool_lock = threading.Lock()


def _embedding_threads() -> ThreadPoolExecutor:
    """This process's pool for query embeddings (a forked child makes its own: the parent's
    threads do not exist there)."""
    global _embedding_pool
    with _embedding_pool_lock:
        if _embedding_pool is None or _embedding_pool[0] != os.getpid():
            _embedding_pool = (
                os.getpid(),
                ThreadPoolExecutor(max_workers=8, thread_name_prefix="query-embedding"),
            )
        return _embedding_pool[1]


# One query embedding per model: its embedder, the knowledge bases using it, the vector to come.
VectorJob = tuple[Embedder, list[KnowledgeBase], Future[list[float]]]


def _query_vectors_start(
    query: str, kbs: list[KnowledgeBase], kb_embedder: Callable[[KnowledgeBase], Embedder]
) -> list[VectorJob]:
    """(embedder, knowledge bases, future vector) per embedding model: knowledge bases
    sharing a model share one query vector and one index scan."""
    by_model: dict[tuple[str, str, int, str], list[KnowledgeBase]] = defaultdict(list)
    for kb in kbs:
        by_model[
            (kb.embedding_provider, kb.embedding_model, kb.embedding_dimensions, kb.embedding_base_url)
        ].append(kb)
    jobs: list[VectorJob] = []
    for group in by_model.values():
        embedder = kb_embedder(group[0])
        jobs.append((embedder, group, _embedding_threads().submit(embedder.embed_query, query)))
    return jobs


def _vector_ranked(jobs: list[VectorJob], hits: _Hits) -> list[int]:
    scored: list[tuple[float, int]] = []
    for embedder, group, future in jobs:
        vector = future.result()  # an EmbeddingError raised there is raised here
        dim = int(embedder.dimensions)
        literal = "[" + ",".join(f"{x:.7g}" for x in vector) + "]"
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL hnsw.ef_search = {EF_SEARCH}")
            cursor.execute(
                # The size is a literal: the partial HNSW index for it must match at plan time.
                f"SELECT id, embedding::vector({dim}) <=> %s::vector({dim}) AS distance, knowledge_base_id "  # noqa: S608
                f"FROM knowledge_chunk WHERE embedding_dim = {dim} AND embedding_model_id = %s "
                f"AND knowledge_base_id = ANY(%s) "
                f"ORDER BY embedding::vector({dim}) <=> %s::vector({dim}) LIMIT {CANDIDATES}",
                [literal, embedder.model_id, [kb.pk for kb in group], literal],
            )
            for chunk_id, distance, kb_id in cursor.fetchall():
                scored.append((distance, chunk_id))
                hits.kb_of[chunk_id] = kb_id
                hits.similarity[chunk_id] = 1.0 - float(distance)
    return [chunk_id for _, chunk_id in sorted(scored)[:CANDIDATES]]


def _text_ranked(query: str, kbs: list[KnowledgeBase], hits: _Hits) -> list[int]:
    by_language: dict[str, list[int]] = defaultdict(list)
    for kb in kbs:
        by_language[kb.language].append(kb.pk)
    scored: list[tuple[float, int]] = []
    with connection.cursor() as cursor:
        for language, ids in by_language.items():
            cursor.execute("SELECT tsvector_to_array(to_tsvector(%s::regconfig, %s))", [language, query])
            lexemes = cursor.fetchone()[0] or []
            if not lexemes:
                continue  # only stop words
            rank_query, match_queries = _text_queries(lexemes)
            found: list[tuple[float, int]] = []
            for match_query in match_queries:  # every word first, then at least half of them
                cursor.execute(
                    TEXT_SEARCH_SQL,
                    [
                        language,
                        rank_query,
                        ids,
                        language,
                        match_query,
                        [cid for _, cid in found],
                        CANDIDATES - len(found),
                    ],
                )
                # Chunks with every word stay ahead of those with half (rank offset).
                strict = match_query is match_queries[0]
                offset = 10.0 if strict and len(match_queries) > 1 else 0.0
                rows = cursor.fetchall()
                found += [(rank + offset, chunk_id) for chunk_id, rank, _ in rows]
                hits.kb_of.update((chunk_id, kb_id) for chunk_id, _, kb_id in rows)
                if strict and len(set(lexemes)) > 1:  # every word of a multi-word question
                    hits.every_word.update(chunk_id for chunk_id, _, _ in rows)
                if len(found) >= CANDIDATES:
                    break
            scored += [(-rank, chunk_id) for rank, chunk_id in found]
    return [chunk_id for _, chunk_id in sorted(scored)[:CANDIDATES]]


def _passages(
    ids: list[int],
    fused: dict[int, float],
    ranks: dict[int, dict[str, int]],
    hits: _Hits,
    relevant: dict[int, bool],
) -> list[Passage]:
    # Only what a passage shows: a chunk's vector (decoded into an array per row) and its
    # search vector were about half the CPU of loading the rows (1.6 → 0.9 ms for three).
    chunks = Chunk.objects.select_related("document", "source").only(*PASSAGE_FIELDS).in_bulk(ids)
    passages = []
    for position, chunk_id in enumerate(ids, start=1):
        chunk = chunks.get(chunk_id)
        if chunk is None:
            continue
        url = chunk.document.url
        if url and chunk.anchor:
            url = f"{url.split('#')[0]}#{chunk.anchor}"
        passages.append(
            Passage(
                text=chunk.text,
                title=chunk.document.title or chunk.source.title,
                url=url,
                file=chunk.source.file_name if chunk.source.kind == "file" else "",
                page=chunk.page,
                source_id=chunk.source_id,
                rank=position,
                ranks=dict(ranks[chunk_id]),
                score=round(fused[chunk_id], 6),
                chunk_id=chunk_id,
                heading_path=chunk.heading_path,
                similarity=round(hits.similarity[chunk_id], 4) if chunk_id in hits.similarity else None,
                relevant=relevant[chunk_id],
                document_id=chunk.document_id,
            )
        )
    return passages
