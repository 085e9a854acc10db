"""Visitor-facing widget API (public host, by widget key): sessions, the prechat form,
conversations, messages with streamed answers, feedback, handoff, transcripts, attachments.

Builds on ``widget_builder.public_api.WidgetPublicView`` (tenant by key, Origin, CORS,
availability, per-IP and per-widget limits). Visitor calls carry ``Authorization: Bearer
<visitor token>`` (``auth``). By subdomain: ``sessions``, ``conversations``, ``actions``,
``attachments``; ``base`` holds the visitor and conversation views, ``throttles`` the
limits, ``serializers`` the shapes, ``selectors`` the reads, ``routes`` the URLs and
``openapi`` the published document. Every write is a service (``chat.services``).
"""

from ..services.contacts import (
    BUILTIN_COLUMNS,
    PRECHAT_MIN_FILL_MS,
    IdentityInvalid,
    PrechatDisabled,
    identity_hash,
)
from ..services.conversations import EmailUnknown, PrechatRequired
from ..services.messages import ConversationClosed
from .actions import (
    ConversationCloseApi,
    ConversationHandoffApi,
    ConversationRatingApi,
    ConversationTranscriptApi,
    MessageFeedbackApi,
)
from .attachments import AttachmentDownloadApi, AttachmentUploadApi, attachment_response
from .auth import Visitor, VisitorRequired, VisitorTokenAuthentication
from .base import ConversationView, VisitorView
from .conversations import (
    MAX_MESSAGE_BODY,
    ConversationApi,
    ConversationListApi,
    ConversationMessagesApi,
    event_stream,
)
from .serializers import (
    ConversationOutput,
    FeedbackInput,
    IdentifyInput,
    MessageInput,
    PrechatInput,
    RatingInput,
    SessionInput,
)
from .sessions import IdentifyApi, PrechatSubmitApi, SessionRenewApi, SessionStartApi

__all__ = [
    "BUILTIN_COLUMNS",
    "MAX_MESSAGE_BODY",
    "PRECHAT_MIN_FILL_MS",
    "AttachmentDownloadApi",
    "AttachmentUploadApi",
    "ConversationApi",
    "ConversationCloseApi",
    "ConversationClosed",
    "ConversationHandoffApi",
    "ConversationListApi",
    "ConversationMessagesApi",
    "ConversationOutput",
    "ConversationRatingApi",
    "ConversationTranscriptApi",
    "ConversationView",
    "EmailUnknown",
    "FeedbackInput",
    "IdentifyApi",
    "IdentifyInput",
    "IdentityInvalid",
    "MessageFeedbackApi",
    "MessageInput",
    "PrechatDisabled",
    "PrechatInput",
    "PrechatRequired",
    "PrechatSubmitApi",
    "RatingInput",
    "SessionInput",
    "SessionRenewApi",
    "SessionStartApi",
    "Visitor",
    "VisitorRequired",
    "VisitorTokenAuthentication",
    "VisitorView",
    "attachment_response",
    "event_stream",
    "identity_hash",
]
