"""Routes of the visitor API (public host, by widget key), included by ``chat.urls`` and
by the widget API's OpenAPI document (``openapi``)."""

from django.urls import path

from .actions import (
    ConversationCloseApi,
    ConversationHandoffApi,
    ConversationRatingApi,
    ConversationTranscriptApi,
    MessageFeedbackApi,
)
from .attachments import AttachmentDownloadApi, AttachmentUploadApi
from .conversations import ConversationListApi, ConversationMessagesApi
from .sessions import IdentifyApi, PrechatSubmitApi, SessionRenewApi, SessionStartApi

WIDGET_API = "api/widget/v1/<str:widget_key>/"
CONVERSATION = WIDGET_API + "conversations/<int:conversation_id>/"

urlpatterns = [
    path(WIDGET_API + "session", SessionStartApi.as_view(), name="widget-session"),
    path(WIDGET_API + "session/renew", SessionRenewApi.as_view(), name="widget-session-renew"),
    path(WIDGET_API + "prechat", PrechatSubmitApi.as_view(), name="widget-prechat"),
    path(WIDGET_API + "identify", IdentifyApi.as_view(), name="widget-identify"),
    path(WIDGET_API + "conversations", ConversationListApi.as_view(), name="widget-conversations"),
    path(CONVERSATION + "messages", ConversationMessagesApi.as_view(), name="widget-messages"),
    path(CONVERSATION + "messages/<int:seq>/feedback", MessageFeedbackApi.as_view(), name="widget-feedback"),
    path(CONVERSATION + "close", ConversationCloseApi.as_view(), name="widget-close"),
    path(CONVERSATION + "rating", ConversationRatingApi.as_view(), name="widget-rating"),
    path(CONVERSATION + "handoff", ConversationHandoffApi.as_view(), name="widget-handoff"),
    path(CONVERSATION + "transcript", ConversationTranscriptApi.as_view(), name="widget-transcript"),
    path(CONVERSATION + "attachments", AttachmentUploadApi.as_view(), name="widget-attachments"),
    path(
        CONVERSATION + "attachments/<str:attachment_id>",
        AttachmentDownloadApi.as_view(),
        name="widget-attachment",
    ),
]
