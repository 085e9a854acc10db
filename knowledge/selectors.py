"""Reads of the knowledge app: knowledge bases with their counts, the storage they take
against the plan, each source's state as the dashboard shows and polls it, and what
retrieval returns for the search page. Preconditions: the tenant's schema is active."""

from __future__ import annotations

import re
from typing import Any

from django.db.models import Count, IntegerField, Model, OuterRef, Q, QuerySet, Subquery, Sum, TextField
from django.db.models.functions import Cast, Coalesce, Length
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.text import Truncator

from billing.quotas import quota_limit
from tenants.models import Tenant

from . import retrieval
from .embeddings.base import EmbeddingError
from .models import Chunk, Document, KnowledgeBase, Source

ACTIVE = (Source.Status.QUEUED, Source.Status.PROCESSING)
WEB_KINDS = (Source.Kind.URL, Source.Kind.CRAWL, Source.Kind.SITEMAP)
SEARCH_LIMIT = 10
_WEB_URL = re.compile(r"^https?://[^\s]+$", re.IGNORECASE)


def web_link(url: object) -> str:
    """``url`` if it is an http(s) address (safe to put in an href), else ""."""
    text = str(url or "").strip()
    return text if _WEB_URL.match(text) else ""


# --- storage -------------------------------------------------------------------------------


def knowledge_storage_bytes() -> int:
    """What the workspace's knowledge takes: uploaded files plus text and Q&A sources."""
    totals = Source.objects.aggregate(
        files=Sum("file_size"),
        texts=Sum(Length("text")),
        qa=Sum(Length(Cast("qa_pairs", TextField())), filter=Q(kind=Source.Kind.QA)),
    )
    return sum(value or 0 for value in totals.values())


