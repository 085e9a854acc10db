"""Input and output shapes of the visitor API. Inputs are parsed with them; outputs
document what the views answer (bodies are built as the widget runtime reads them:
``selectors.message_payload`` for messages, ISO 8601 with ``+00:00`` for times)."""

from __future__ import annotations

from rest_framework import serializers

from ..services.messages import MAX_MESSAGE_CHARS

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
        help_text="Chosen by the client: the same id sent again stores one message.",
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


class ConversationOutput(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    csat_score = serializers.IntegerField(allow_null=True)


class ConversationListOutput(serializers.Serializer):
    conversations = ConversationOutput(many=True)


class CitationOutput(serializers.Serializer):
    n = serializers.IntegerField()
    title = serializers.CharField(allow_null=True)
    url = serializers.CharField(allow_null=True)
    file = serializers.CharField(allow_null=True)
    page = serializers.IntegerField(allow_null=True)


class AttachmentOutput(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    content_type = serializers.CharField()
    size = serializers.IntegerField()


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
