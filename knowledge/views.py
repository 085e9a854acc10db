"""Dashboard pages of the knowledge app (tenant host): knowledge bases, their sources (add
by upload, web address, Q&A or text; status that updates itself), the documents and chunks
a source produced, a retrieval test page and the knowledge base's settings. Every query
runs in the tenant's schema, which the routing middleware activated; an id is only found
under the parent in the URL (a source under its knowledge base, a document under both)."""

from __future__ import annotations

import logging
import re

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.text import Truncator
from django.views.decorators.http import require_POST

from billing.quotas import quota_limit
from saas.errors import ProblemError
from tenants.dashboard import can_manage, dashboard_page
from tenants.views import shell_context

from . import services
from .forms import (
    EmbeddingForm,
    FileSourceForm,
    KnowledgeBaseForm,
    QaSourceForm,
    TextSourceForm,
    UrlSourceForm,
    add_problem,
)
from .models import Chunk, Document, KnowledgeBase, Source

logger = logging.getLogger(__name__)

ACTIVE = (Source.Status.QUEUED, Source.Status.PROCESSING)
WEB_KINDS = (Source.Kind.URL, Source.Kind.CRAWL, Source.Kind.SITEMAP)
ADD_PANELS = ("file", "url", "qa", "text")
SEARCH_LIMIT = 10
PER_PAGE = 100
RRF_EXPLAINED = (
    "Each method ranks the chunks on its own; reciprocal rank fusion gives every chunk "
    "1/(60 + its rank) from each list it is in and sorts by the sum, so chunks both methods "
    "rank high come first."
)
_WEB_URL = re.compile(r"^https?://[^\s]+$", re.IGNORECASE)


# --- helpers -----------------------------------------------------------------------------


