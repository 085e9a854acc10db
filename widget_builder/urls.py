"""URLs of the widget builder: the embeddable runtime and the widget's public config
(public host), and the builder pages (tenant hosts)."""

from saas.routes import endpoint, page

from . import apis, public_api, runtime_views, views

app_name = "widget_builder"

# This app's part of the widget API (also read by the widget API's OpenAPI document).
widget_api_urlpatterns = [
    endpoint("api/widget/v1/<str:widget_key>/config", public_api.WidgetConfigApi.as_view(), name="config"),
]

public_urlpatterns = [
    endpoint("w/v1/loader.js", runtime_views.loader_js, name="loader"),
    endpoint("w/v1/chat.<str:content_hash>.js", runtime_views.chat_ui_js, name="chat-ui"),
    page("w/v1/test/<str:widget_key>/", runtime_views.widget_test_page, name="test-page"),
    *widget_api_urlpatterns,
]

tenant_urlpatterns = [
    page("dashboard/widgets/", views.widget_list, name="list"),
    endpoint("dashboard/widgets/new", views.widget_new, name="new"),
    page("dashboard/widgets/<int:widget_id>/", views.widget_edit, name="edit"),
    endpoint(
        "dashboard/widgets/<int:widget_id>/rotate-secret", views.widget_rotate_secret, name="rotate-secret"
    ),
    endpoint("dashboard/widgets/<int:widget_id>/copied", views.widget_snippet_copied, name="copied"),
    # REST API v1 (session or API key; widget_builder.apis)
    endpoint("api/v1/widgets", apis.WidgetListApi.as_view(), name="api-widgets"),
    endpoint("api/v1/widgets/<int:widget_id>", apis.WidgetDetailApi.as_view(), name="api-widget"),
    endpoint("api/v1/widgets/<int:widget_id>/publish", apis.WidgetPublishApi.as_view(), name="api-publish"),
    endpoint(
        "api/v1/widgets/<int:widget_id>/rotate-secret",
        apis.WidgetSecretRotateApi.as_view(),
        name="api-rotate-secret",
    ),
]
