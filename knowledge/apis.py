"""Tenant REST API, v1 (tenant host, ``/api/v1/``): knowledge bases and search.

* ``GET/POST knowledge-bases``, ``GET/PATCH/DELETE knowledge-bases/<id>``: what the
  knowledge pages and the settings page do, each one ``knowledge.services`` call;
* ``POST knowledge-bases/<id>/search`` and ``POST knowledge-bases/search`` (every knowledge
  base): exactly what ``knowledge.retrieval.retrieve()`` returns, each passage with its rank
  after fusion, its rank in each method, its score, similarity and relevance, its chunk,
  document and source ids and its citation fields.

Sources and documents: ``knowledge.apis_sources``. Roles: ``knowledge.apis_common``.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from saas.api_pages import PageInput, ordering_field, page_of, page_output, page_parameters, valid_query
from saas.errors import ServiceUnavailable, ValidationFailed
from tenants.api_base import ALL_ROLES

from . import retrieval, selectors, services
from .apis_common import TAGS, KnowledgeApiBase, problems, valid_body
from .embeddings.base import EmbeddingError
from .models import KnowledgeBase

SEARCH_LIMIT_MAX = 50
QUERY_MAX = 2000
METHODS = ("vector", "text")
EMBEDDING_FIELDS = ("provider", "model", "dimensions", "base_url", "api_key")
WHEN = "2026-12-04T12:00:00.123456Z"

# --- output --------------------------------------------------------------------------------


class KnowledgeEmbeddingOutput(serializers.Serializer):
    provider = serializers.ChoiceField(
        source="embedding_provider", choices=KnowledgeBase.EmbeddingProvider.choices
    )
    model = serializers.CharField(source="embedding_model", help_text="Empty for the built-in model.")
    dimensions = serializers.IntegerField(source="embedding_dimensions")
    base_url = serializers.CharField(
        source="embedding_base_url", help_text="An OpenAI-compatible server's address, else empty."
    )
    has_api_key = serializers.SerializerMethodField(help_text="A key is stored (it is never shown).")

    def get_has_api_key(self, kb: KnowledgeBase) -> bool:
        return bool(kb.embedding_api_key_encrypted)


class KnowledgeBaseOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField()
    language = serializers.ChoiceField(choices=KnowledgeBase.Language.choices)
    embedding = KnowledgeEmbeddingOutput(source="*")
    min_relevance = serializers.FloatField(
        allow_null=True,
        help_text="The similarity a passage needs to be given to the bot; null: the model's default.",
    )
    reembedding = serializers.BooleanField(help_text="Chunks are being embedded again with a new model.")
    source_count = serializers.IntegerField()
    active_count = serializers.IntegerField(help_text="Sources queued or processing.")
    failed_count = serializers.IntegerField()
    document_count = serializers.IntegerField()
    chunk_count = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


KnowledgeBasePageOutput = page_output("KnowledgeBasePageOutput", KnowledgeBaseOutput)

KB_EXAMPLE = {
    "id": 3,
    "name": "Help center",
    "description": "Articles from help.example.com",
    "language": "english",
    "embedding": {"provider": "local", "model": "", "dimensions": 384, "base_url": "", "has_api_key": False},
    "min_relevance": None,
    "reembedding": False,
    "source_count": 2,
    "active_count": 0,
    "failed_count": 0,
    "document_count": 14,
    "chunk_count": 120,
    "created_at": WHEN,
    "updated_at": WHEN,
}


class KnowledgeRanksOutput(serializers.Serializer):
    vector = serializers.IntegerField(required=False, help_text="1-based rank in the vector search.")
    text = serializers.IntegerField(required=False, help_text="1-based rank in the full-text search.")


class KnowledgePassageOutput(serializers.Serializer):
    rank = serializers.IntegerField(help_text="1-based, after reciprocal rank fusion.")
    ranks = KnowledgeRanksOutput(help_text="The passage's rank in each method that found it.")
    score = serializers.FloatField(help_text="The fused score: the sum of 1/(60 + rank) over the methods.")
    similarity = serializers.FloatField(
        allow_null=True, help_text="Cosine similarity of the vector match; null when not a vector hit."
    )
    relevant = serializers.BooleanField(
        help_text="Passes the knowledge base's minimum relevance, or holds every word of the query: "
        "what the bot is given."
    )
    chunk_id = serializers.IntegerField(allow_null=True)
    document_id = serializers.IntegerField(allow_null=True)
    source_id = serializers.IntegerField(allow_null=True)
    text = serializers.CharField()
    heading_path = serializers.CharField(help_text="The headings above the passage, `A > B`.")
    title = serializers.CharField(help_text="Citation: the document's title.")
    url = serializers.CharField(help_text="Citation: the page's address with the anchor, or empty.")
    file = serializers.CharField(help_text="Citation: the uploaded file's name, or empty.")
    page = serializers.IntegerField(allow_null=True, help_text="Citation: the PDF page, or null.")


class KnowledgeSearchOutput(serializers.Serializer):
    passages = KnowledgePassageOutput(many=True)


SEARCH_EXAMPLE = {
    "passages": [
        {
            "rank": 1,
            "ranks": {"vector": 1, "text": 2},
            "score": 0.032522,
            "similarity": 0.7134,
            "relevant": True,
            "chunk_id": 812,
            "document_id": 40,
            "source_id": 7,
            "text": "You can send items back within 30 days for a full refund.",
            "heading_path": "Returns",
            "title": "Returns policy",
            "url": "https://help.example.com/returns#returns",
            "file": "",
            "page": None,
        }
    ]
}


def _passage(passage: retrieval.Passage) -> dict[str, Any]:
    return {
        "rank": passage.rank,
        "ranks": dict(passage.ranks),
        "score": passage.score,
        "similarity": passage.similarity,
        "relevant": passage.relevant,
        "chunk_id": passage.chunk_id,
        "document_id": passage.document_id,
        "source_id": passage.source_id,
        "text": passage.text,
        "heading_path": passage.heading_path,
        "title": passage.title,
        "url": passage.url,
        "file": passage.file,
        "page": passage.page,
    }


# --- input ---------------------------------------------------------------------------------


class KnowledgeBaseListInput(PageInput):
    ordering = ordering_field(("name", "created_at", "updated_at"), default="name")


class KnowledgeBaseInput(serializers.Serializer):
    name = serializers.CharField(max_length=services.NAME_MAX)
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)
    language = serializers.ChoiceField(
        choices=KnowledgeBase.Language.choices,
        default=KnowledgeBase.Language.ENGLISH,
        help_text="Of the content: keyword search stems and drops stop words for it.",
    )


class KnowledgeEmbeddingInput(serializers.Serializer):
    provider = serializers.ChoiceField(choices=KnowledgeBase.EmbeddingProvider.choices)
    model = serializers.CharField(required=False, allow_blank=True, default="", max_length=120)
    dimensions = serializers.ChoiceField(
        choices=[384, 1536], required=False, allow_null=True, default=None, help_text="The vectors' size."
    )
    base_url = serializers.URLField(required=False, allow_blank=True, default="", max_length=300)
    api_key = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=500,
        write_only=True,
        help_text="Stored encrypted, never shown; blank keeps the stored key while the endpoint stays.",
    )


class KnowledgeBaseUpdateInput(serializers.Serializer):
    """Only the fields given change."""

    name = serializers.CharField(required=False, max_length=services.NAME_MAX)
    description = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    language = serializers.ChoiceField(
        choices=KnowledgeBase.Language.choices,
        required=False,
        help_text="Only while nothing is indexed (`language_locked` after).",
    )
    min_relevance = serializers.FloatField(
        required=False,
        allow_null=True,
        min_value=0.0,
        max_value=1.0,
        help_text="0 to 1; null: the embedding model's calibrated default.",
    )
    embedding = KnowledgeEmbeddingInput(
        required=False, help_text="Another embedding model: every chunk is embedded again in the background."
    )


class KnowledgeSearchInput(serializers.Serializer):
    query = serializers.CharField(max_length=QUERY_MAX, help_text="The question, as a visitor would ask it.")
    limit = serializers.IntegerField(min_value=1, max_value=SEARCH_LIMIT_MAX, default=selectors.SEARCH_LIMIT)
    methods = serializers.MultipleChoiceField(
        choices=METHODS,
        default=lambda: set(METHODS),
        allow_empty=False,
        help_text="`vector` (by meaning), `text` (by words) or both, fused by reciprocal rank.",
    )


# --- views ---------------------------------------------------------------------------------


class KnowledgeBaseApiBase(KnowledgeApiBase):
    queryset = selectors.knowledge_base_list()
    lookup_url_kwarg = "kb_id"

    def output(self, kb: KnowledgeBase) -> dict[str, Any]:
        """``kb`` as stored, with its counts."""
        return dict(KnowledgeBaseOutput(self.get_queryset().get(pk=kb.pk)).data)


class KnowledgeBaseListApi(KnowledgeBaseApiBase):
    @extend_schema(
        operation_id="knowledge_bases_list",
        tags=TAGS,
        description="The workspace's knowledge bases with their counts, by name unless `ordering` says "
        "otherwise, a page at a time.",
        parameters=page_parameters(KnowledgeBaseListInput),
        responses={200: KnowledgeBasePageOutput, **problems(401, 403, 404, 422)},
        examples=[
            OpenApiExample("A page", value={"results": [KB_EXAMPLE], "next_cursor": None}, response_only=True)
        ],
    )
    def get(self, request: Request) -> Response:
        query = valid_query(KnowledgeBaseListInput, request)
        rows, next_cursor = page_of(self.get_queryset(), query)
        return Response({"results": KnowledgeBaseOutput(rows, many=True).data, "next_cursor": next_cursor})

    @extend_schema(
        operation_id="knowledge_bases_create",
        tags=TAGS,
        description="A new, empty knowledge base with the built-in embedding model (owners and admins).",
        request=KnowledgeBaseInput,
        responses={201: KnowledgeBaseOutput, **problems(401, 403, 404, 422)},
        examples=[
            OpenApiExample(
                "Create",
                value={"name": "Help center", "description": "Articles", "language": "english"},
                request_only=True,
            ),
            OpenApiExample("Created", value=KB_EXAMPLE, response_only=True, status_codes=["201"]),
        ],
    )
    def post(self, request: Request) -> Response:
        data = valid_body(KnowledgeBaseInput(data=request.data))
        kb = services.knowledge_base_create(
            name=data["name"], description=data["description"], language=data["language"], request=request
        )
        return Response(self.output(kb), status=status.HTTP_201_CREATED)


class KnowledgeBaseDetailApi(KnowledgeBaseApiBase):
    @extend_schema(
        operation_id="knowledge_bases_retrieve",
        tags=TAGS,
        description="The knowledge base with its settings and counts.",
        responses={200: KnowledgeBaseOutput, **problems(401, 403, 404)},
        examples=[OpenApiExample("A knowledge base", value=KB_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request, kb_id: int) -> Response:
        return Response(KnowledgeBaseOutput(self.get_object()).data)

    @extend_schema(
        operation_id="knowledge_bases_update",
        tags=TAGS,
        description="Change the fields given, as the settings page does: name, description, language "
        "(only while nothing is indexed), minimum relevance, embedding model (every chunk is embedded "
        "again in the background). Owners and admins.",
        request=KnowledgeBaseUpdateInput,
        responses={200: KnowledgeBaseOutput, **problems(401, 403, 404, 422)},
        examples=[
            OpenApiExample(
                "Rename", value={"name": "Support articles", "min_relevance": 0.45}, request_only=True
            ),
            OpenApiExample("Changed", value=KB_EXAMPLE, response_only=True),
        ],
    )
    def patch(self, request: Request, kb_id: int) -> Response:
        data = valid_body(KnowledgeBaseUpdateInput(data=request.data))
        kb = self.get_object()
        given = data.get("embedding")
        embedding = services.EmbeddingSettings(
            provider=given["provider"] if given else kb.embedding_provider,
            model=given["model"] if given else kb.embedding_model,
            dimensions=given["dimensions"] if given else kb.embedding_dimensions,
            base_url=given["base_url"] if given else kb.embedding_base_url,
            api_key=given["api_key"] if given else "",
        )
        try:
            services.knowledge_base_settings_save(
                kb=kb,
                name=data.get("name", kb.name),
                description=data.get("description", kb.description),
                language=data.get("language", kb.language),
                embedding=embedding,
                min_relevance=data.get("min_relevance", services.KEEP),
            )
        except ValidationFailed as error:
            # The model's fields are named as in the request: ``embedding.<field>``.
            named = {
                f"embedding.{k}" if k in EMBEDDING_FIELDS else k: v for k, v in (error.errors or {}).items()
            }
            raise ValidationFailed(error.detail, errors=named) from error
        return Response(self.output(kb))

    @extend_schema(
        operation_id="knowledge_bases_destroy",
        tags=TAGS,
        description="Delete the knowledge base with its sources, documents, chunks and stored files "
        "(owners and admins). A bot that named it no longer does; a bot left naming none answers from "
        "every knowledge base, as one that never named any.",
        responses={204: OpenApiResponse(description="Deleted."), **problems(401, 403, 404)},
    )
    def delete(self, request: Request, kb_id: int) -> Response:
        services.knowledge_base_delete(kb=self.get_object(), request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SearchApiBase(KnowledgeApiBase):
    required_roles = {"POST": ALL_ROLES}  # a search reads: every role, as the test page

    def search(self, request: Request, knowledge_base_ids: list[int] | None) -> Response:
        data = valid_body(KnowledgeSearchInput(data=request.data))
        methods = tuple(m for m in METHODS if m in data["methods"])
        try:
            passages = retrieval.retrieve(
                query=data["query"],
                knowledge_base_ids=knowledge_base_ids,
                limit=data["limit"],
                methods=methods,
            )
        except EmbeddingError as error:
            raise ServiceUnavailable(str(error) or "The embedding model did not answer.") from error
        return Response(KnowledgeSearchOutput({"passages": [_passage(p) for p in passages]}).data)


SEARCH_SCHEMA: dict[str, Any] = {
    "tags": TAGS,
    "request": KnowledgeSearchInput,
    "responses": {200: KnowledgeSearchOutput, **problems(401, 403, 404, 422, 503)},
    "examples": [
        OpenApiExample(
            "Search",
            value={"query": "Can I return an item?", "limit": 5, "methods": ["vector", "text"]},
            request_only=True,
        ),
        OpenApiExample("Passages", value=SEARCH_EXAMPLE, response_only=True),
    ],
}
SEARCH_TEXT = (
    "What retrieval returns for `query`, best first: the passages the bot would be given "
    "(`relevant`) and the others, each with its rank after fusion and in each method. Nothing "
    "ingested yet: no passages. The embedding model unreachable: with both methods the words "
    "alone answer; `vector` alone is 503."
)


class KnowledgeBaseSearchApi(SearchApiBase):
    @extend_schema(operation_id="knowledge_base_search", description=SEARCH_TEXT, **SEARCH_SCHEMA)
    def post(self, request: Request, kb_id: int) -> Response:
        return self.search(request, [self.knowledge_base().pk])


class KnowledgeSearchApi(SearchApiBase):
    @extend_schema(
        operation_id="knowledge_search", description=SEARCH_TEXT + " Every knowledge base.", **SEARCH_SCHEMA
    )
    def post(self, request: Request) -> Response:
        return self.search(request, None)
