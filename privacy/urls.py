"""URLs of the privacy app (tenant hosts): a contact's export and erasure (dashboard and
API), the workspace's export, and the workspace's self-serve deletion (request, the
emailed confirmation link, undo)."""

from saas.routes import endpoint, page

from . import apis, views

app_name = "privacy"

API_CONTACT = "api/v1/contacts/<str:contact_id>"

tenant_urlpatterns = [
    endpoint("dashboard/contacts/<int:contact_id>/export", views.contact_export, name="contact-export"),
    page("dashboard/contacts/<int:contact_id>/erase/", views.contact_erase, name="contact-erase"),
    endpoint("dashboard/settings/export", views.workspace_export, name="workspace-export"),
    endpoint("dashboard/settings/delete", views.workspace_deletion_request, name="workspace-delete"),
    page(
        "dashboard/settings/delete/confirm/",
        views.workspace_deletion_confirm,
        name="workspace-delete-confirm",
    ),
    endpoint("dashboard/settings/delete/undo", views.workspace_deletion_cancel, name="workspace-delete-undo"),
    endpoint(f"{API_CONTACT}/export", apis.ContactExportApi.as_view(), name="api-contact-export"),
    endpoint(f"{API_CONTACT}/erase", apis.ContactEraseApi.as_view(), name="api-contact-erase"),
]
