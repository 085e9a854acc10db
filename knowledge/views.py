"""Dashboard pages of the knowledge app (tenant host): knowledge bases, their sources (add
by upload, web address, Q&A or text; status that updates itself), the documents and chunks
a source produced, a retrieval test page and the knowledge base's settings. Every query
runs in the tenant's schema, which the routing middleware activated; an id is only found
under the parent in the URL (a source under its knowledge base, a document under both).
Views parse the request, call a service (``knowledge.services``) or a selector
(``knowledge.selectors``) and render; they write nothing themselves."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from saas.errors import ProblemError
from tenants.dashboard import DashboardRequest, can_manage, dashboard_page
from tenants.views import shell_context

from . import selectors, services
from .forms import (
    EmbeddingForm,
    FileSourceForm,
    KnowledgeBaseForm,
    QaSourceForm,
    RelevanceForm,
    TextSourceForm,
    UrlSourceForm,
    add_problem,
)
from .models import Document, KnowledgeBase, Source
from .selectors import ACTIVE, SEARCH_LIMIT, WEB_KINDS, source_state, web_link

logger = logging.getLogger(__name__)

ADD_PANELS = ("file", "url", "qa", "text")
PER_PAGE = 100
RRF_EXPLAINED = (
    "Best matches first: each passage is found by its meaning and by its words, and the "
    "passages both searches rank high come first. Passages marked not relevant enough (below "
    "the knowledge base's minimum relevance, on the Settings tab) are not given to the bot."
)
RRF_FORMULA = (
    "Reciprocal rank fusion: every passage gets 1/(60 + its rank) from each search that "
    "found it; the passages are sorted by the sum."
)


def _kb(kb_id: int) -> KnowledgeBase:
    return get_object_or_404(KnowledgeBase, pk=kb_id)


def _source(kb: KnowledgeBase, source_id: int) -> Source:
    return get_object_or_404(Source, pk=source_id, knowledge_base=kb)


def _kb_tabs(kb: KnowledgeBase, current: str, request: DashboardRequest) -> list[tuple[str, str, bool]]:
    """The tabs of a knowledge base's pages (settings only for the roles that may change them)."""
    tabs = [
        (reverse("knowledge:base", kwargs={"kb_id": kb.pk}), "Sources", current == "sources"),
        (reverse("knowledge:search", kwargs={"kb_id": kb.pk}), "Test retrieval", current == "search"),
    ]
    if can_manage(request):
        tabs.append(
            (reverse("knowledge:settings", kwargs={"kb_id": kb.pk}), "Settings", current == "settings")
        )
    return tabs


# --- knowledge bases -----------------------------------------------------------------------


@dashboard_page("knowledge")
def knowledge_base_list(request: DashboardRequest) -> HttpResponse:
    form = KnowledgeBaseForm(request.POST or None, prefix="kb")
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            kb = services.knowledge_base_create(
                name=data["name"], description=data["description"], language=data["language"], request=request
            )
        except ProblemError as error:
            add_problem(form, error)
        else:
            logger.info("knowledge base created kb=%s by=%s", kb.pk, request.user.pk)
            messages.success(request, f"Knowledge base “{kb.name}” created. Add its first sources below.")
            return redirect("knowledge:base", kb_id=kb.pk)
    context = shell_context(
        request,
        bases=selectors.knowledge_base_list(),
        form=form,
        can_manage=can_manage(request),
        storage=selectors.knowledge_storage_use(tenant=request.tenant),
    )
    return render(request, "knowledge/list.html", context)


def _add_source(request: DashboardRequest, kb: KnowledgeBase, panel: str, forms: dict[str, Any]) -> int:
    """Run the add-source form ``panel``; returns how many sources were added (0 when the
    form or the service refused, with the reasons on the form)."""
    form = forms[panel]
    if not form.is_valid():
        return 0
    data = form.cleaned_data
    try:
        if panel == "file":
            return _add_files(request, kb, form)
        if panel == "url":
            services.source_add_url(
                kb=kb,
                url=data["url"],
                kind=data["kind"],
                depth=data["depth"],
                page_limit=data["page_limit"],
                schedule=data["schedule"] or "",
                request=request,
            )
        elif panel == "qa":
            services.source_set_qa(
                tenant=request.tenant, kb=kb, pairs=form.pairs, title=data["title"], request=request
            )
        elif panel == "text":
            services.source_add_text(
                tenant=request.tenant, kb=kb, title=data["title"], text=data["text"], request=request
            )
    except ProblemError as error:
        add_problem(form, error)
        return 0
    return 1


