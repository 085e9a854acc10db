"""URLs of the widget builder: the embeddable runtime and the widget's public config
(public host), and the builder pages (tenant hosts)."""

from django.urls import path

from . import public_api, runtime_views, views

app_name = "widget_builder"

# This app's part of the widget API (also read by the widget API's OpenAPI document).
widget_api_urlpatterns = [
    path("api/widget/v1/<str:widget_key>/config", public_api.WidgetConfigApi.as_view(), name="config"),
]

public_urlpatterns = [
    path("w/v1/loader.js", runtime_views.loader_js, name="loader"),
    path("w/v1/chat.<str:content_hash>.js", runtime_views.chat_ui_js, name="chat-ui"),
    path("w/v1/test/<str:widget_key>/", runtime_views.widget_test_page, name="test-page"),
    *widget_api_urlpatterns,
]

tenant_urlpatterns = [
    path("dashboard/widgets/", views.widget_list, name="list"),
    path("dashboard/widgets/new", views.widget_new, name="new"),
    path("dashboard/widgets/<int:widget_id>/", views.widget_edit, name="edit"),
    path("dashboard/widgets/<int:widget_id>/rotate-secret", views.widget_rotate_secret, name="rotate-secret"),
    path("dashboard/widgets/<int:widget_id>/copied", views.widget_snippet_copied, name="copied"),
]
