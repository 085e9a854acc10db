"""URLs of the tenancy app. Tenant hosts: arriving from the public host, signing out, the
dashboard shell (landing page, team, API keys, workspace settings) and the workspace
REST API's own endpoints with its OpenAPI schema and docs."""

from csp.decorators import csp_update
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from saas.csp import INLINE_STYLES
from saas.routes import endpoint, page

from . import apis, views

app_name = "tenants"

tenant_urlpatterns = [
    page("", views.root, name="root"),
    page("login/", views.sign_in, name="login"),
    endpoint("auth/handoff", views.handoff, name="handoff"),
    endpoint("logout", views.sign_out, name="logout"),
    page("dashboard/", views.dashboard, name="dashboard"),
    page("dashboard/team/", views.team, name="team"),
    page("dashboard/api/", views.api_keys, name="api-keys"),
    page("dashboard/settings/", views.workspace_settings, name="settings"),
    # REST API v1 (session or API key)
    endpoint("api/v1/tenant", apis.TenantDetailApi.as_view(), name="api-tenant"),
    endpoint("api/v1/members", apis.MemberListApi.as_view(), name="api-members"),
    endpoint("api/v1/members/<int:member_id>", apis.MemberDetailApi.as_view(), name="api-member"),
    endpoint("api/v1/api-keys", apis.ApiKeyListApi.as_view(), name="api-keys-list"),
    endpoint("api/v1/api-keys/<int:key_id>", apis.ApiKeyDetailApi.as_view(), name="api-key"),
    endpoint("api/schema", SpectacularAPIView.as_view(urlconf="saas.urls_tenant"), name="api-schema"),
    # The API docs' pages carry their viewers' <style> (saas.csp.INLINE_STYLES).
    page(
        "api/docs/",
        csp_update(INLINE_STYLES)(SpectacularSwaggerView.as_view(url_name="tenants:api-schema")),
        name="api-docs",
    ),
    page(
        "api/redoc/",
        csp_update(INLINE_STYLES)(SpectacularRedocView.as_view(url_name="tenants:api-schema")),
        name="api-redoc",
    ),
    # Staff read-only support access: the hand-off from the platform admin, the staff
    # member's way out, and the owners' list (where they can end one).
    endpoint("support/handoff", views.support_handoff, name="support-handoff"),
    endpoint("support/exit", views.support_exit, name="support-exit"),
    page("dashboard/support-access/", views.support_accesses, name="support-accesses"),
]
