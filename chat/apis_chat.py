"""Tenant REST API, v1: the server-side chat API. A tenant's own backend, with an API key,
opens a conversation for one of its users and sends their messages, answered through the
widget's pipeline (chat.answering: handoff in words, automations, retrieval with
citations, quotas), whole as JSON or streamed as server-sent events.

The key vouches for the user: the contact is the one known under that ``external_id`` on
the widget with a verified identity (the same contact a widget identify call signed with
the widget's identity secret reaches), or a new one. Only API keys call it (a person has
the inbox); only conversations of such identified contacts take messages here, so a key
cannot write in an anonymous visitor's name. The visitor API sees the same conversation.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import UnsupportedMediaType
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from saas.database_outage import is_database_unavailable
from saas.errors import PayloadTooLarge, PermissionDenied, ValidationFailed
from tenants.api_base import ALL_ROLES
from widget_builder.models import Widget

from . import answering
from .apis import CONVERSATION_EXAMPLE, MAX_TEXT, ConversationApiBase, ConversationOutput, _problems, _valid
from .cards import client_id_unreserved
from .models import Conversation
from .selectors import bot_settings_for, message_payload
from .services.attachments import attachment_add
from .services.contacts import contact_for_external_id
from .services.conversations import conversation_start
from .services.messages import visitor_message_send
from .widget_api.attachments import ENVELOPE_BYTES, MAX_ATTACHMENT_MB
from .widget_api.conversations import EVENT_STREAM, event_stream
from .widget_api.selectors import conversation_awaiting_answer, conversation_messages
from .widget_api.serializers import AttachmentInput
from .widget_api.serializers import MessageOutput as VisitorMessageOutput

TAGS = ["chat"]
MAX_CHAT_BODY = 64 * 1024

SSE_DESCRIPTION = (
    "Send the user's message and get the bot's answer, through the widget's pipeline "
    "(a request for a person in words hands the conversation off; automations; retrieval with "
    "citations; the plan's AI-answer quota).\n\n"
    "As JSON (the default): the stored message with `answer` once the answer is complete: 201, "
    "or 200 when this `client_message_id` was already stored (the same message and answer).\n\n"
    "As server-sent events (`Accept: text/event-stream`, 200), in this order:\n"
    "1. `message`: the stored user message (`{seq, role, text, ...}`);\n"
    "2. `typing` (`{}`): the bot is writing (not sent when no provider is called: a handoff, "
    "an automation, the quota spent);\n"
    "3. `delta` (`{text}`), any number of them: the answer as it is written;\n"
    "4. `done` (`{message, handoff, outcome, status?}`): the stored answer; `outcome` says how it "
    "was made (`answered`, `no_answer`, `automation`, `handoff`, `over_quota`, `error`, ...), "
    "`handoff` whether to offer a person, `status: waiting` when the user asked for one; "
    "or instead `pending` (`{}`) when the same message is already being answered (read the "
    "conversation's messages with `GET`, `after` the user message's `seq`), or `error` (problem "
    "details) when the service failed mid-way."
)


class ChatStartInput(serializers.Serializer):
    widget_id = serializers.IntegerField(min_value=1, help_text="The widget whose bot answers.")
    external_id = serializers.CharField(max_length=200, help_text="Your user's id in your own system.")
    name = serializers.CharField(max_length=120, required=False, allow_blank=True)
    email = serializers.EmailField(required=False, allow_blank=True)


class ChatMessageInput(serializers.Serializer):
    text = serializers.CharField(max_length=MAX_TEXT, trim_whitespace=True)
    client_message_id = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        validators=[client_id_unreserved],
        help_text="Your id for this message: sent again (a retry), it is stored and answered once.",
    )


class ChatConversationOutput(ConversationOutput):
    contact_external_id = serializers.CharField(source="contact.external_id")
    messages = serializers.SerializerMethodField(help_text="The widget's greeting, if it has one.")

    def get_messages(self, conversation: Conversation) -> list[dict[str, Any]]:
        greeting = self.context.get("greeting")
        return [message_payload(greeting)] if greeting is not None else []


class ChatAnswerOutput(serializers.Serializer):
    message = serializers.DictField(help_text="The stored answer: seq, role, text, citations, ...")
    handoff = serializers.BooleanField(help_text="Offer the user a person.")
    outcome = serializers.CharField(help_text="How the answer was made: answered, no_answer, handoff, ...")


class ChatMessageOutput(serializers.Serializer):
    seq = serializers.IntegerField()
    role = serializers.CharField()
    text = serializers.CharField()
    answer = ChatAnswerOutput(allow_null=True, help_text="Null when a person has the conversation.")


class ChatMessageListOutput(serializers.Serializer):
    messages = serializers.ListField(
        child=serializers.DictField(), help_text="What your user may see, oldest first: never private notes."
    )
    status = serializers.ChoiceField(choices=Conversation.Status.choices)
    awaiting_answer_after = serializers.IntegerField(
        allow_null=True, help_text="The number of the message whose answer is being written now, if any."
    )


class ChatAfterInput(serializers.Serializer):
    after = serializers.IntegerField(min_value=0, default=0)


class ChatApiBase(ConversationApiBase):
    """API keys only (either role): the key is what vouches for the user's identity."""

    required_roles = {"GET": ALL_ROLES, "POST": ALL_ROLES}
    max_body_bytes = MAX_CHAT_BODY

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # Problem details are JSON even when the client accepts an event stream.
        return (JSONRenderer(), JSONRenderer.media_type)

    def key_required(self) -> None:
        if not self.is_api_key:
            raise PermissionDenied("The chat API is for your server, with an API key.")