def _add_files(request: DashboardRequest, kb: KnowledgeBase, form: FileSourceForm) -> int:
    """Each file on its own: a file refused (by the form: empty; or by the service: its
    type, size, the quota) is named with its reason on the form, the others are added."""
    added, uploads = 0, form.cleaned_data["files"]
    for refused in form.refused_files():
        form.add_error("files", refused)
    for upload in uploads:
        try:
            services.source_add_file(tenant=request.tenant, kb=kb, upload=upload, request=request)
            added += 1
        except ProblemError as error:
            for message in _messages(error):
                form.add_error("files", f"{upload.name}: {message}")
    return added


def _messages(error: ProblemError) -> list[str]:
    return [e["message"] for errs in (error.errors or {}).values() for e in errs] or [error.detail]


def _add_forms(data: Any = None, files: Any = None, panel: str = "") -> dict[str, Any]:
    bound = {name: (data if name == panel else None) for name in ADD_PANELS}
    return {
        "file": FileSourceForm(bound["file"], files if panel == "file" else None, prefix="file"),
        "url": UrlSourceForm(bound["url"], prefix="url"),
        "qa": QaSourceForm(bound["qa"], prefix="qa"),
        "text": TextSourceForm(bound["text"], prefix="text"),
    }


@dashboard_page("knowledge")
def knowledge_base_detail(request: DashboardRequest, kb_id: int) -> HttpResponse:
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
    context = shell_context(
        request,
        **_live_context(request, kb),
        kb_tabs=_kb_tabs(kb, "sources", request),
        forms=forms,
        panel=panel or "file",
        qa_rows=forms["qa"].rows(),
    )
    return render(request, "knowledge/detail.html", context)


def _live_context(request: DashboardRequest, kb: KnowledgeBase) -> dict[str, Any]:
    """What the self-updating part of a knowledge base's page shows: the sources with
    their state and counts, the totals and the storage used."""
    rows = selectors.source_rows(kb=kb)
    active_ids = [row["source"].pk for row in rows if row["active"]]
    return {
        "kb": kb,
        "rows": rows,
        "any_active": bool(active_ids),
        "active_ids": active_ids,
        "totals": selectors.source_totals(rows),
        "can_manage": can_manage(request),
        "storage": selectors.knowledge_storage_use(tenant=request.tenant),
        "live_url": reverse("knowledge:live", kwargs={"kb_id": kb.pk}),
        "status_url": reverse("knowledge:status", kwargs={"kb_id": kb.pk}),
    }


def _watched(request: DashboardRequest) -> set[int]:
    """The source ids the page says were in progress when it last asked (``watch``)."""
    raw = request.GET.get("watch", "")[:2000]
    return {int(part) for part in raw.split(",") if part.isascii() and part.isdigit() and len(part) < 19}


@dashboard_page("knowledge")
def knowledge_base_live(request: DashboardRequest, kb_id: int) -> HttpResponse:
    """The sources and totals of a knowledge base's page, as HTML for htmx to swap in while
    something is processing (no shell: the partial alone). Announces, for screen readers,
    the watched sources that finished since the page last asked."""
    context = _live_context(request, _kb(kb_id))
    watched = _watched(request)
    context["announce"] = " ".join(
        f"“{row['source'].title}” is {row['state']['status_label'].lower()}."
        for row in context["rows"]
        if row["source"].pk in watched and not row["active"]
    )
    return render(request, "knowledge/_live.html", context)


@dashboard_page("knowledge")
def knowledge_base_status(request: DashboardRequest, kb_id: int) -> JsonResponse:
    """Each source's status and progress, for the page's polling."""
    return JsonResponse(selectors.source_states(kb=_kb(kb_id)))


@dashboard_page("knowledge", manage=True)
def knowledge_base_settings(request: DashboardRequest, kb_id: int) -> HttpResponse:
    kb = _kb(kb_id)
    locked = selectors.knowledge_base_has_chunks(kb=kb)
    form = KnowledgeBaseForm.for_base(kb, request.POST or None, prefix="kb", language_locked=locked)
    embedding = EmbeddingForm(request.POST or None, kb=kb, prefix="emb")
    relevance = RelevanceForm(request.POST or None, kb=kb, prefix="rel")
    valid = request.method == "POST" and all([form.is_valid(), embedding.is_valid(), relevance.is_valid()])
    if valid:
        data = form.cleaned_data
        try:
            changed = services.knowledge_base_settings_save(
                kb=kb,
                name=data["name"],
                description=data["description"],
                language=data["language"],
                embedding=embedding.embedding_settings(),
                min_relevance=relevance.cleaned_data["min_relevance"],
            )
        except ProblemError as error:
            add_problem(form, error, others=[embedding, relevance])
        else:
            if changed:
                messages.success(
                    request,
                    "Settings saved. Every chunk is being re-embedded with the new model in the background; "
                    "until it finishes, answers use keyword search for the chunks not done yet.",
                )
            else:
                messages.success(request, "Settings saved.")
            return redirect("knowledge:settings", kb_id=kb.pk)
    context = shell_context(
        request,
        kb=kb,
        form=form,
        embedding=embedding,
        relevance=relevance,
        has_key=bool(kb.embedding_api_key_encrypted),
        kb_tabs=_kb_tabs(kb, "settings", request),
        can_manage=True,
    )
    return render(request, "knowledge/settings.html", context)


