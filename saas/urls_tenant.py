"""URLs of tenant hosts (<slug>.<BASE_DOMAIN> and custom domains)."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

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
    path("dashboard/api/", tenant_views.api_keys, name="api-keys"),
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
