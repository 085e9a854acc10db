"""Tenant REST API, v1 (tenant host, ``/api/v1/``): the sources of a knowledge base and
their documents.

* ``GET/POST knowledge-bases/<id>/sources``: list (filters ``status``, ``kind``), add a web
  page, a site crawl, a sitemap, a text or Q&A pairs (JSON);
  ``POST knowledge-bases/<id>/sources/upload``: a file (multipart/form-data, field ``file``),
  with the dashboard's limits (20 MB, the type read from the content, the plan's storage);
* ``GET/PATCH/DELETE knowledge-bases/<id>/sources/<id>``: status and progress as the dashboard's
  processing partial shows them, a Q&A source's pairs replaced;
  ``POST .../sources/<id>/sync``: process again now;
* ``GET knowledge-bases/<id>/documents`` (``?source=``), ``GET .../sources/<id>/documents``,
  ``GET/DELETE knowledge-bases/<id>/documents/<id>``.

Each write is one ``knowledge.services`` call; ingestion is queued by the services after the
commit, as from the dashboard. Roles: ``knowledge.apis_common``.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from saas.api_pages import PageInput, ordering_field, page_of, page_output, page_parameters, valid_query
from saas.errors import Conflict, NotFound, ValidationFailed

from . import selectors, services
from .apis_common import TAGS, KnowledgeApiBase, problems, valid_body
from .models import Document, Source

WEB_KINDS = (Source.Kind.URL, Source.Kind.CRAWL, Source.Kind.SITEMAP)
JSON_KINDS = (*WEB_KINDS, Source.Kind.TEXT, Source.Kind.QA)
UPLOAD_ENVELOPE_BYTES = 64 * 1024  # the multipart headers and boundaries around the file
WHEN = "2026-12-04T12:00:00.123456Z"

# --- output --------------------------------------------------------------------------------


class KnowledgeProgressOutput(serializers.Serializer):
    done = serializers.IntegerField(help_text="Pages or parts read so far.")
    total = serializers.IntegerField(help_text="Pages or parts to read; 0 while not known.")


class KnowledgeReportOutput(serializers.Serializer):
    added = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    removed = serializers.IntegerField()
    failed = serializers.ListField(child=serializers.DictField(), help_text="Pages that could not be read.")
    embedded_chunks = serializers.IntegerField()
    reused_chunks = serializers.IntegerField()


class KnowledgeSourceOutput(serializers.Serializer):
    id = serializers.IntegerField()
    knowledge_base_id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=Source.Kind.choices)
    title = serializers.CharField()
    url = serializers.CharField(help_text="Web sources: the page, site or sitemap; else empty.")
    depth = serializers.IntegerField(help_text="Crawls: link depth.")
    page_limit = serializers.IntegerField(help_text="Crawls and sitemaps: most pages read.")
    file_name = serializers.CharField(help_text="Files: the uploaded name; else empty.")
    file_size = serializers.IntegerField()
    sync_schedule = serializers.ChoiceField(choices=Source.Schedule.choices, help_text="Empty: never.")
    status = serializers.ChoiceField(choices=Source.Status.choices)
    active = serializers.BooleanField(help_text="Queued or processing: ask again to follow it.")
    progress = KnowledgeProgressOutput()
    error = serializers.CharField(help_text="Why it failed, or which pages could not be read.")
    report = KnowledgeReportOutput(
        allow_null=True, help_text="What the last run changed; null before one finished."
    )
    last_synced_at = serializers.DateTimeField(allow_null=True)
    next_sync_at = serializers.DateTimeField(allow_null=True)
    document_count = serializers.IntegerField()
    chunk_count = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


KnowledgeSourcePageOutput = page_output("KnowledgeSourcePageOutput", KnowledgeSourceOutput)


def _report(raw: object) -> dict[str, Any] | None:
    if not isinstance(raw, dict) or not raw:
        return None
    counts = ("added", "updated", "unchanged", "removed", "embedded_chunks", "reused_chunks")
    return {**{name: int(raw.get(name) or 0) for name in counts}, "failed": list(raw.get("failed") or [])}


def _source(source: Source) -> dict[str, Any]:
    return {
        "id": source.pk,
        "knowledge_base_id": source.knowledge_base_id,
        "kind": source.kind,
        "title": source.title,
        "url": source.url,
        "depth": source.crawl_depth,
        "page_limit": source.page_limit,
        "file_name": source.file_name,
        "file_size": source.file_size,
        "sync_schedule": source.sync_schedule,
        "status": source.status,
        "active": source.status in selectors.ACTIVE,
        "progress": {"done": source.progress_done, "total": source.progress_total},
        "error": source.error,
        "report": _report(source.last_report),
        "last_synced_at": source.last_synced_at,
        "next_sync_at": source.next_sync_at,
        "document_count": getattr(source, "document_count", 0),
        "chunk_count": getattr(source, "chunk_count", 0),
        "created_at": source.created_at,
        "updated_at": source.updated_at,
    }


SOURCE_EXAMPLE = {
    "id": 7,
    "knowledge_base_id": 3,
    "kind": "crawl",
    "title": "https://help.example.com/",
    "url": "https://help.example.com/",
    "depth": 2,
    "page_limit": 50,
    "file_name": "",
    "file_size": 0,
    "sync_schedule": "weekly",
    "status": "processing",
    "active": True,
    "progress": {"done": 12, "total": 40},
    "error": "",
    "report": None,
    "last_synced_at": None,
    "next_sync_at": None,
    "document_count": 12,
    "chunk_count": 96,
    "created_at": WHEN,
    "updated_at": WHEN,
}


class KnowledgeDocumentOutput(serializers.Serializer):
    id = serializers.IntegerField()
    knowledge_base_id = serializers.IntegerField()
    source_id = serializers.IntegerField()
    title = serializers.CharField()
    url = serializers.CharField(help_text="The page's address; empty for a file, text or Q&A.")
    chunk_count = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


KnowledgeDocumentPageOutput = page_output("KnowledgeDocumentPageOutput", KnowledgeDocumentOutput)
DOCUMENT_EXAMPLE = {
    "id": 40,
    "knowledge_base_id": 3,
    "source_id": 7,
    "title": "Returns policy",
    "url": "https://help.example.com/returns",
    "chunk_count": 4,
    "created_at": WHEN,
    "updated_at": WHEN,
}

# --- input ---------------------------------------------------------------------------------


class KnowledgeSourceListInput(PageInput):
    status = serializers.ChoiceField(choices=Source.Status.choices, required=False)
    kind = serializers.ChoiceField(choices=Source.Kind.choices, required=False)
    ordering = ordering_field(("created_at", "updated_at", "title"), default="-created_at")


class KnowledgeQaPairInput(serializers.Serializer):
    question = serializers.CharField(max_length=1000)
    answer = serializers.CharField(max_length=5000)


class KnowledgeSourceInput(serializers.Serializer):
    """One source; which fields count depends on ``kind``."""

    kind = serializers.ChoiceField(
        choices=JSON_KINDS,
        help_text="`url` (one page), `crawl` (the site, following links), `sitemap`, `text` or `qa`. "
        "Files: `POST .../sources/upload`.",
    )
    url = serializers.URLField(max_length=2000, required=False, help_text="url, crawl, sitemap: the address.")
    depth = serializers.IntegerField(
        min_value=0, max_value=5, default=2, help_text="crawl: link depth (0: the start page only)."
    )
    page_limit = serializers.IntegerField(
        min_value=1, max_value=5000, default=50, help_text="crawl, sitemap: the most pages read."
    )
    sync_schedule = serializers.ChoiceField(
        choices=Source.Schedule.choices, default="", allow_blank=True, help_text="Web sources: read again."
    )
    title = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    text = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="text: the content (longer: upload a file)."
    )
    qa_pairs = serializers.ListField(
        child=KnowledgeQaPairInput(),
        required=False,
        default=list,
        max_length=services.MAX_QA_PAIRS,
        help_text="qa.",
    )

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        kind = data["kind"]
        if kind in WEB_KINDS and not data.get("url"):
            raise serializers.ValidationError({"url": ["Give the address to read."]}, code="required")
        if kind == Source.Kind.TEXT and not data["text"].strip():
            raise serializers.ValidationError({"text": ["Write some text."]}, code="required")
        if kind == Source.Kind.QA and not data["qa_pairs"]:
            raise serializers.ValidationError(
                {"qa_pairs": ["Add at least one question with its answer."]}, code="required"
            )
        return data


class KnowledgeQaUpdateInput(serializers.Serializer):
    """A Q&A source's pairs replaced (and its title, when given), as the dashboard's editor."""

    title = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    qa_pairs = serializers.ListField(
        child=KnowledgeQaPairInput(), allow_empty=False, max_length=services.MAX_QA_PAIRS
    )


class KnowledgeUploadInput(serializers.Serializer):
    file = serializers.FileField(
        help_text="PDF, Word (.docx), text, Markdown, HTML, CSV or JSON, at most "
        f"{services.MAX_UPLOAD_MB} MB; the type is read from the content."
    )


class KnowledgeDocumentListInput(PageInput):
    # The serializer's metaclass takes declared fields off the class: Field.source stays.
    source = serializers.IntegerField(  # type: ignore[assignment]
        min_value=1, required=False, help_text="A source's id."
    )
    ordering = ordering_field(("title", "created_at", "updated_at"), default="title")


class KnowledgeSourceDocumentListInput(PageInput):
    ordering = ordering_field(("title", "created_at", "updated_at"), default="title")


# --- sources -------------------------------------------------------------------------------


class SourceApiBase(KnowledgeApiBase):
    queryset = selectors.sources_with_counts()
    lookup_url_kwarg = "source_id"

    def narrow_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(knowledge_base_id=self.kwargs.get("kb_id"))

    def created(self, source: Source) -> Response:
        return Response(_source(self.get_queryset().get(pk=source.pk)), status=status.HTTP_201_CREATED)


class SourceListApi(SourceApiBase):
    @extend_schema(
        operation_id="knowledge_sources_list",
        tags=TAGS,
        description="The knowledge base's sources with their status and progress, newest first unless "
        "`ordering` says otherwise, a page at a time.",
        parameters=page_parameters(KnowledgeSourceListInput),
        responses={200: KnowledgeSourcePageOutput, **problems(401, 403, 404, 422)},
        examples=[
            OpenApiExample(
                "A page", value={"results": [SOURCE_EXAMPLE], "next_cursor": None}, response_only=True
            )
        ],
    )
    def get(self, request: Request, kb_id: int) -> Response:
        query = valid_query(KnowledgeSourceListInput, request)
        self.knowledge_base()  # 404 for an unknown one, not an empty list
        rows = self.get_queryset()
        for name in ("status", "kind"):
            if name in query:
                rows = rows.filter(**{name: query[name]})
        page, next_cursor = page_of(rows, query)
        return Response({"results": [_source(s) for s in page], "next_cursor": next_cursor})

    @extend_schema(
        operation_id="knowledge_sources_create",
        tags=TAGS,
        description="Add a web page, a site crawl, a sitemap, a text or Q&A pairs (owners and admins). "
        "It is stored `queued` and processed in the background: follow `status` and `progress`. "
        "Text and Q&A count against the plan's knowledge storage.",
        request=KnowledgeSourceInput,
        responses={201: KnowledgeSourceOutput, **problems(401, 403, 404, 422)},
        examples=[
            OpenApiExample(
                "Crawl a site",
                value={
                    "kind": "crawl",
                    "url": "https://help.example.com/",
                    "depth": 2,
                    "page_limit": 50,
                    "sync_schedule": "weekly",
                },
                request_only=True,
            ),
            OpenApiExample(
                "Q&A pairs",
                value={
                    "kind": "qa",
                    "title": "FAQ",
                    "qa_pairs": [{"question": "Do you ship abroad?", "answer": "Yes, to the EU."}],
                },
                request_only=True,
            ),
            OpenApiExample(
                "Queued",
                value={**SOURCE_EXAMPLE, "status": "queued"},
                response_only=True,
                status_codes=["201"],
            ),
        ],
    )
    def post(self, request: Request, kb_id: int) -> Response:
        data = valid_body(KnowledgeSourceInput(data=request.data))
        kb = self.knowledge_base()
        kind = data["kind"]
        if kind in WEB_KINDS:
            source = services.source_add_url(
                kb=kb,
                url=data["url"],
                kind=kind,
                depth=data["depth"],
                page_limit=data["page_limit"],
                schedule=data["sync_schedule"],
                request=request,
            )
        elif kind == Source.Kind.TEXT:
            source = services.source_add_text(
                tenant=self.tenant, kb=kb, title=data["title"], text=data["text"], request=request
            )
        else:
            pairs = [dict(pair) for pair in data["qa_pairs"]]
            source = services.source_set_qa(
                tenant=self.tenant, kb=kb, pairs=pairs, title=data["title"], request=request
            )
        return self.created(source)


class SourceUploadApi(SourceApiBase):
    parser_classes = [MultiPartParser]
    max_body_bytes = services.MAX_UPLOAD_MB * 1024 * 1024 + UPLOAD_ENVELOPE_BYTES

    @extend_schema(
        operation_id="knowledge_sources_upload",
        tags=TAGS,
        description=f"Add a file (multipart/form-data, field `file`; owners and admins), as the dashboard's "
        f"upload: at most {services.MAX_UPLOAD_MB} MB, its type read from the content, counted against the "
        "plan's knowledge storage. Processed in the background like every source.",
        request={"multipart/form-data": KnowledgeUploadInput},
        responses={
            201: KnowledgeSourceOutput,
            **problems(
                401,
                403,
                404,
                413,
                _422="No file, an empty one, or a type that cannot be read "
                "(`validation_error`, `errors.file`).",
            ),
        },
        examples=[
            OpenApiExample(
                "Uploaded",
                value={
                    **SOURCE_EXAMPLE,
                    "kind": "file",
                    "title": "returns.pdf",
                    "url": "",
                    "file_name": "returns.pdf",
                    "file_size": 48213,
                    "status": "queued",
                },
                response_only=True,
                status_codes=["201"],
            )
        ],
    )
    def post(self, request: Request, kb_id: int) -> Response:
        data = valid_body(KnowledgeUploadInput(data=request.data))
        kb = self.knowledge_base()
        return self.created(
            services.source_add_file(tenant=self.tenant, kb=kb, upload=data["file"], request=request)
        )


class SourceDetailApi(SourceApiBase):
    @extend_schema(
        operation_id="knowledge_sources_retrieve",
        tags=TAGS,
        description="The source with its status and progress (`active` while queued or processing) and "
        "what its last run changed.",
        responses={200: KnowledgeSourceOutput, **problems(401, 403, 404)},
        examples=[OpenApiExample("Processing", value=SOURCE_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request, kb_id: int, source_id: int) -> Response:
        return Response(_source(self.get_object()))

    @extend_schema(
        operation_id="knowledge_sources_update",
        tags=TAGS,
        description="Replace the pairs (and the title, when given) of a Q&A source, as the dashboard's "
        "editor (owners and admins); it is processed again, and unchanged pairs embed nothing. Other "
        "kinds: re-sync them, or delete and add them again.",
        request=KnowledgeQaUpdateInput,
        responses={200: KnowledgeSourceOutput, **problems(401, 403, 404, 422)},
        examples=[
            OpenApiExample(
                "New pairs",
                value={
                    "qa_pairs": [{"question": "Do you ship abroad?", "answer": "Yes, to the EU and the UK."}]
                },
                request_only=True,
            ),
            OpenApiExample(
                "Queued", value={**SOURCE_EXAMPLE, "kind": "qa", "status": "queued"}, response_only=True
            ),
        ],
    )
    def patch(self, request: Request, kb_id: int, source_id: int) -> Response:
        data = valid_body(KnowledgeQaUpdateInput(data=request.data))
        source = self.get_object()
        if source.kind != Source.Kind.QA:
            raise ValidationFailed(
                errors={
                    "qa_pairs": [{"code": "invalid", "message": "Only a Q&A source has pairs to replace."}]
                }
            )
        pairs = [dict(pair) for pair in data["qa_pairs"]]
        services.source_set_qa(
            tenant=self.tenant, kb=self.knowledge_base(), pairs=pairs, source=source, title=data["title"]
        )
        return Response(_source(self.get_object()))

    @extend_schema(
        operation_id="knowledge_sources_destroy",
        tags=TAGS,
        description="Delete the source with its documents, chunks and stored file (owners and admins).",
        responses={204: OpenApiResponse(description="Deleted."), **problems(401, 403, 404)},
    )
    def delete(self, request: Request, kb_id: int, source_id: int) -> Response:
        services.source_delete(source=self.get_object(), request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SourceSyncApi(SourceApiBase):
    @extend_schema(
        operation_id="knowledge_sources_sync",
        tags=TAGS,
        description="Process the source again now: a failed source is retried, a web source re-synced "
        "(new pages added, changed ones updated, pages gone removed). 409 while it is queued or processing.",
        request=None,
        responses={202: KnowledgeSourceOutput, **problems(401, 403, 404, 409)},
        examples=[
            OpenApiExample(
                "Queued",
                value={**SOURCE_EXAMPLE, "status": "queued"},
                response_only=True,
                status_codes=["202"],
            )
        ],
    )
    def post(self, request: Request, kb_id: int, source_id: int) -> Response:
        source = self.get_object()
        if source.status in selectors.ACTIVE:
            raise Conflict("The source is already being processed.")
        services.source_retry(source=source)
        return Response(_source(self.get_object()), status=status.HTTP_202_ACCEPTED)


# --- documents -----------------------------------------------------------------------------


class DocumentApiBase(KnowledgeApiBase):
    queryset = Document.objects.all()
    lookup_url_kwarg = "document_id"

    def narrow_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        rows = queryset.filter(knowledge_base_id=self.kwargs.get("kb_id"))
        if "source_id" in self.kwargs:
            rows = rows.filter(
                source_id=self.kwargs["source_id"], source__knowledge_base_id=self.kwargs["kb_id"]
            )
        return rows

    def page(self, input_class: type[PageInput], request: Request) -> Response:
        query = valid_query(input_class, request)
        self.knowledge_base()  # 404 for an unknown one, not an empty list
        sources = self.tenant_queryset(Source).filter(knowledge_base_id=self.kwargs["kb_id"])
        if "source_id" in self.kwargs and not sources.filter(pk=self.kwargs["source_id"]).exists():
            raise NotFound()
        rows = self.get_queryset()
        if "source" in query:
            rows = rows.filter(source_id=query["source"])
        page, next_cursor = page_of(rows, query)
        return Response(
            {"results": KnowledgeDocumentOutput(page, many=True).data, "next_cursor": next_cursor}
        )


DOCUMENT_LIST_TEXT = (
    "The documents (one per file or page) and their chunk counts, by title unless `ordering` says otherwise."
)
DOCUMENT_PAGE_EXAMPLE = OpenApiExample(
    "A page", value={"results": [DOCUMENT_EXAMPLE], "next_cursor": None}, response_only=True
)


class DocumentListApi(DocumentApiBase):
    @extend_schema(
        operation_id="knowledge_documents_list",
        tags=TAGS,
        description=DOCUMENT_LIST_TEXT + " Every source of the knowledge base, or one (`source`).",
        parameters=page_parameters(KnowledgeDocumentListInput),
        responses={200: KnowledgeDocumentPageOutput, **problems(401, 403, 404, 422)},
        examples=[DOCUMENT_PAGE_EXAMPLE],
    )
    def get(self, request: Request, kb_id: int) -> Response:
        return self.page(KnowledgeDocumentListInput, request)


class SourceDocumentListApi(DocumentApiBase):
    @extend_schema(
        operation_id="knowledge_source_documents_list",
        tags=TAGS,
        description=DOCUMENT_LIST_TEXT,
        parameters=page_parameters(KnowledgeSourceDocumentListInput),
        responses={200: KnowledgeDocumentPageOutput, **problems(401, 403, 404, 422)},
        examples=[DOCUMENT_PAGE_EXAMPLE],
    )
    def get(self, request: Request, kb_id: int, source_id: int) -> Response:
        return self.page(KnowledgeSourceDocumentListInput, request)


class DocumentDetailApi(DocumentApiBase):
    @extend_schema(
        operation_id="knowledge_documents_retrieve",
        tags=TAGS,
        description="One document of the knowledge base with its chunk count.",
        responses={200: KnowledgeDocumentOutput, **problems(401, 403, 404)},
        examples=[OpenApiExample("A document", value=DOCUMENT_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request, kb_id: int, document_id: int) -> Response:
        return Response(KnowledgeDocumentOutput(self.get_object()).data)

    @extend_schema(
        operation_id="knowledge_documents_destroy",
        tags=TAGS,
        description="Delete the document with its chunks (owners and admins); 409 while its source is "
        "being processed. A re-sync of a web source reads the page again.",
        responses={204: OpenApiResponse(description="Deleted."), **problems(401, 403, 404, 409)},
    )
    def delete(self, request: Request, kb_id: int, document_id: int) -> Response:
        services.document_delete(document=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
