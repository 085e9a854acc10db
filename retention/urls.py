"""URLs of the retention app (tenant hosts): the settings page and the API resource."""

from saas.routes import endpoint, page

from . import apis, views

app_name = "retention"

tenant_urlpatterns = [
    page("dashboard/settings/retention/", views.retention_settings, name="settings"),
    endpoint("api/v1/retention", apis.RetentionApi.as_view(), name="api-retention"),
]
