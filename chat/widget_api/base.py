"""Base views of the visitor API: a call made by a visitor holding a token for this
widget, and a call about one of the visitor's own conversations."""

from __future__ import annotations

from typing import Any, cast

from saas.errors import NotFound
from widget_builder.public_api import WidgetPublicView

from ..models import Contact, Conversation
from ..selectors import bot_snapshot
from .auth import Visitor, VisitorRequired, VisitorTokenAuthentication
from .selectors import visitor_conversation
from .throttles import VisitorThrottle


class VisitorView(WidgetPublicView):
    """A widget call made by a visitor holding a token for this widget."""

    authentication_classes = [VisitorTokenAuthentication]
    permission_classes = [VisitorRequired]
    throttle_classes = [*WidgetPublicView.throttle_classes, VisitorThrottle]
    openapi_problems = {
        **WidgetPublicView.openapi_problems,
        401: "The visitor token is missing, not valid here or expired "
        "(`visitor_token_invalid`, `visitor_token_expired`).",
    }

    @property
    def contact(self) -> Contact:
        return cast(Visitor, self.request.user).contact  # VisitorRequired let only visitors in

    def conversation_state(self, conversation: Conversation) -> dict[str, Any]:
        """What the widget shows about a conversation: status, rating, what may be attached."""
        bot = bot_snapshot(self.widget).bot
        return {
            "status": conversation.status,
            "last_seq": conversation.last_seq,
            "csat_score": conversation.csat_score,
            # What the visitor may attach here (empty kinds: no attachments).
            "attachments": {"kinds": bot.attachment_kinds, "max_mb": bot.attachment_max_mb},
        }


class ConversationView(VisitorView):
    """A call about one of the visitor's own conversations (anything else: 404)."""

    def conversation(self, conversation_id: int) -> Conversation:
        conversation = visitor_conversation(
            widget=self.widget, contact=self.contact, conversation_id=conversation_id
        )
        if conversation is None:
            raise NotFound("No such conversation.")
        conversation.widget = self.widget  # the same row, already read: not read again
        return conversation
