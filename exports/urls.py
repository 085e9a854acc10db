"""URLs of the exports app (tenant hosts): the CSV exports of the Contacts page and of the
inbox's list (with their filters), and the download of an export job's file."""

from saas.routes import endpoint

from . import views

app_name = "exports"

tenant_urlpatterns = [
    endpoint("dashboard/contacts/export", views.export_contacts, name="contacts"),
    endpoint("dashboard/conversations/export", views.export_conversations, name="conversations"),
    endpoint("dashboard/exports/<uuid:job_id>/download", views.export_download, name="download"),
]
