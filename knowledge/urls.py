"""URLs of the knowledge app (tenant hosts): knowledge bases, their sources and documents,
the retrieval test page and the settings; the workspace API's knowledge resources."""

from billing.middleware import open_while_restricted
from saas.routes import endpoint, page

from . import apis, apis_sources, views

app_name = "knowledge"

KB = "dashboard/knowledge/<int:kb_id>/"
SOURCE = KB + "sources/<int:source_id>/"
API_KB = "api/v1/knowledge-bases/<int:kb_id>"
API_SOURCE = API_KB + "/sources/<int:source_id>"

tenant_urlpatterns = [
    page("dashboard/knowledge/", views.knowledge_base_list, name="list"),
    page(KB, views.knowledge_base_detail, name="base"),
    endpoint(KB + "status", views.knowledge_base_status, name="status"),
    endpoint(KB + "live", views.knowledge_base_live, name="live"),
    page(KB + "search/", views.knowledge_base_search, name="search"),
    page(KB + "settings/", views.knowledge_base_settings, name="settings"),
    page(SOURCE, views.source_detail, name="source"),
    endpoint(SOURCE + "retry", views.source_retry, name="source-retry"),
    page(SOURCE + "delete/", views.source_delete, name="source-delete"),
    page(SOURCE + "qa/", views.source_qa_edit, name="source-qa"),
    page(KB + "documents/<int:document_id>/", views.document_detail, name="document"),
    # The workspace API (docs/architecture.md, "Tenant REST API").
    endpoint("api/v1/knowledge-bases", apis.KnowledgeBaseListApi.as_view(), name="api-bases"),
    # A search is posted, yet only reads: an unpaid, read-only workspace may still search.
    endpoint(
        "api/v1/knowledge-bases/search",
        open_while_restricted(apis.KnowledgeSearchApi.as_view()),
        name="api-search-all",
    ),
    endpoint(API_KB, apis.KnowledgeBaseDetailApi.as_view(), name="api-base"),
    endpoint(
        API_KB + "/search", open_while_restricted(apis.KnowledgeBaseSearchApi.as_view()), name="api-search"
    ),
    endpoint(API_KB + "/sources", apis_sources.SourceListApi.as_view(), name="api-sources"),
    endpoint(API_KB + "/sources/upload", apis_sources.SourceUploadApi.as_view(), name="api-source-upload"),
    endpoint(API_SOURCE, apis_sources.SourceDetailApi.as_view(), name="api-source"),
    endpoint(API_SOURCE + "/sync", apis_sources.SourceSyncApi.as_view(), name="api-source-sync"),
    endpoint(
        API_SOURCE + "/documents", apis_sources.SourceDocumentListApi.as_view(), name="api-source-documents"
    ),
    endpoint(API_KB + "/documents", apis_sources.DocumentListApi.as_view(), name="api-documents"),
    endpoint(
        API_KB + "/documents/<int:document_id>", apis_sources.DocumentDetailApi.as_view(), name="api-document"
    ),
]
