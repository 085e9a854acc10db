"""URLs of tenant hosts (<slug>.<BASE_DOMAIN> and custom domains)."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from billing import views as billing_views
from chat import views as chat_views
from knowledge import views as knowledge_views
from tenants import apis as tenant_apis
from tenants import views as tenant_views
from widget_builder import views as widget_views

handler400 = "saas.errors.handler400"
handler403 = "saas.errors.handler403"
handler404 = "saas.errors.handler404"
handler500 = "saas.errors.handler500"

urlpatterns = [
    path("", tenant_views.root, name="root"),
    path("login/", tenant_views.sign_in, name="login"),
    path("auth/handoff", tenant_views.handoff, name="handoff"),
    path("logout/", tenant_views.sign_out, name="logout"),
    path("dashboard/", tenant_views.dashboard, name="dashboard"),
    path("dashboard/team/", tenant_views.team, name="team"),
    path("dashboard/billing/", billing_views.billing_page, name="billing"),
    path("dashboard/billing/checkout", billing_views.billing_checkout, name="billing-checkout"),
    path("dashboard/billing/portal", billing_views.billing_portal, name="billing-portal"),
    path("dashboard/widgets/", widget_views.widget_list, name="widgets"),
    path("dashboard/widgets/new", widget_views.widget_new, name="widget-new"),
    path("dashboard/widgets/<int:widget_id>/", widget_views.widget_edit, name="widget-edit"),
    path(
        "dashboard/widgets/<int:widget_id>/rotate-secret",
        widget_views.widget_rotate_secret,
        name="widget-rotate",
    ),
    path(
        "dashboard/widgets/<int:widget_id>/copied", widget_views.widget_snippet_copied, name="widget-copied"
    ),
    path("dashboard/widgets/<int:widget_id>/bot", chat_views.widget_bot, name="widget-bot"),
    path(
        "dashboard/widgets/<int:widget_id>/automations",
        chat_views.widget_automations,
        name="widget-automations",
    ),
    path(
        "dashboard/widgets/<int:widget_id>/automations/<int:rule_id>",
        chat_views.widget_automations,
        name="widget-automation",
    ),
    path(
        "dashboard/widgets/<int:widget_id>/automations/<int:rule_id>/toggle",
        chat_views.widget_automation_toggle,
        name="widget-automation-toggle",
    ),
    path(
        "dashboard/widgets/<int:widget_id>/automations/<int:rule_id>/delete",
        chat_views.widget_automation_delete,
        name="widget-automation-delete",
    ),
    path(
        "dashboard/widgets/<int:widget_id>/playground", chat_views.widget_playground, name="widget-playground"
    ),
    path("dashboard/conversations/", chat_views.conversation_list, name="conversations"),
    path(
        "dashboard/conversations/<int:conversation_id>/",
        chat_views.conversation_detail,
        name="conversation",
    ),
    path(
        "dashboard/conversations/attachments/<uuid:attachment_id>",
        chat_views.attachment_download,
        name="conversation-attachment",
    ),
    path("dashboard/api/", tenant_views.api_keys, name="api-keys"),
    path("dashboard/knowledge/", knowledge_views.knowledge_base_list, name="knowledge"),
    path("dashboard/knowledge/<int:kb_id>/", knowledge_views.knowledge_base_detail, name="knowledge-base"),
    path(
        "dashboard/knowledge/<int:kb_id>/status",
        knowledge_views.knowledge_base_status,
        name="knowledge-status",
    ),
    path(
        "dashboard/knowledge/<int:kb_id>/search",
        knowledge_views.knowledge_base_search,
        name="knowledge-search",
    ),
    path(
        "dashboard/knowledge/<int:kb_id>/settings",
        knowledge_views.knowledge_base_settings,
        name="knowledge-settings",
    ),
    path(
        "dashboard/knowledge/<int:kb_id>/sources/<int:source_id>/",
        knowledge_views.source_detail,
        name="knowledge-source",
    ),
    path(
        "dashboard/knowledge/<int:kb_id>/sources/<int:source_id>/retry",
        knowledge_views.source_retry,
        name="knowledge-source-retry",
    ),
    path(
        "dashboard/knowledge/<int:kb_id>/sources/<int:source_id>/delete",
        knowledge_views.source_delete,
        name="knowledge-source-delete",
    ),
    path(
        "dashboard/knowledge/<int:kb_id>/sources/<int:source_id>/qa",
        knowledge_views.source_qa_edit,
        name="knowledge-source-qa",
    ),
    path(
        "dashboard/knowledge/<int:kb_id>/documents/<int:document_id>/",
        knowledge_views.document_detail,
        name="knowledge-document",
    ),
    path("dashboard/<slug:key>/", tenant_views.section, name="dashboard-section"),
    # REST API v1 (session or API key); OpenAPI schema and interactive docs
    path("api/v1/tenant", tenant_apis.TenantDetailApi.as_view(), name="api-tenant"),
    path("api/v1/members", tenant_apis.MemberListApi.as_view(), name="api-members"),
    path("api/v1/members/<int:member_id>", tenant_apis.MemberDetailApi.as_view(), name="api-member"),
    path("api/v1/api-keys", tenant_apis.ApiKeyListApi.as_view(), name="api-keys-list"),
    path("api/v1/api-keys/<int:key_id>", tenant_apis.ApiKeyDetailApi.as_view(), name="api-key"),
    path("api/schema/", SpectacularAPIView.as_view(urlconf="saas.urls_tenant"), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
]
