"""The visitor's conversations and their messages, with answers as server-sent events."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from saas import shutdown
from saas.api_pages import page_of, page_parameters, valid_query
from saas.database_outage import is_database_unavailable, stream_until_outage
from saas.errors import NotFound
from saas.observability.metrics import connection_counted
from saas.request_body import NO_BODY_BYTES
from widget_builder.public_api import problem_responses

from .. import answering
from ..selectors import message_payload
from ..services.conversations import conversation_rename, conversation_start, conversation_visitor_delete
from ..services.messages import visitor_message_send
from . import examples as ex
from .base import ConversationView, VisitorView
from .selectors import (
    conversation_awaiting_answer,
    conversation_messages,
    visitor_conversation_summary,
    visitor_conversations,
)
from .serializers import (
    ConversationListOutput,
    ConversationOpenOutput,
    ConversationOutput,
    ConversationPageInput,
    ConversationRenameInput,
    ConversationStartOutput,
    MessageInput,
    MessageListOutput,
    MessageSentOutput,
)
from .throttles import MESSAGE_THROTTLES, ConversationEditThrottle

TAGS = ["conversations"]
# A message is at most 4,000 characters; a body far larger is refused before it is parsed.
MAX_MESSAGE_BODY = 64 * 1024
# A title is at most 120 characters (480 bytes of UTF-8, more when escaped in JSON).
MAX_TITLE_BODY = 2048
NOT_YOURS = "Not the visitor's conversation (`not_found`)."

EVENT_STREAM = "text/event-stream"
SEND_DESCRIPTION = (
    "Send a visitor message and get the answer. With `Accept: text/event-stream` the answer "
    "streams as server-sent events: `message` (the stored visitor message), `typing`, `delta` "
    "(`{text}`) as the answer is written, then `done` (`{message, handoff, outcome}`, the stored "
    "answer; with `status: waiting` when the visitor asked for a person in words), or `pending` "
    "when the same message is already being answered (poll the messages "
    "with `after`). A web process shutting down lets the answer finish, then sends `reconnect` "
    "(`retry:` hint in milliseconds): nothing is wrong, open the live events again at once; an "
    "answer it could not finish in its grace period ends the stream with `reconnect` and no "
    "`done`, and comes as a message (poll while `awaiting_answer_after` says one is coming). "
    "Otherwise the JSON answer comes when the answer is complete: 201, or 200 when "
    "this `client_message_id` was already stored (the same message and answer)."
)


class ConversationListApi(VisitorView):
    """The visitor's own conversations, newest first; POST starts one."""

    max_body_bytes = NO_BODY_BYTES

    @extend_schema(
        operation_id="conversations_list",
        tags=TAGS,
        description="The visitor's own conversations, newest activity first, a page at a time "
        "(`cursor` from the previous page's `next_cursor`): each with its title, the last message "
        "(cut), its status and how many agents' messages the visitor has not read.",
        parameters=page_parameters(ConversationPageInput),
        responses={
            200: ConversationListOutput,
            **problem_responses(
                401, 403, 404, 429, 503, described={422: "A bad `cursor` or `limit` (`validation_error`)."}
            ),
        },
        examples=[
            ex.response_example(
                "One conversation", {"conversations": [ex.CONVERSATION], "next_cursor": None}
            ),
            ex.problem_example(
                "Bad cursor",
                422,
                "validation_error",
                "Validation failed",
                "Some parameters are not valid.",
            ),
        ],
    )
    def get(self, request, widget_key: str):
        query = {**valid_query(ConversationPageInput, request), "ordering": "-updated_at"}
        page, next_cursor = page_of(visitor_conversations(widget=self.widget, contact=self.contact), query)
        return Response(
            {"conversations": ConversationOutput(page, many=True).data, "next_cursor": next_cursor}
        )

    @extend_schema(
        operation_id="conversation_start",
        tags=TAGS,
        description="Start a conversation; the answer carries the widget's greeting, if any.",
        request=None,
        responses={
            201: ConversationStartOutput,
            **problem_responses(
                401,
                403,
                404,
                429,
                503,
                described={409: "Submit the prechat form first (`prechat_required`)."},
            ),
        },
        examples=[
            ex.response_example(
                "With a greeting",
                {
                    **ex.NEW_CONVERSATION,
                    "last_seq": 1,
                    "attachments": ex.ATTACHMENT_RULES,
                    "messages": [ex.GREETING],
                },
                201,
            ),
            ex.problem_example(
                "Form first",
                409,
                "prechat_required",
                "The prechat form comes first",
                "Submit the prechat form first.",
            ),
        ],
    )
    def post(self, request, widget_key: str):
        conversation, greeting = conversation_start(widget=self.widget, contact=self.contact)
        summary = visitor_conversation_summary(
            widget=self.widget, contact=self.contact, conversation_id=conversation.pk
        )
        return Response(
            {
                **ConversationOutput(summary).data,
                **self.conversation_state(conversation),
                "messages": [message_payload(greeting)] if greeting else [],
            },
            status=status.HTTP_201_CREATED,
        )


