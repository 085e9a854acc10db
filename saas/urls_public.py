"""URLs of the public host (BASE_DOMAIN): site, platform admin, and later signup,
webhooks and the widget API. /healthz and /readyz are answered by middleware."""

from django.contrib import admin
from django.urls import include, path

from billing import views as billing_views
from chat import widget_api as visitor_api
from widget_builder import public_api as widget_api
from widget_builder import runtime_views

handler400 = "saas.errors.handler400"
handler403 = "saas.errors.handler403"
handler404 = "saas.errors.handler404"
handler500 = "saas.errors.handler500"

admin.site.site_header = "Platform administration"
admin.site.site_title = "Platform admin"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("billing/stripe/webhook/", billing_views.stripe_webhook, name="stripe-webhook"),
    path("w/v1/loader.js", runtime_views.loader_js, name="widget-loader"),
    path("w/v1/chat.<str:content_hash>.js", runtime_views.chat_ui_js, name="widget-chat-ui"),
    path("w/v1/test/<str:widget_key>", runtime_views.widget_test_page, name="widget-test-page"),
    path("api/widget/v1/<str:widget_key>/config", widget_api.WidgetConfigApi.as_view(), name="widget-config"),
    path(
        "api/widget/v1/<str:widget_key>/session", visitor_api.SessionStartApi.as_view(), name="widget-session"
    ),
    path(
        "api/widget/v1/<str:widget_key>/session/renew",
        visitor_api.SessionRenewApi.as_view(),
        name="widget-session-renew",
    ),
    path(
        "api/widget/v1/<str:widget_key>/prechat",
        visitor_api.PrechatSubmitApi.as_view(),
        name="widget-prechat",
    ),
    path(
        "api/widget/v1/<str:widget_key>/identify", visitor_api.IdentifyApi.as_view(), name="widget-identify"
    ),
    path(
        "api/widget/v1/<str:widget_key>/conversations",
        visitor_api.ConversationListApi.as_view(),
        name="widget-conversations",
    ),
    path(
        "api/widget/v1/<str:widget_key>/conversations/<int:conversation_id>/messages",
        visitor_api.ConversationMessagesApi.as_view(),
        name="widget-messages",
    ),
    path(
        "api/widget/v1/<str:widget_key>/conversations/<int:conversation_id>/messages/<int:seq>/feedback",
        visitor_api.MessageFeedbackApi.as_view(),
        name="widget-feedback",
    ),
    path(
        "api/widget/v1/<str:widget_key>/conversations/<int:conversation_id>/close",
        visitor_api.ConversationCloseApi.as_view(),
        name="widget-close",
    ),
    path(
        "api/widget/v1/<str:widget_key>/conversations/<int:conversation_id>/rating",
        visitor_api.ConversationRatingApi.as_view(),
        name="widget-rating",
    ),
    path(
        "api/widget/v1/<str:widget_key>/conversations/<int:conversation_id>/handoff",
        visitor_api.ConversationHandoffApi.as_view(),
        name="widget-handoff",
    ),
    path(
        "api/widget/v1/<str:widget_key>/conversations/<int:conversation_id>/transcript",
        visitor_api.ConversationTranscriptApi.as_view(),
        name="widget-transcript",
    ),
    path(
        "api/widget/v1/<str:widget_key>/conversations/<int:conversation_id>/attachments",
        visitor_api.AttachmentUploadApi.as_view(),
        name="widget-attachments",
    ),
    path(
        "api/widget/v1/<str:widget_key>/conversations/<int:conversation_id>/attachments/<str:attachment_id>",
        visitor_api.AttachmentDownloadApi.as_view(),
        name="widget-attachment",
    ),
    path("", include("public_site.urls")),
]
