"""Routes of the visitor API (public host, by widget key), included by ``chat.urls`` and
by the widget API's OpenAPI document (``openapi``)."""

from saas.routes import endpoint

from .actions import (
    ConversationCloseApi,
    ConversationHandoffApi,
    ConversationRatingApi,
    ConversationTranscriptApi,
    MessageFeedbackApi,
)
from .attachments import AttachmentDownloadApi, AttachmentUploadApi
from .conversations import ConversationApi, ConversationListApi, ConversationMessagesApi
from .events import ConversationEventsApi, ConversationReadApi, ConversationTypingApi
from .offline import AvailabilityApi, OfflineMessageApi, SessionResumeApi
from .sessions import IdentifyApi, PrechatSubmitApi, SessionRenewApi, SessionStartApi

WIDGET_API = "api/widget/v1/<str:widget_key>/"
CONVERSATION = WIDGET_API + "conversations/<int:conversation_id>/"

urlpatterns = [
    endpoint(WIDGET_API + "session", SessionStartApi.as_view(), name="widget-session"),
    endpoint(WIDGET_API + "session/renew", SessionRenewApi.as_view(), name="widget-session-renew"),
    endpoint(WIDGET_API + "session/resume", SessionResumeApi.as_view(), name="widget-session-resume"),
    endpoint(WIDGET_API + "availability", AvailabilityApi.as_view(), name="widget-availability"),
    endpoint(WIDGET_API + "prechat", PrechatSubmitApi.as_view(), name="widget-prechat"),
    endpoint(WIDGET_API + "identify", IdentifyApi.as_view(), name="widget-identify"),
    endpoint(WIDGET_API + "conversations", ConversationListApi.as_view(), name="widget-conversations"),
    endpoint(
        WIDGET_API + "conversations/<int:conversation_id>",
        ConversationApi.as_view(),
        name="widget-conversation",
    ),
    endpoint(CONVERSATION + "messages", ConversationMessagesApi.as_view(), name="widget-messages"),
    endpoint(
        CONVERSATION + "messages/<int:seq>/feedback", MessageFeedbackApi.as_view(), name="widget-feedback"
    ),
    endpoint(CONVERSATION + "events", ConversationEventsApi.as_view(), name="widget-events"),
    endpoint(CONVERSATION + "typing", ConversationTypingApi.as_view(), name="widget-typing"),
    endpoint(CONVERSATION + "read", ConversationReadApi.as_view(), name="widget-read"),
    endpoint(CONVERSATION + "close", ConversationCloseApi.as_view(), name="widget-close"),
    endpoint(CONVERSATION + "rating", ConversationRatingApi.as_view(), name="widget-rating"),
    endpoint(CONVERSATION + "handoff", ConversationHandoffApi.as_view(), name="widget-handoff"),
    endpoint(CONVERSATION + "offline", OfflineMessageApi.as_view(), name="widget-offline"),
    endpoint(CONVERSATION + "transcript", ConversationTranscriptApi.as_view(), name="widget-transcript"),
    endpoint(CONVERSATION + "attachments", AttachmentUploadApi.as_view(), name="widget-attachments"),
    endpoint(
        CONVERSATION + "attachments/<str:attachment_id>",
        AttachmentDownloadApi.as_view(),
        name="widget-attachment",
    ),
]