# --- sources -------------------------------------------------------------------------------


@dashboard_page("knowledge")
def source_detail(request: DashboardRequest, kb_id: int, source_id: int) -> HttpResponse:
    """The documents a source produced (one per file or page)."""
    kb = _kb(kb_id)
    source = _source(kb, source_id)
    documents = selectors.document_list(kb=kb, source=source)
    page = Paginator(documents, PER_PAGE).get_page(request.GET.get("page"))
    rows = [{"document": d, "link": web_link(d.url)} for d in page.object_list]
    context = shell_context(
        request,
        kb=kb,
        source=source,
        state=source_state(source),
        active=source.status in ACTIVE,
        syncable=source.kind in WEB_KINDS,
        link=web_link(source.url),
        page=page,
        rows=rows,
        can_manage=can_manage(request),
    )
    return render(request, "knowledge/source.html", context)


@require_POST
@dashboard_page("knowledge", manage=True)
def source_retry(request: DashboardRequest, kb_id: int, source_id: int) -> HttpResponse:
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
def source_delete(request: DashboardRequest, kb_id: int, source_id: int) -> HttpResponse:
    kb = _kb(kb_id)
    source = _source(kb, source_id)
    if request.method == "POST":
        title = source.title
        services.source_delete(source=source, request=request)
        logger.info("knowledge source deleted kb=%s source=%s by=%s", kb.pk, source_id, request.user.pk)
        messages.success(request, f"“{title}” deleted with its documents and chunks.")
        return redirect("knowledge:base", kb_id=kb.pk)
    context = shell_context(request, kb=kb, source=source, counts=selectors.source_counts(source=source))
    return render(request, "knowledge/source_delete.html", context)


@dashboard_page("knowledge", manage=True)
def source_qa_edit(request: DashboardRequest, kb_id: int, source_id: int) -> HttpResponse:
    """Replace the pairs of a Q&A source (it is re-ingested; unchanged pairs embed nothing)."""
    kb = _kb(kb_id)
    source = get_object_or_404(Source, pk=source_id, knowledge_base=kb, kind=Source.Kind.QA)
    if request.method == "POST":
        form = QaSourceForm(request.POST, prefix="qa")
        if form.is_valid():
            try:
                title = form.cleaned_data["title"]
                services.source_set_qa(
                    tenant=request.tenant, kb=kb, pairs=form.pairs, source=source, title=title
                )
            except ProblemError as error:
                add_problem(form, error)
            else:
                messages.success(request, f"“{source.title}” saved. Processing starts in a moment.")
                return redirect("knowledge:base", kb_id=kb.pk)
    else:
        form = QaSourceForm(prefix="qa", initial={"title": source.title}, pairs=source.qa_pairs)
    context = shell_context(request, kb=kb, source=source, form=form, qa_rows=form.rows())
    return render(request, "knowledge/qa_edit.html", context)


@dashboard_page("knowledge")
def document_detail(request: DashboardRequest, kb_id: int, document_id: int) -> HttpResponse:
    """A document's chunks in order: what retrieval can find and the bot can quote."""
    kb = _kb(kb_id)
    document = get_object_or_404(
        Document.objects.select_related("source"),
        pk=document_id,
        knowledge_base=kb,
        source__knowledge_base=kb,
    )
    page = Paginator(selectors.chunk_list(document=document), PER_PAGE).get_page(request.GET.get("page"))
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


@dashboard_page("knowledge")
def knowledge_base_search(request: DashboardRequest, kb_id: int) -> HttpResponse:
    """What retrieval returns for a question, fused and per method: why the bot answered
    as it did."""
    kb = _kb(kb_id)
    query = (request.GET.get("q") or "").strip()[:2000]
    ingested = selectors.knowledge_base_has_chunks(kb=kb)
    results = selectors.knowledge_base_search(kb=kb, query=query) if query and ingested else None
    context = shell_context(
        request,
        kb=kb,
        query=query,
        ingested=ingested,
        results=results,
        rrf_explained=RRF_EXPLAINED,
        rrf_formula=RRF_FORMULA,
        limit=SEARCH_LIMIT,
        kb_tabs=_kb_tabs(kb, "search", request),
        can_manage=can_manage(request),
    )
    return render(request, "knowledge/search.html", context)
