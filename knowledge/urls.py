"""URLs of the knowledge app (tenant hosts): knowledge bases, their sources and documents,
the retrieval test page and the settings."""

from django.urls import path

from . import views

app_name = "knowledge"

KB = "dashboard/knowledge/<int:kb_id>/"
SOURCE = KB + "sources/<int:source_id>/"

tenant_urlpatterns = [
    path("dashboard/knowledge/", views.knowledge_base_list, name="list"),
    path(KB, views.knowledge_base_detail, name="base"),
    path(KB + "status", views.knowledge_base_status, name="status"),
    path(KB + "search/", views.knowledge_base_search, name="search"),
    path(KB + "settings/", views.knowledge_base_settings, name="settings"),
    path(SOURCE, views.source_detail, name="source"),
    path(SOURCE + "retry", views.source_retry, name="source-retry"),
    path(SOURCE + "delete/", views.source_delete, name="source-delete"),
    path(SOURCE + "qa/", views.source_qa_edit, name="source-qa"),
    path(KB + "documents/<int:document_id>/", views.document_detail, name="document"),
]