class ConversationApi(ConversationView):
    """One of the visitor's conversations: open it (its summary, state and messages), rename
    it, or delete it for good (the visitor's own erasure: messages, attachments and their
    files; recorded in the workspace's audit log without personal data)."""

    max_body_bytes = MAX_TITLE_BODY
    throttles_by_method = {"PATCH": [ConversationEditThrottle], "DELETE": [ConversationEditThrottle]}

    def summary(self, conversation_id: int):
        summary = visitor_conversation_summary(
            widget=self.widget, contact=self.contact, conversation_id=conversation_id
        )
        if summary is None:
            raise NotFound("No such conversation.")
        summary.widget = self.widget  # the same row, already read: not read again
        return summary

    @extend_schema(
        operation_id="conversation_open",
        tags=TAGS,
        description="Open one of the visitor's conversations: its summary (as listed), its state "
        "and its messages, oldest first (`messages?after=` for what comes later).",
        responses={
            200: ConversationOpenOutput,
            **problem_responses(401, 403, 429, 503, described={404: NOT_YOURS}),
        },
        examples=[
            ex.response_example(
                "Opened",
                {
                    **ex.CONVERSATION,
                    "last_seq": 3,
                    "attachments": ex.ATTACHMENT_RULES,
                    "messages": [ex.GREETING, ex.QUESTION, ex.ANSWER],
                    "awaiting_answer_after": None,
                },
            ),
            ex.NOT_YOURS,
        ],
    )
    def get(self, request, widget_key: str, conversation_id: int):
        conversation = self.summary(conversation_id)
        messages = conversation_messages(conversation=conversation, after=0)
        return Response(
            {
                **ConversationOutput(conversation).data,
                **self.conversation_state(conversation),
                "messages": [message_payload(m) for m in messages],
                "awaiting_answer_after": conversation_awaiting_answer(conversation),
            }
        )

    @extend_schema(
        operation_id="conversation_rename",
        tags=TAGS,
        description="Give the conversation the visitor's own title (empty: the default again).",
        request=ConversationRenameInput,
        responses={
            200: ConversationOutput,
            **problem_responses(
                401,
                403,
                413,
                429,
                503,
                described={404: NOT_YOURS, 422: "No title, or a title too long (`validation_error`)."},
            ),
        },
        examples=[
            ex.request_example("A title", {"title": "Shipping to Canada"}),
            ex.response_example(
                "Renamed", {**ex.CONVERSATION, "title": "Shipping to Canada", "title_source": "custom"}
            ),
            ex.NOT_YOURS,
        ],
    )
    def patch(self, request, widget_key: str, conversation_id: int):
        data = ConversationRenameInput(data=request.data)
        data.is_valid(raise_exception=True)
        conversation = conversation_rename(
            conversation=self.summary(conversation_id), title=data.validated_data["title"]
        )
        return Response(ConversationOutput(conversation).data)

    @extend_schema(
        operation_id="conversation_delete",
        tags=TAGS,
        description="Delete the conversation for good, with its messages, attachments and their "
        "stored files. The workspace's audit log records that a visitor deleted a conversation "
        "(its number and counts, nothing the visitor wrote).",
        request=None,
        responses={204: None, **problem_responses(401, 403, 429, 503, described={404: NOT_YOURS})},
        examples=[ex.NOT_YOURS],
    )
    def delete(self, request, widget_key: str, conversation_id: int):
        conversation_visitor_delete(conversation=self.conversation(conversation_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


def _after(value: str) -> int:
    return int(value) if value.isascii() and value.isdigit() and len(value) < 10 else 0


class ConversationMessagesApi(ConversationView):
    """The visitor's messages in one of their conversations (``?after=<seq>`` for what is
    new), and sending one.

    Sending with ``Accept: text/event-stream`` answers with server-sent events: the stored
    visitor message (``message``), ``typing``, the answer's ``delta`` events as the provider
    sends them, then ``done`` with the stored answer (or ``pending`` when the same message is
    already being answered: poll with ``?after``). A JSON send answers when the answer is
    complete, with the visitor message and ``answer``.
    """

    throttles_by_method = {"POST": MESSAGE_THROTTLES}
    max_body_bytes = MAX_MESSAGE_BODY

    def perform_content_negotiation(self, request, force=False):
        # Problem details and lists are JSON even when the client accepts an event stream.
        return (JSONRenderer(), JSONRenderer.media_type)

    @extend_schema(
        operation_id="messages_list",
        tags=TAGS,
        description="The visitor's messages in this conversation, oldest first (`after` for what is "
        "new since a number the widget saw), with the conversation's state.",
        parameters=[
            OpenApiParameter(
                "after", int, description="Only messages numbered after this one.", required=False
            )
        ],
        responses={200: MessageListOutput, **problem_responses(401, 403, 404, 429, 503)},
        examples=[
            ex.response_example(
                "A question answered",
                {
                    "status": "bot",
                    "last_seq": 3,
                    "csat_score": None,
                    "attachments": ex.ATTACHMENT_RULES,
                    "messages": [ex.GREETING, ex.QUESTION, ex.ANSWER],
                    "awaiting_answer_after": None,
                },
            ),
            ex.NOT_YOURS,
        ],
    )
    def get(self, request, widget_key: str, conversation_id: int):
        conversation = self.conversation(conversation_id)
        messages = conversation_messages(
            conversation=conversation, after=_after(request.query_params.get("after", "0"))
        )
        return Response(
            {
                "messages": [message_payload(m) for m in messages],
                **self.conversation_state(conversation),
                "awaiting_answer_after": conversation_awaiting_answer(conversation),
            }
        )

    @extend_schema(
        operation_id="message_send",
        tags=TAGS,
        description=SEND_DESCRIPTION,
        request=MessageInput,
        responses={
            (201, "application/json"): OpenApiResponse(MessageSentOutput, description="Stored and answered."),
            (200, "application/json"): OpenApiResponse(
                MessageSentOutput,
                description="The answer as server-sent events (`Accept: text/event-stream`), or this "
                "client message id was already stored (the same message and answer, as JSON).",
            ),
            (200, EVENT_STREAM): OpenApiResponse(OpenApiTypes.STR),
            **problem_responses(
                401,
                403,
                413,
                429,
                503,
                described={
                    404: "Not the visitor's conversation (`not_found`).",
                    409: "The conversation is closed (`conversation_closed`).",
                    422: "The text is empty or too long, or the client message id was used for another "
                    "text (`validation_error`, `client_message_id_reused`).",
                },
            ),
        },
        examples=[
            ex.request_example(
                "A question", {"text": "Do you ship to Canada?", "client_message_id": "c-7f3a"}
            ),
            ex.response_example("Answered", ex.MESSAGE_SENT, 201),
            ex.response_example("Sent again", ex.MESSAGE_SENT, 200),
            OpenApiExample(
                "Streamed",
                value='event: message\ndata: {"seq": 2, "role": "visitor", "text": "Do you ship?"}\n\n'
                'event: delta\ndata: {"text": "Yes, we ship"}\n\n'
                'event: done\ndata: {"message": {"seq": 3, "role": "bot"}, "handoff": false, '
                '"outcome": "answered"}\n\n',
                response_only=True,
                status_codes=["200"],
                media_type=EVENT_STREAM,
            ),
            ex.problem_example(
                "Closed",
                409,
                "conversation_closed",
                "This conversation is closed",
                "Start a new conversation.",
            ),
        ],
    )
    def post(self, request, widget_key: str, conversation_id: int):
        conversation = self.conversation(conversation_id)
        data = MessageInput(data=request.data)
        data.is_valid(raise_exception=True)
        message, created = visitor_message_send(
            conversation=conversation,
            text=data.validated_data["text"],
            client_message_id=data.validated_data.get("client_message_id") or None,
        )
        try:
            prepared = answering.answer_prepare(
                tenant=self.tenant,
                conversation=conversation,
                visitor_message=message,
                contact=self.contact,
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
        first = [("message", message_payload(message))]
        if EVENT_STREAM in request.headers.get("Accept", ""):
            return event_stream(answering.answer_stream_bytes(prepared, first=first))
        result = answering.answer_collect(prepared)
        return Response(
            {**message_payload(message), "answer": result["final"]},
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


def _error_event(problem: dict) -> bytes:
    return f"event: error\ndata: {json.dumps(problem, separators=(',', ':'))}\n\n".encode()


# The last event of a stream a stopping process ends (saas.shutdown): reconnect at once,
# with the last id seen, to another process; nothing is lost (the database is the truth).
# ``retry`` is the standard reconnection hint for EventSource clients (milliseconds).
RECONNECT_RETRY_MS = 500
RECONNECT_EVENT = f'retry: {RECONNECT_RETRY_MS}\nevent: reconnect\ndata: {{"reason":"restart"}}\n\n'.encode()


async def _reconnect_when_stopping(body: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    async for chunk in body:
        yield chunk
    if shutdown.stopping():
        yield RECONNECT_EVENT


def event_stream(body: AsyncIterator[bytes]) -> StreamingHttpResponse:
    """Server-sent events, flushed as produced (no buffering by proxies or compression).
    The database gone mid-stream ends it with an ``error`` event (problem details), no
    traceback; the widget then reads what was stored by polling. A stream that ends in a
    process shutting down ends with ``reconnect``."""
    response = StreamingHttpResponse(
        stream_until_outage(connection_counted("sse", _reconnect_when_stopping(body)), _error_event),
        content_type="text/event-stream; charset=utf-8",
    )
    response["Cache-Control"] = "no-cache, no-store"
    response["X-Accel-Buffering"] = "no"
    return response
