"""URLs of the knowledge app (tenant hosts): knowledge bases, their sources and documents,
the retrieval test page and the settings."""

from saas.routes import endpoint, page

from . import views

app_name = "knowledge"

KB = "dashboard/knowledge/<int:kb_id>/"
SOURCE = KB + "sources/<int:source_id>/"

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
]
