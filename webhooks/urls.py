"""URLs of the webhooks app (tenant hosts): the dashboard's endpoints, each endpoint's page
with its delivery log, and a delivery's detail; the REST resources (``webhooks.apis``), on
the same services and selectors."""

from saas.routes import endpoint, page

from . import apis, views

API = "api/v1/webhooks/<uuid:endpoint_id>"

app_name = "webhooks"

tenant_urlpatterns = [
    page("dashboard/api/webhooks/", views.endpoints, name="endpoints"),
    page("dashboard/api/webhooks/<uuid:endpoint_id>/", views.endpoint, name="endpoint"),
    page(
        "dashboard/api/webhooks/<uuid:endpoint_id>/deliveries/<int:delivery_id>/",
        views.delivery,
        name="delivery",
    ),
    # REST API v1 (webhooks.apis)
    endpoint("api/v1/webhooks", apis.WebhookEndpointListApi.as_view(), name="api-endpoints"),
    endpoint("api/v1/webhooks/event-types", apis.WebhookEventTypesApi.as_view(), name="api-event-types"),
    endpoint(API, apis.WebhookEndpointDetailApi.as_view(), name="api-endpoint"),
    endpoint(API + "/secret", apis.WebhookSecretApi.as_view(), name="api-secret"),
    endpoint(API + "/rotate-secret", apis.WebhookSecretRotateApi.as_view(), name="api-rotate-secret"),
    endpoint(API + "/test", apis.WebhookTestApi.as_view(), name="api-test"),
    endpoint(API + "/deliveries", apis.WebhookDeliveryListApi.as_view(), name="api-deliveries"),
    endpoint(
        API + "/deliveries/<int:delivery_id>", apis.WebhookDeliveryDetailApi.as_view(), name="api-delivery"
    ),
    endpoint(
        API + "/deliveries/<int:delivery_id>/resend",
        apis.WebhookDeliveryResendApi.as_view(),
        name="api-delivery-resend",
    ),
]
