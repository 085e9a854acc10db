"""URLs of the webhooks app (tenant hosts): the dashboard's endpoints, each endpoint's page
with its delivery log, and a delivery's detail. The REST resources come later, on top of
the same services and selectors."""

from saas.routes import page

from . import views

app_name = "webhooks"

tenant_urlpatterns = [
    page("dashboard/api/webhooks/", views.endpoints, name="endpoints"),
    page("dashboard/api/webhooks/<uuid:endpoint_id>/", views.endpoint, name="endpoint"),
    page(
        "dashboard/api/webhooks/<uuid:endpoint_id>/deliveries/<int:delivery_id>/",
        views.delivery,
        name="delivery",
    ),
]
