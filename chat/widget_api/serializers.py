"""Input and output shapes of the visitor API. Inputs are parsed with them; outputs
document what the views answer (bodies are built as the widget runtime reads them:
``selectors.message_payload`` for messages, ISO 8601 with ``+00:00`` for times)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from saas.api_pages import PageInput

from ..cards import client_id_unreserved
from ..models import TITLE_MAX_CHARS, Conversation
from ..services.messages import MAX_MESSAGE_CHARS
from .selectors import conversation_title

# The widget's list of conversations: a page is small (a phone screen or two).
CONVERSATIONS_PAGE = 20
CONVERSATIONS_MAX_PAGE = 50

# --- inputs -------------------------------------------------------------------------------


class SessionInput(serializers.Serializer):
    page_url = serializers.URLField(max_length=2000, required=False, allow_blank=True)
    referrer = serializers.URLField(max_length=2000, required=False, allow_blank=True)
    locale = serializers.CharField(max_length=16, required=False, allow_blank=True)


class PrechatInput(serializers.Serializer):
    answers = serializers.DictField(
        required=False, default=dict, help_text="Answers by field key, as the published form defines them."
    )
    consent = serializers.BooleanField(required=False, default=False)
    website = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="Leave empty (a field people never see)."
    )
    elapsed_ms = serializers.IntegerField(
        required=False, min_value=0, default=0, help_text="How long the form was open."
    )


class IdentifyInput(serializers.Serializer):
    id = serializers.CharField(max_length=200, help_text="The visitor's user id on the customer's site.")
    email = serializers.EmailField(required=False, allow_blank=True)
    name = serializers.CharField(max_length=120, required=False, allow_blank=True)
    user_hash = serializers.CharField(
        max_length=128,
        required=False,
        allow_blank=True,
        help_text="Hex HMAC-SHA256 of the id with the widget's identity secret, computed on the "
        "customer's server.",
    )


class MessageInput(serializers.Serializer):
    # Longer texts are refused by the service with a per-field error a visitor can act on.
    text = serializers.CharField(
        max_length=20000,
        allow_blank=True,
        trim_whitespace=False,
        help_text=f"At most {MAX_MESSAGE_CHARS} characters.",
    )
    client_message_id = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        validators=[client_id_unreserved],
        help_text="Chosen by the client: the same id sent again stores one message.",
    )


class ConversationPageInput(PageInput):
    limit = serializers.IntegerField(
        min_value=1,
        max_value=CONVERSATIONS_MAX_PAGE,
        default=CONVERSATIONS_PAGE,
        help_text=f"Conversations per page, 1 to {CONVERSATIONS_MAX_PAGE} ({CONVERSATIONS_PAGE} by default).",
    )


class ConversationRenameInput(serializers.Serializer):
    title = serializers.CharField(
        max_length=TITLE_MAX_CHARS,
        allow_blank=True,
        help_text=f"At most {TITLE_MAX_CHARS} characters; runs of whitespace become one space. "
        "Empty: back to the default title (the first message, or the date).",
    )


class FeedbackInput(serializers.Serializer):
    rating = serializers.ChoiceField(choices=["up", "down"])
    comment = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class RatingInput(serializers.Serializer):
    score = serializers.IntegerField(min_value=1, max_value=5)
    comment = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class AttachmentInput(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=True, use_url=False)
    text = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="A caption; cut at 4,000 characters."
    )


# --- outputs ------------------------------------------------------------------------------


class SessionOutput(serializers.Serializer):
    token = serializers.CharField(help_text="Send as `Authorization: Bearer <token>`.")
    expires_at = serializers.DateTimeField()
    visitor_id = serializers.UUIDField()
    prechat_required = serializers.BooleanField()


class IdentifyOutput(SessionOutput):
    verified = serializers.BooleanField()


class PrechatOutput(serializers.Serializer):
    visitor_id = serializers.UUIDField()
    prechat_required = serializers.BooleanField()


# Documented as one nullable object (a nullable nested serializer becomes ``allOf`` plus
# ``nullable``, which OpenAPI 3.0 validators read as "never null").
LAST_MESSAGE_SCHEMA = {
    "type": "object",
    "nullable": True,
    "description": "The newest message the visitor may see, its text cut at 160 characters "
    "(null: no message yet).",
    "properties": {
        "seq": {"type": "integer"},
        "role": {"type": "string", "enum": ["visitor", "bot", "agent", "system"]},
        "text": {"type": "string"},
    },
    "required": ["seq", "role", "text"],
}


class ConversationOutput(serializers.Serializer):
    """A conversation as the visitor's list shows it (built from
    ``selectors.visitor_conversations``)."""

    id = serializers.IntegerField()
    title = serializers.SerializerMethodField()
    title_source = serializers.SerializerMethodField()
    status = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField(help_text="The last activity: a message, a change of status.")
    csat_score = serializers.IntegerField(allow_null=True)
    unread_count = serializers.IntegerField(help_text="Agents' messages the visitor has not read yet.")
    last_message = serializers.SerializerMethodField()

    @extend_schema_field(serializers.CharField(help_text="What the widget calls the conversation."))
    def get_title(self, conversation: Conversation) -> str:
        return conversation_title(conversation)[0]

    @extend_schema_field(
        serializers.ChoiceField(
            choices=["custom", "first_message", "date"],
            help_text="The visitor's own title, their first message (cut), or the day it began "
            "(the widget words that one in the visitor's language).",
        )
    )
    def get_title_source(self, conversation: Conversation) -> str:
        return conversation_title(conversation)[1]

    @extend_schema_field(LAST_MESSAGE_SCHEMA)
    def get_last_message(self, conversation: Conversation) -> dict | None:
        return getattr(conversation, "last_message", None)


class ConversationListOutput(serializers.Serializer):
    conversations = ConversationOutput(many=True)
    next_cursor = serializers.CharField(
        allow_null=True, help_text="Pass as `cursor` for the next page; null on the last page."
    )


class CitationOutput(serializers.Serializer):
    n = serializers.IntegerField()
    title = serializers.CharField(allow_null=True)
    url = serializers.CharField(allow_null=True)
    file = serializers.CharField(allow_null=True)
    page = serializers.IntegerField(allow_null=True)
    rows = serializers.ListField(
        child=serializers.IntegerField(),
        help_text="A visitor's table file: the data rows the answer was computed from (1 is the first "
        "row after the header; the first ones only). Empty otherwise.",
    )


class AttachmentOutput(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    content_type = serializers.CharField()
    size = serializers.IntegerField()
    removed = serializers.BooleanField(
        help_text="The file was removed (the workspace's retention period): only its name is left."
    )
    context_status = serializers.ChoiceField(
        choices=["ready", "failed"],
        allow_null=True,
        help_text="`ready`: the bot read the file as this conversation's context; `failed`: it could "
        "not (see `context_error`); null: not read (the bot does not read files, or not this kind).",
    )
    context_error = serializers.CharField(help_text="Why the bot could not read the file, else empty.")


def _string(description: str = "") -> dict[str, Any]:
    return {"type": "string", **({"description": description} if description else {})}


CARD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "nullable": True,
    "description": "Under a bot message: an AI action waiting for the visitor (a confirmation or a "
    "form), answered with `POST confirmations/<id>/confirm`, `.../submit` or `.../cancel`; else null.",
    "required": ["kind", "id", "title", "state", "expires_at"],
    "properties": {
        "kind": {
            **_string("`confirm`: Confirm or Cancel; `form`: the inputs asked."),
            "enum": ["confirm", "form"],
        },
        "id": {"type": "string", "format": "uuid"},
        "title": _string("The action's title."),
        "state": {"type": "string", "enum": ["pending", "confirmed", "declined", "expired"]},
        "expires_at": {"type": "string", "format": "date-time"},
        "summary": {
            "type": "array",
            "description": "`confirm`: the inputs in plain words.",
            "items": {
                "type": "object",
                "required": ["label", "value"],
                "properties": {"label": _string(), "value": _string()},
            },
        },
        "fields": {
            "type": "array",
            "description": "`form`: the inputs asked.",
            "items": {
                "type": "object",
                "required": ["name", "label", "hint", "type", "required", "options"],
                "properties": {
                    "name": _string("The input's name: the key in `submit`'s `arguments`."),
                    "label": _string(),
                    "hint": _string("A description to show under the field, or empty."),
                    "type": {"type": "string", "enum": ["string", "number", "integer", "boolean", "enum"]},
                    "required": {"type": "boolean"},
                    "options": {"type": "array", "items": {}, "description": "An enum's values."},
                },
            },
        },
    },
}


@extend_schema_field(CARD_SCHEMA)
class CardField(serializers.JSONField):
    """A message's card (``chat.cards``), documented field by field."""