class ChatConversationStartApi(ChatApiBase):
    @extend_schema(
        operation_id="chat_conversations_create",
        tags=TAGS,
        description="Open a conversation for one of your users (API keys only). The contact is "
        "the one known under `external_id` on this widget with a verified identity, or a new one; "
        "`name` and `email` update it. The answer carries the widget's greeting, if any.",
        request=ChatStartInput,
        responses={
            201: OpenApiResponse(ChatConversationOutput, description="Opened."),
            **_problems(401, 403, _422="`widget_id` names no widget here, or a field is not valid."),
        },
        examples=[
            OpenApiExample(
                "A user of yours",
                value={"widget_id": 1, "external_id": "user-42", "name": "Ada", "email": "ada@example.com"},
                request_only=True,
            ),
            OpenApiExample(
                "Opened",
                value={
                    **CONVERSATION_EXAMPLE,
                    "status": "bot",
                    "assignee_user_id": None,
                    "assigned_at": None,
                    "last_seq": 1,
                    "agent_read_seq": 0,
                    "visitor_read_seq": 0,
                    "handoff_requested_at": None,
                    "contact_external_id": "user-42",
                    "messages": [
                        {
                            "seq": 1,
                            "role": "bot",
                            "text": "Hi! How can I help you today?",
                            "citations": [],
                            "attachments": [],
                            "created_at": "2026-01-06T14:01:00+00:00",
                            "client_message_id": "",
                            "feedback": None,
                            "author_name": "",
                        }
                    ],
                },
                response_only=True,
                status_codes=["201"],
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        self.key_required()
        data = _valid(ChatStartInput(data=request.data))
        widget = self.tenant_queryset(Widget).filter(pk=data["widget_id"]).first()
        if widget is None:
            error = {"code": "does_not_exist", "message": "No widget with this id in this workspace."}
            raise ValidationFailed(errors={"widget_id": [error]})
        contact = contact_for_external_id(
            widget=widget,
            external_id=data["external_id"],
            name=data.get("name", ""),
            email=data.get("email", ""),
        )
        conversation, greeting = conversation_start(widget=widget, contact=contact, prechat_checked=False)
        output = ChatConversationOutput(conversation, context={"greeting": greeting})
        return Response(output.data, status=status.HTTP_201_CREATED)


class ChatMessageSendApi(ChatApiBase):
    lookup_url_kwarg = "conversation_id"

    def narrow_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        identified = queryset.filter(contact__identity_verified=True).exclude(contact__external_id="")
        return identified.select_related("contact", "widget")

    @extend_schema(
        operation_id="chat_messages_list",
        tags=TAGS,
        description="What your user may see of the conversation (never private notes), oldest "
        "first, after the number `after`: to relay an agent's replies, or an answer that was "
        "`pending`.",
        parameters=[
            OpenApiParameter("after", int, required=False, description="Only messages after this one.")
        ],
        responses={200: ChatMessageListOutput, **_problems(401, 403, 404, 422)},
        examples=[
            OpenApiExample(
                "Messages",
                value={
                    "messages": [{"seq": 3, "role": "agent", "text": "Hi, Sam here.", "citations": []}],
                    "status": "agent",
                    "awaiting_answer_after": None,
                },
                response_only=True,
            )
        ],
    )
    def get(self, request: Request, conversation_id: int) -> Response:
        self.key_required()
        after = _valid(ChatAfterInput(data=request.query_params.dict()))["after"]
        conversation = self.get_object()
        return Response(
            {
                "messages": [
                    message_payload(m) for m in conversation_messages(conversation=conversation, after=after)
                ],
                "status": conversation.status,
                "awaiting_answer_after": conversation_awaiting_answer(conversation),
            }
        )

    @extend_schema(
        operation_id="chat_messages_create",
        tags=TAGS,
        description=SSE_DESCRIPTION,
        request=ChatMessageInput,
        responses={
            (201, "application/json"): OpenApiResponse(ChatMessageOutput, description="Stored and answered."),
            (200, "application/json"): OpenApiResponse(
                ChatMessageOutput, description="This client_message_id was already stored (the same answer)."
            ),
            (200, EVENT_STREAM): OpenApiResponse(OpenApiTypes.STR, description="The answer as events."),
            **_problems(
                401,
                403,
                _404="No conversation opened through this API with this id (`not_found`).",
                _409="The conversation is resolved (`conversation_closed`): open a new one.",
                _422="The text is empty or too long, or the client_message_id was used for another "
                "text (`validation_error`, `client_message_id_reused`).",
            ),
        },
        examples=[
            OpenApiExample("A question", value={"text": "Where is my order?"}, request_only=True),
            OpenApiExample(
                "Answered",
                value={
                    "seq": 2,
                    "role": "visitor",
                    "text": "Where is my order?",
                    "answer": {
                        "message": {
                            "seq": 3,
                            "role": "bot",
                            "text": "It ships tomorrow [1].",
                            "citations": [],
                        },
                        "handoff": False,
                        "outcome": "answered",
                    },
                },
                response_only=True,
                status_codes=["201", "200"],
            ),
            OpenApiExample(
                "Streamed",
                value='event: message\ndata: {"seq": 2, "role": "visitor", "text": "Where is my order?"}\n\n'
                "event: typing\ndata: {}\n\n"
                'event: delta\ndata: {"text": "It ships"}\n\n'
                'event: done\ndata: {"message": {"seq": 3, "role": "bot", "text": "It ships tomorrow."}, '
                '"handoff": false, "outcome": "answered"}\n\n',
                response_only=True,
                status_codes=["200"],
                media_type=EVENT_STREAM,
            ),
        ],
    )
    def post(self, request: Request, conversation_id: int) -> Any:
        self.key_required()
        data = _valid(ChatMessageInput(data=request.data))
        conversation = self.get_object()
        message, created = visitor_message_send(
            conversation=conversation,
            text=data["text"],
            client_message_id=data.get("client_message_id") or None,
        )
        try:
            prepared = answering.answer_prepare(
                tenant=self.tenant,
                conversation=conversation,
                visitor_message=message,
                contact=conversation.contact,
                just_stored=created,
            )
        except Exception as exc:  # stored, then the database went away: answered once it is back
            if is_database_unavailable(exc):
                answering.answer_owe(
                    schema=self.tenant.schema_name,
                    tenant_id=self.tenant.pk,
                    conversation_id=conversation.pk,
                    visitor_message_id=message.pk,
                )
            raise
        answering.connection_release()  # not held while the provider answers
        if EVENT_STREAM in request.headers.get("Accept", ""):
            first = [("message", message_payload(message))]
            return event_stream(answering.answer_stream_bytes(prepared, first=first))
        result = answering.answer_collect(prepared)
        return Response(
            {**message_payload(message), "answer": result["final"]},
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class ChatAttachedOutput(VisitorMessageOutput):
    """The stored message carrying the file, as your user (and the widget) sees it."""


ATTACHED_EXAMPLE = {
    "seq": 4,
    "role": "visitor",
    "text": "Our stock",
    "citations": [],
    "attachments": [
        {
            "id": "0b6f3c9a-5d2e-4f71-8a43-9e1c7d2b5f60",
            "name": "stock.csv",
            "content_type": "text/plain",
            "size": 48213,
            "removed": False,
            "context_status": "ready",
            "context_error": "",
        }
    ],
    "created_at": "2026-12-04T10:01:30.000000Z",
    "client_message_id": "",
    "feedback": None,
    "author_name": "",
    "card": None,
}


class ChatAttachmentUploadApi(ChatApiBase):
    """Your user's file, attached to their conversation as the widget does it (the same
    checks of size and type; read as the conversation's context when the bot reads files)."""

    lookup_url_kwarg = "conversation_id"
    parser_classes = [MultiPartParser, FormParser]
    max_body_bytes = MAX_ATTACHMENT_MB * 1024 * 1024 + ENVELOPE_BYTES

    def narrow_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        identified = queryset.filter(contact__identity_verified=True).exclude(contact__external_id="")
        return identified.select_related("contact", "widget")

    @extend_schema(
        operation_id="chat_attachments_create",
        tags=TAGS,
        description="Attach your user's file (multipart `file`, optional `text` caption) to the "
        "conversation, within the bot's attachment kinds and size. When the bot reads files "
        "(`files_as_context`), a CSV, JSON, text, Markdown or PDF file becomes this conversation's "
        "context: the attachment's `context_status` says `ready`, or `failed` with `context_error` "
        "(the file is attached all the same). Ask about it with a message (docs/files.md).",
        request={"multipart/form-data": AttachmentInput},
        examples=[
            OpenApiExample("Attached", value=ATTACHED_EXAMPLE, response_only=True, status_codes=["201"])
        ],
        responses={
            201: ChatAttachedOutput,
            **_problems(
                401,
                403,
                _404="No conversation opened through this API with this id (`not_found`).",
                _409="The conversation is resolved (`conversation_closed`): open a new one.",
                _413="The file is larger than the bot accepts (`payload_too_large`).",
                _422="No file, or a kind of file this bot does not accept (`validation_error`, "
                "`attachment_refused`).",
            ),
        },
    )
    def post(self, request: Request, conversation_id: int) -> Response:
        self.key_required()
        if request.content_type.split(";")[0].strip() != "multipart/form-data":
            # Refused unread, before any lookup: a file comes as multipart only.
            raise UnsupportedMediaType(request.content_type)
        conversation = self.get_object()
        bot = bot_settings_for(conversation.widget)
        if (
            int(request.headers.get("Content-Length") or 0)
            > bot.attachment_max_mb * 1024 * 1024 + ENVELOPE_BYTES
        ):
            raise PayloadTooLarge(f"Attach files of at most {bot.attachment_max_mb} MB.")
        data = _valid(AttachmentInput(data=request.data))
        message = attachment_add(
            conversation=conversation,
            upload=data["file"],
            text=data["text"],
            kinds=bot.attachment_kinds,
            max_mb=bot.attachment_max_mb,
            as_context=bot.files_as_context,
        )
        return Response(message_payload(message), status=status.HTTP_201_CREATED)
