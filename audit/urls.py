"""URLs of the audit app (tenant hosts): the log's page under Settings, its CSV export, and
the REST resource (``audit.apis``)."""

from saas.routes import endpoint, page

from . import apis, views

app_name = "audit"

tenant_urlpatterns = [
    page("dashboard/settings/audit-log/", views.audit_log, name="log"),
    endpoint("dashboard/settings/audit-log/export", views.audit_log_export, name="export"),
    endpoint("api/v1/audit-events", apis.AuditEventListApi.as_view(), name="api-events"),
]