class MessageOutput(serializers.Serializer):
    seq = serializers.IntegerField()
    role = serializers.ChoiceField(choices=["visitor", "bot", "agent", "system"])
    text = serializers.CharField()
    citations = CitationOutput(many=True)
    attachments = AttachmentOutput(many=True)
    created_at = serializers.DateTimeField()
    client_message_id = serializers.CharField()
    feedback = serializers.IntegerField(allow_null=True)
    author_name = serializers.CharField(help_text="The agent's name on agent messages, else empty.")
    card = CardField(allow_null=True)


class AttachmentRulesOutput(serializers.Serializer):
    kinds = serializers.ListField(child=serializers.ChoiceField(choices=["image", "pdf", "text"]))
    max_mb = serializers.IntegerField()


class ConversationStateOutput(serializers.Serializer):
    status = serializers.CharField()
    last_seq = serializers.IntegerField()
    csat_score = serializers.IntegerField(allow_null=True)
    attachments = AttachmentRulesOutput(help_text="What the visitor may attach (no kinds: nothing).")


class ConversationStartOutput(ConversationOutput, ConversationStateOutput):
    messages = MessageOutput(many=True, help_text="The greeting, when the widget has one.")


class MessageListOutput(ConversationStateOutput):
    messages = MessageOutput(many=True)
    awaiting_answer_after = serializers.IntegerField(
        allow_null=True, help_text="The visitor message whose answer is being written (poll with `after`)."
    )


class ConversationOpenOutput(ConversationOutput, MessageListOutput):
    """One conversation opened: its summary, its state and its first messages."""


class AnswerOutput(serializers.Serializer):
    message = MessageOutput(allow_null=True)
    handoff = serializers.BooleanField(help_text="Offer the visitor a person.")
    outcome = serializers.CharField()
    status = serializers.CharField(
        required=False,
        help_text="Only when the answer changed the conversation's status: `waiting` after the "
        "visitor asked for a person in words (outcome `handoff`; the message is the handoff note).",
    )


class MessageSentOutput(MessageOutput):
    answer = AnswerOutput(allow_null=True, help_text="Null when the same message is already being answered.")


class FeedbackOutput(serializers.Serializer):
    seq = serializers.IntegerField()
    feedback = serializers.IntegerField()


class HandoffOutput(ConversationStateOutput):
    messages = MessageOutput(many=True, help_text="The note shown to the visitor (empty if already waiting).")


class TranscriptOutput(serializers.Serializer):
    sent_to = serializers.CharField(help_text="The address, masked.")
