"""The visitor API's own limits (``settings.WIDGET_RATE_LIMITS`` and ``CHAT_RATE_LIMITS``),
on top of the per-IP and per-widget limits of every widget call
(``widget_builder.public_api``). Each answers 429 with ``Retry-After``."""

from __future__ import annotations

import hashlib
from typing import cast

from rest_framework.request import Request
from rest_framework.views import APIView

from saas.throttles import NOT_COUNTED, CacheRateThrottle, CounterKey
from widget_builder.public_api import WidgetPublicView

from ..models import Contact
from ..services.contacts import contact_transcript_address
from .auth import Visitor


def _contact(request: Request) -> Contact | None:
    user = request.user
    return user.contact if isinstance(user, Visitor) else None


class _PerVisitor(CacheRateThrottle):
    """Counted per visitor (contact); calls without one are not counted here."""

    def counter_key(self, request: Request, view: APIView) -> CounterKey:
        contact = _contact(request)
        return NOT_COUNTED if contact is None else str(contact.public_id)


class VisitorThrottle(_PerVisitor):
    """Every call a visitor makes with their token."""

    scope, period_s = "widget-visitor", 60
    limits_setting, limit_name = "WIDGET_RATE_LIMITS", "visitor_per_minute"


class SessionStartThrottle(CacheRateThrottle):
    """New visitor sessions, per client address."""

    scope, period_s = "widget-session", 3600
    limits_setting, limit_name = "WIDGET_RATE_LIMITS", "sessions_per_ip_per_hour"


class VisitorMessagesThrottle(_PerVisitor):
    scope, period_s = "chat-visitor-messages", 60
    limits_setting, limit_name = "CHAT_RATE_LIMITS", "visitor_messages_per_minute"


class IpMessagesThrottle(CacheRateThrottle):
    scope, period_s = "chat-ip-messages", 60
    limits_setting, limit_name = "CHAT_RATE_LIMITS", "ip_messages_per_minute"


class WidgetMessagesThrottle(CacheRateThrottle):
    scope, period_s = "chat-widget-messages", 60
    limits_setting, limit_name = "CHAT_RATE_LIMITS", "widget_messages_per_minute"

    def counter_key(self, request: Request, view: APIView) -> str:
        return cast(WidgetPublicView, view).widget.key  # a throttle of the widget's views


# A message sent by a visitor: per visitor, per address, per widget, in this order.
MESSAGE_THROTTLES = [VisitorMessagesThrottle, IpMessagesThrottle, WidgetMessagesThrottle]


class TranscriptRecipientThrottle(CacheRateThrottle):
    """Transcripts mailed to one address (by its hash), whoever asks: many visitors giving
    the same address cannot flood it. Requests without an address are not counted (they
    are refused with 409 ``email_unknown``)."""

    scope, period_s = "chat-transcripts-recipient", 86400
    limits_setting, limit_name = "CHAT_RATE_LIMITS", "transcripts_per_recipient_per_day"

    def counter_key(self, request: Request, view: APIView) -> CounterKey:
        contact = _contact(request)
        address = contact_transcript_address(contact) if contact is not None else ""
        return hashlib.sha256(address.lower().encode()).hexdigest() if address else NOT_COUNTED


class TranscriptVisitorThrottle(_PerVisitor):
    scope, period_s = "chat-transcripts", 3600
    limits_setting, limit_name = "CHAT_RATE_LIMITS", "transcripts_per_hour"

    def counter_key(self, request: Request, view: APIView) -> CounterKey:
        contact = _contact(request)
        if contact is None or not contact_transcript_address(contact):
            return NOT_COUNTED
        return str(contact.public_id)


TRANSCRIPT_THROTTLES = [TranscriptRecipientThrottle, TranscriptVisitorThrottle]


class ConversationEditThrottle(_PerVisitor):
    """Renames and deletes of the visitor's own conversations."""

    scope, period_s = "chat-conversation-edits", 3600
    limits_setting, limit_name = "CHAT_RATE_LIMITS", "conversation_edits_per_hour"


class AttachmentThrottle(_PerVisitor):
    scope, period_s = "chat-attachments", 3600
    limits_setting, limit_name = "CHAT_RATE_LIMITS", "attachments_per_hour"