def _count(model, field: str) -> Coalesce:
    """How many ``model`` rows point at the outer row through ``field`` (one subquery, so
    several counts do not multiply each other's joins)."""
    counted = (
        model.objects.filter(**{field: OuterRef("pk")})
        .order_by()
        .values(field)
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def web_link(url) -> str:
    """``url`` if it is an http(s) address (safe to put in an href), else ""."""
    url = str(url or "").strip()
    return url if _WEB_URL.match(url) else ""


def _kb(kb_id: int) -> KnowledgeBase:
    return get_object_or_404(KnowledgeBase, pk=kb_id)


def _source(kb: KnowledgeBase, source_id: int) -> Source:
    return get_object_or_404(Source, pk=source_id, knowledge_base=kb)


def _report_text(report) -> str:
    if not isinstance(report, dict) or not report:
        return ""
    parts = [f"{report.get(key, 0)} {key}" for key in ("added", "updated", "removed", "unchanged")]
    failed = report.get("failed") or []
    if failed:
        parts.append(f"{len(failed)} failed")
    return ", ".join(parts)


def _when(value) -> str:
    return date_format(timezone.localtime(value), "M j, H:i") if value else ""


def source_state(source: Source) -> dict:
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


def _storage(request) -> dict:
    used = services.knowledge_storage_bytes()
    limit_mb = quota_limit(request.tenant, "storage_mb")  # the plan's, with staff grants
    limit = limit_mb * 1024 * 1024 if limit_mb is not None else None
    return {
        "used": used,
        "limit": limit,
        "percent": min(100, round(used * 100 / limit)) if limit else None,
        "full": limit is not None and used >= limit,
    }


# --- knowledge bases -----------------------------------------------------------------------


@dashboard_page("knowledge")
def knowledge_base_list(request):
    form = KnowledgeBaseForm(request.POST or None, prefix="kb")
    if request.method == "POST" and form.is_valid():
        kb = form.save()
        logger.info("knowledge base created kb=%s by=%s", kb.pk, request.user.pk)
        messages.success(request, f"Knowledge base “{kb.name}” created. Add its first sources below.")
        return redirect("knowledge:base", kb_id=kb.pk)
    bases = KnowledgeBase.objects.annotate(
        source_count=_count(Source, "knowledge_base"),
        document_count=_count(Document, "knowledge_base"),
        chunk_count=_count(Chunk, "knowledge_base"),
    ).order_by("name", "id")
    context = shell_context(
        request,
        bases=bases,
        form=form,
        can_manage=can_manage(request),
        storage=_storage(request),
    )
    return render(request, "knowledge/list.html", context)


def _add_source(request, kb: KnowledgeBase, panel: str, forms: dict) -> int:
    """Run the add-source form ``panel``; returns how many sources were added (0 when the
    form or the service refused, with the reasons on the form)."""
    form = forms[panel]
    if not form.is_valid():
        return 0
    data = form.cleaned_data
    try:
        if panel == "file":
            added = 0
            for upload in data["files"]:
                try:
                    services.source_add_file(tenant=request.tenant, kb=kb, upload=upload)
                    added += 1
                except ProblemError as error:
                    for message in _messages(error):
                        form.add_error("files", f"{upload.name}: {message}")
            return added
        if panel == "url":
            services.source_add_url(
                kb=kb,
                url=data["url"],
                kind=data["kind"],
                depth=data["depth"],
                page_limit=data["page_limit"],
                schedule=data["schedule"] or "",
            )
        elif panel == "qa":
            services.source_set_qa(tenant=request.tenant, kb=kb, pairs=form.pairs, title=data["title"])
        elif panel == "text":
            services.source_add_text(tenant=request.tenant, kb=kb, title=data["title"], text=data["text"])
    except ProblemError as error:
        add_problem(form, error)
        return 0
    return 1


def _messages(error: ProblemError) -> list[str]:
    return [e["message"] for errs in (error.errors or {}).values() for e in errs] or [error.detail]


def _add_forms(data=None, files=None, panel: str = "") -> dict:
    bound = {name: (data if name == panel else None) for name in ADD_PANELS}
    return {
        "file": FileSourceForm(bound["file"], files if panel == "file" else None, prefix="file"),
        "url": UrlSourceForm(bound["url"], prefix="url"),
        "qa": QaSourceForm(bound["qa"], prefix="qa"),
        "text": TextSourceForm(bound["text"], prefix="text"),
    }


@dashboard_page("knowledge")
def knowledge_base_detail(request, kb_id: int):
    """The knowledge base's sources with their status, and the add-source panel."""
    kb = _kb(kb_id)
    panel = request.POST.get("add", "") if request.method == "POST" else request.GET.get("add", "")
    panel = panel if panel in ADD_PANELS else ""
    if request.method == "POST":
        if not panel:
            raise Http404
        forms = _add_forms(request.POST, request.FILES, panel)
        added = _add_source(request, kb, panel, forms)
        if added and not forms[panel].errors:
            noun = "source" if added == 1 else "sources"
            messages.success(request, f"{added} {noun} added. Processing starts in a moment.")
            return redirect("knowledge:base", kb_id=kb.pk)
        if added:  # some files of several were refused: say so, keep the reasons shown
            messages.success(request, f"{added} of the files added; the others were refused (see below).")
    else:
        forms = _add_forms()
    sources = list(
        Source.objects.filter(knowledge_base=kb)
        .annotate(document_count=_count(Document, "source"), chunk_count=_count(Chunk, "source"))
        .order_by("-created_at", "-id")
    )
    rows = [
        {
            "source": source,
            "link": web_link(source.url),
            "state": source_state(source),
            "active": source.status in ACTIVE,
            "syncable": source.kind in WEB_KINDS,
        }
        for source in sources
    ]
    context = shell_context(
        request,
        kb=kb,
        rows=rows,
        any_active=any(row["active"] for row in rows),
        forms=forms,
        panel=panel or "file",
        qa_rows=forms["qa"].rows(),
        can_manage=can_manage(request),
        storage=_storage(request),
        status_url=reverse("knowledge:status", kwargs={"kb_id": kb.pk}),
    )
    return render(request, "knowledge/detail.html", context)


@dashboard_page("knowledge")
def knowledge_base_status(request, kb_id: int):
    """Each source's status and progress, for the page's polling."""
    kb = _kb(kb_id)
    sources = [
        source_state(s) for s in Source.objects.filter(knowledge_base=kb).order_by("-created_at", "-id")
    ]
    return JsonResponse(
        {
            "sources": sources,
            "active": any(s["status"] in ACTIVE for s in sources),
            "reembedding": kb.reembedding,
        }
    )


@dashboard_page("knowledge", manage=True)
def knowledge_base_settings(request, kb_id: int):
    kb = _kb(kb_id)
    has_chunks = Chunk.objects.filter(knowledge_base=kb).exists()
    form = KnowledgeBaseForm(request.POST or None, instance=kb, prefix="kb", language_locked=has_chunks)
    embedding = EmbeddingForm(request.POST or None, kb=kb, prefix="emb")
    valid = request.method == "POST" and all([form.is_valid(), embedding.is_valid()])  # both show errors
    if valid:
        changed = embedding.changed()
        with transaction.atomic():
            kb = form.save(commit=False)
            if changed:
                data = embedding.cleaned_data
                if not data.get("api_key") and embedding.endpoint_changed():
                    kb.embedding_api_key_encrypted = ""  # never sent to another endpoint
                services.knowledge_base_set_embedding(
                    kb=kb,
                    provider=data["provider"],
                    model=(data["model"] or "").strip(),
                    dimensions=data["dimensions"],
                    base_url=data["base_url"] or "",
                    api_key=data.get("api_key") or "",
                )
            else:
                kb.save()
        logger.info("knowledge base settings saved kb=%s embedding_changed=%s", kb.pk, changed)
        if changed:
            messages.success(
                request,
                "Settings saved. Every chunk is being re-embedded with the new model in the background; "
                "until it finishes, answers use keyword search for the chunks not done yet.",
            )
        else:
            messages.success(request, "Settings saved.")
        return redirect("knowledge:settings", kb_id=kb.pk)
    kb.refresh_from_db()  # the page shows what is stored, not the rejected input
    context = shell_context(
        request,
        kb=kb,
        form=form,
        embedding=embedding,
        has_key=bool(kb.embedding_api_key_encrypted),
    )
    return render(request, "knowledge/settings.html", context)


# --- sources -------------------------------------------------------------------------------


@dashboard_page("knowledge")
def source_detail(request, kb_id: int, source_id: int):
    """The documents a source produced (one per file or page)."""
    kb = _kb(kb_id)
    source = _source(kb, source_id)
    documents = Document.objects.filter(source=source, knowledge_base=kb).order_by("title", "id")
    page = Paginator(documents, PER_PAGE).get_page(request.GET.get("page"))
    rows = [{"document": d, "link": web_link(d.url)} for d in page.object_list]
    context = shell_context(
        request,
        kb=kb,
        source=source,
        state=source_state(source),
        link=web_link(source.url),
        page=page,
        rows=rows,
        can_manage=can_manage(request),
    )
    return render(request, "knowledge/source.html", context)


@require_POST
@dashboard_page("knowledge", manage=True)
def source_retry(request, kb_id: int, source_id: int):
    """Process a failed source again, or re-sync a web source now."""
    kb = _kb(kb_id)
    source = _source(kb, source_id)
    if source.status in ACTIVE:
        messages.info(request, f"“{source.title}” is already being processed.")
    else:
        services.source_retry(source=source)
        verb = "Retrying" if source.status == Source.Status.FAILED else "Syncing"
        messages.success(request, f"{verb} “{source.title}”.")
    return redirect("knowledge:base", kb_id=kb.pk)


@dashboard_page("knowledge", manage=True)
def source_delete(request, kb_id: int, source_id: int):
    kb = _kb(kb_id)
    source = _source(kb, source_id)
    if request.method == "POST":
        title = source.title
        services.source_delete(source=source)
        logger.info("knowledge source deleted kb=%s source=%s by=%s", kb.pk, source_id, request.user.pk)
        messages.success(request, f"“{title}” deleted with its documents and chunks.")
        return redirect("knowledge:base", kb_id=kb.pk)
    counts = {
        "documents": Document.objects.filter(source=source).count(),
        "chunks": Chunk.objects.filter(source=source).count(),
    }
    context = shell_context(request, kb=kb, source=source, counts=counts)
    return render(request, "knowledge/source_delete.html", context)


@dashboard_page("knowledge", manage=True)
def source_qa_edit(request, kb_id: int, source_id: int):
    """Replace the pairs of a Q&A source (it is re-ingested; unchanged pairs embed nothing)."""
    kb = _kb(kb_id)
    source = get_object_or_404(Source, pk=source_id, knowledge_base=kb, kind=Source.Kind.QA)
    if request.method == "POST":
        form = QaSourceForm(request.POST, prefix="qa")
        if form.is_valid():
            try:
                with transaction.atomic():
                    source.title = form.cleaned_data["title"]
                    services.source_set_qa(tenant=request.tenant, kb=kb, pairs=form.pairs, source=source)
            except ProblemError as error:
                source.refresh_from_db()
                add_problem(form, error)
            else:
                messages.success(request, f"“{source.title}” saved. Processing starts in a moment.")
                return redirect("knowledge:base", kb_id=kb.pk)
    else:
        form = QaSourceForm(prefix="qa", initial={"title": source.title}, pairs=source.qa_pairs)
    context = shell_context(request, kb=kb, source=source, form=form, qa_rows=form.rows())
    return render(request, "knowledge/qa_edit.html", context)


@dashboard_page("knowledge")
def document_detail(request, kb_id: int, document_id: int):
    """A document's chunks in order: what retrieval can find and the bot can quote."""
    kb = _kb(kb_id)
    document = get_object_or_404(
        Document.objects.select_related("source"),
        pk=document_id,
        knowledge_base=kb,
        source__knowledge_base=kb,
    )
    chunks = Chunk.objects.filter(document=document).order_by("position", "id")
    page = Paginator(chunks, PER_PAGE).get_page(request.GET.get("page"))
    context = shell_context(
        request,
        kb=kb,
        source=document.source,
        document=document,
        link=web_link(document.url),
        page=page,
    )
    return render(request, "knowledge/document.html", context)


# --- retrieval test --------------------------------------------------------------------------


def _passage_rows(passages, titles: dict[int, str]) -> list[dict]:
    return [
        {
            "rank": p.rank,
            "ranks": sorted(p.ranks.items()),
            "title": p.title or "Untitled",
            "source_id": p.source_id,
            "source_title": titles.get(p.source_id, ""),
            "link": web_link(p.url),
            "url": p.url,
            "file": p.file,
            "page": p.page,
            "heading_path": p.heading_path,
            "excerpt": Truncator(p.text).chars(400),
            "score": p.score,
        }
        for p in passages
    ]


def _run_searches(kb: KnowledgeBase, query: str) -> dict:
    """The fused list and each method alone, as retrieval returns them for ``query``. When
    the embedding model cannot be reached, keyword search still answers and the page
    says why vector search is missing."""
    from .embeddings.base import EmbeddingError
    from .retrieval import retrieve

    results, vector_error = {}, ""
    for name, methods in (("fused", ("vector", "text")), ("vector", ("vector",)), ("text", ("text",))):
        try:
            results[name] = retrieve(
                query=query, knowledge_base_ids=[kb.pk], limit=SEARCH_LIMIT, methods=methods
            )
        except EmbeddingError as error:
            vector_error = str(error) or "The embedding model did not answer."
            fallback = ("text",) if name == "fused" else ()
            results[name] = (
                retrieve(query=query, knowledge_base_ids=[kb.pk], limit=SEARCH_LIMIT, methods=fallback)
                if fallback
                else []
            )
    ids = {p.source_id for passages in results.values() for p in passages if p.source_id}
    titles = dict(Source.objects.filter(knowledge_base=kb, pk__in=ids).values_list("pk", "title"))
    return {
        **{name: _passage_rows(passages, titles) for name, passages in results.items()},
        "vector_error": vector_error,
    }


@dashboard_page("knowledge")
def knowledge_base_search(request, kb_id: int):
    """What retrieval returns for a question, fused and per method: why the bot answered
    as it did."""
    kb = _kb(kb_id)
    query = (request.GET.get("q") or "").strip()[:2000]
    ingested = Chunk.objects.filter(knowledge_base=kb).exists()
    results = _run_searches(kb, query) if query and ingested else None
    context = shell_context(
        request,
        kb=kb,
        query=query,
        ingested=ingested,
        results=results,
        rrf_explained=RRF_EXPLAINED,
        limit=SEARCH_LIMIT,
    )
    return render(request, "knowledge/search.html", context)