def knowledge_storage_mb(adding: int = 0) -> int:
    """The storage in MB as the plan counts it, with ``adding`` bytes more: a started MB
    counts (exact to the byte against a limit in whole MB)."""
    return -(-(knowledge_storage_bytes() + adding) // (1024 * 1024))


def knowledge_storage_use(*, tenant: Tenant) -> dict[str, Any]:
    """Bytes used against the plan's limit (with staff grants), for the usage bar."""
    used = knowledge_storage_bytes()
    limit_mb = quota_limit(tenant, "storage_mb")
    limit = limit_mb * 1024 * 1024 if limit_mb is not None else None
    return {
        "used": used,
        "limit": limit,
        "percent": min(100, round(used * 100 / limit)) if limit else None,
        "full": limit is not None and used >= limit,
    }


# --- knowledge bases -------------------------------------------------------------------------


def _count(model: type[Model], field: str, **where: Any) -> Coalesce:
    """How many ``model`` rows (matching ``where``) point at the outer row through ``field``
    (one subquery, so several counts do not multiply each other's joins)."""
    counted = (
        model._default_manager.filter(**{field: OuterRef("pk")}, **where)
        .order_by()
        .values(field)
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def knowledge_base_list() -> QuerySet[KnowledgeBase]:
    """Every knowledge base with its source, document and chunk counts, and how many of
    its sources failed or are in progress (one query)."""
    return KnowledgeBase.objects.annotate(
        source_count=_count(Source, "knowledge_base"),
        failed_count=_count(Source, "knowledge_base", status=Source.Status.FAILED),
        active_count=_count(Source, "knowledge_base", status__in=ACTIVE),
        document_count=_count(Document, "knowledge_base"),
        chunk_count=_count(Chunk, "knowledge_base"),
    ).order_by("name", "id")


def knowledge_base_has_chunks(*, kb: KnowledgeBase) -> bool:
    """Whether anything is indexed: the keyword index then fixes the language."""
    return Chunk.objects.filter(knowledge_base=kb).exists()


# --- sources ---------------------------------------------------------------------------------


def _report_text(report: object) -> str:
    if not isinstance(report, dict) or not report:
        return ""
    parts = [f"{report.get(key, 0)} {key}" for key in ("added", "updated", "removed", "unchanged")]
    failed = report.get("failed") or []
    if failed:
        parts.append(f"{len(failed)} failed")
    return ", ".join(parts)


def _when(value: Any) -> str:
    return date_format(timezone.localtime(value), "M j, H:i") if value else ""


def source_state(source: Source) -> dict[str, Any]:
    """What the status endpoint returns per source (and the page starts from)."""
    return {
        "id": source.pk,
        "status": source.status,
        "status_label": source.get_status_display(),
        "progress_done": source.progress_done,
        "progress_total": source.progress_total,
        "error": source.error,
        "last_synced_at": source.last_synced_at.isoformat() if source.last_synced_at else None,
        "last_synced": _when(source.last_synced_at),
        "report": _report_text(source.last_report),
    }


def source_rows(*, kb: KnowledgeBase) -> list[dict[str, Any]]:
    """The knowledge base's sources, newest first, with their counts and state (one query)."""
    sources = (
        Source.objects.filter(knowledge_base=kb)
        .annotate(document_count=_count(Document, "source"), chunk_count=_count(Chunk, "source"))
        .order_by("-created_at", "-id")
    )
    return [
        {
            "source": source,
            "link": web_link(source.url),
            "state": source_state(source),
            "active": source.status in ACTIVE,
            "syncable": source.kind in WEB_KINDS,
        }
        for source in sources
    ]


def sources_with_counts() -> QuerySet[Source]:
    """Every source with its document and chunk counts (one query)."""
    return Source.objects.annotate(
        document_count=_count(Document, "source"), chunk_count=_count(Chunk, "source")
    )


def source_totals(rows: list[dict[str, Any]]) -> dict[str, int]:
    """A knowledge base's totals from its source rows (:func:`source_rows`): every document
    and chunk belongs to one of its sources, so no query is needed."""
    return {
        "sources": len(rows),
        "active": sum(1 for row in rows if row["active"]),
        "documents": sum(row["source"].document_count for row in rows),
        "chunks": sum(row["source"].chunk_count for row in rows),
    }


def source_states(*, kb: KnowledgeBase) -> dict[str, Any]:
    """Each source's status and progress, and whether the page should keep polling."""
    states = [
        source_state(s) for s in Source.objects.filter(knowledge_base=kb).order_by("-created_at", "-id")
    ]
    return {
        "sources": states,
        "active": any(s["status"] in ACTIVE for s in states),
        "reembedding": kb.reembedding,
    }


def source_counts(*, source: Source) -> dict[str, int]:
    """What deleting ``source`` removes with it."""
    return {
        "documents": Document.objects.filter(source=source).count(),
        "chunks": Chunk.objects.filter(source=source).count(),
    }


def document_list(*, kb: KnowledgeBase, source: Source) -> QuerySet[Document]:
    """The documents ``source`` produced (one per file or page), by title."""
    return Document.objects.filter(source=source, knowledge_base=kb).order_by("title", "id")


def chunk_list(*, document: Document) -> QuerySet[Chunk]:
    """A document's chunks in order: what retrieval can find and the bot can quote."""
    return Chunk.objects.filter(document=document).order_by("position", "id")


# --- retrieval test --------------------------------------------------------------------------


def _passage_rows(passages: list[retrieval.Passage], titles: dict[int, str]) -> list[dict[str, Any]]:
    return [
        {
            "rank": p.rank,
            "ranks": sorted(p.ranks.items()),
            "title": p.title or "Untitled",
            "source_id": p.source_id,
            "source_title": titles.get(p.source_id or 0, ""),
            "link": web_link(p.url),
            "url": p.url,
            "file": p.file,
            "page": p.page,
            "heading_path": p.heading_path,
            "excerpt": Truncator(p.text).chars(400),
            "score": p.score,
            "similarity": p.similarity,
            "relevant": p.relevant,
        }
        for p in passages
    ]


def knowledge_base_search(*, kb: KnowledgeBase, query: str) -> dict[str, Any]:
    """The fused list and each method alone, as retrieval returns them for ``query``. When
    the embedding model cannot be reached, keyword search still answers and the result
    says why vector search is missing."""
    results: dict[str, list[retrieval.Passage]] = {}
    vector_error = ""
    for name, methods in (("fused", ("vector", "text")), ("vector", ("vector",)), ("text", ("text",))):
        try:
            results[name] = retrieval.retrieve(
                query=query, knowledge_base_ids=[kb.pk], limit=SEARCH_LIMIT, methods=methods
            )
        except EmbeddingError as error:
            vector_error = str(error) or "The embedding model did not answer."
            fallback = ("text",) if name == "fused" else ()
            results[name] = (
                retrieval.retrieve(
                    query=query, knowledge_base_ids=[kb.pk], limit=SEARCH_LIMIT, methods=fallback
                )
                if fallback
                else []
            )
    ids = {p.source_id for passages in results.values() for p in passages if p.source_id}
    titles = dict(Source.objects.filter(knowledge_base=kb, pk__in=ids).values_list("pk", "title"))
    return {
        **{name: _passage_rows(passages, titles) for name, passages in results.items()},
        "vector_error": vector_error,
    }
