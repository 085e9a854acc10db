"""URLs of the chat app: the visitor API (public host, by widget key) and the dashboard's
conversations and per-widget bot pages (tenant hosts)."""

from django.urls import path

from . import views
from . import widget_api as api

app_name = "chat"

WIDGET_API = "api/widget/v1/<str:widget_key>/"
CONVERSATION = WIDGET_API + "conversations/<int:conversation_id>/"

public_urlpatterns = [
    path(WIDGET_API + "session", api.SessionStartApi.as_view(), name="widget-session"),
    path(WIDGET_API + "session/renew", api.SessionRenewApi.as_view(), name="widget-session-renew"),
    path(WIDGET_API + "prechat", api.PrechatSubmitApi.as_view(), name="widget-prechat"),
    path(WIDGET_API + "identify", api.IdentifyApi.as_view(), name="widget-identify"),
    path(WIDGET_API + "conversations", api.ConversationListApi.as_view(), name="widget-conversations"),
    path(CONVERSATION + "messages", api.ConversationMessagesApi.as_view(), name="widget-messages"),
    path(
        CONVERSATION + "messages/<int:seq>/feedback", api.MessageFeedbackApi.as_view(), name="widget-feedback"
    ),
    path(CONVERSATION + "close", api.ConversationCloseApi.as_view(), name="widget-close"),
    path(CONVERSATION + "rating", api.ConversationRatingApi.as_view(), name="widget-rating"),
    path(CONVERSATION + "handoff", api.ConversationHandoffApi.as_view(), name="widget-handoff"),
    path(CONVERSATION + "transcript", api.ConversationTranscriptApi.as_view(), name="widget-transcript"),
    path(CONVERSATION + "attachments", api.AttachmentUploadApi.as_view(), name="widget-attachments"),
    path(
        CONVERSATION + "attachments/<str:attachment_id>",
        api.AttachmentDownloadApi.as_view(),
        name="widget-attachment",
    ),
]

WIDGET = "dashboard/widgets/<int:widget_id>/"

tenant_urlpatterns = [
    path("dashboard/conversations/", views.conversation_list, name="conversations"),
    path("dashboard/conversations/<int:conversation_id>/", views.conversation_detail, name="conversation"),
    path(
        "dashboard/conversations/attachments/<uuid:attachment_id>",
        views.attachment_download,
        name="attachment",
    ),
    path(WIDGET + "bot/", views.widget_bot, name="bot"),
    path(WIDGET + "automations/", views.widget_automations, name="automations"),
    path(WIDGET + "automations/<int:rule_id>/", views.widget_automations, name="automation"),
    path(
        WIDGET + "automations/<int:rule_id>/toggle", views.widget_automation_toggle, name="automation-toggle"
    ),
    path(
        WIDGET + "automations/<int:rule_id>/delete/", views.widget_automation_delete, name="automation-delete"
    ),
    path(WIDGET + "playground/", views.widget_playground, name="playground"),
]
