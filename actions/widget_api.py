"""The visitor's answer to an AI action waiting for them (public host, by widget key, the
visitor's token): ``POST .../conversations/<id>/confirmations/<uuid>/confirm`` (a
confirmation card), ``.../submit`` (a form, with the inputs) and ``.../cancel``.

Built on the visitor API's views (``chat.widget_api``): the same token (only the
conversation's own visitor answers), origin check, throttles (a message's) and problem
details; documented in the widget API's OpenAPI document (``saas.urls_widget_api``). The
answer that follows streams like any answer (server-sent events), or comes as JSON. The
runtime (``widget_builder/runtime/chat.js``) is its one client."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from chat import answering
from chat.selectors import message_payload
from chat.widget_api import examples as ex
from chat.widget_api.base import ConversationView
from chat.widget_api.conversations import EVENT_STREAM, event_stream
from chat.widget_api.serializers import MessageSentOutput
from chat.widget_api.throttles import MESSAGE_THROTTLES
from saas.request_body import NO_BODY_BYTES
from widget_builder.public_api import problem_responses

from . import services

TAGS = ["AI actions"]
DESCRIPTION = (
    "The answer that follows comes like a sent message's: with `Accept: text/event-stream`, "
    "server-sent events (`message`: the visitor's answer as their message, `typing`, `delta`, "
    "then `done` with the bot's answer); otherwise JSON when it is complete."
)
SETTLED = {
    **ex.QUESTION,
    "seq": 5,
    "text": "Confirmed: Cancel an order",
    "client_message_id": "card:0b7c6a52-3f0e-4d43-9a55-6a3c1c9f5a10",
    "answer": {
        "message": {**ex.ANSWER, "seq": 6, "text": "Done: order 1042 is cancelled.", "citations": []},
        "handoff": False,
        "outcome": "answered",
    },
}


def _responses(extra: dict[int, str] | None = None) -> dict[Any, Any]:
    return {
        (200, "application/json"): OpenApiResponse(
            MessageSentOutput, description="The visitor's answer as their message, and the bot's answer."
        ),
        (200, EVENT_STREAM): OpenApiResponse(OpenApiTypes.STR),
        **problem_responses(
            401,
            403,
            429,
            503,
            described={
                404: "No such card in the visitor's conversation (`not_found`).",
                409: "Answered already (`confirmation_answered`: one answer per card, whatever the "
                "clicks, tabs or replays), the conversation is closed (`conversation_closed`), or the "
                "card is of the other kind (`conflict`).",
                410: "The card expired (`confirmation_expired`): ask again.",
                **(extra or {}),
            },
        ),
    }


EXAMPLES = [
    ex.response_example("Answered", SETTLED),
    ex.problem_example(
        "Expired",
        410,
        "confirmation_expired",
        "This request has expired",
        "This request has expired. Ask again if you still want it.",
    ),
    ex.problem_example(
        "Answered already",
        409,
        "confirmation_answered",
        "This request was already answered",
        "This was already answered.",
    ),
]


class SubmitInput(serializers.Serializer):
    arguments = serializers.DictField(
        help_text="The form's inputs by name, typed as the form's fields say (text, number, true/false, "
        "one of the options); optional ones left out."
    )


class PendingCallView(ConversationView):
    throttles_by_method = {"POST": MESSAGE_THROTTLES}

    def perform_content_negotiation(self, request, force=False):
        # Problem details and answers are JSON even when the client accepts an event stream.
        return (JSONRenderer(), JSONRenderer.media_type)

    def answered(
        self, request, conversation_id: int, confirmation_id: UUID, decision: str, arguments: Any = None
    ) -> Any:
        conversation = self.conversation(conversation_id)
        decided = services.pending_call_decide(
            conversation=conversation, pending_id=confirmation_id, decision=decision, arguments=arguments
        )
        message = decided.visitor_message
        if decided.reply is not None:  # a form: the result in plain words, no provider
            prepared = answering.Prepared(
                self.tenant.schema_name, self.tenant.pk, conversation.pk, message.pk
            )
            prepared.final = answering.final_payload(decided.reply, offer_handoff=False)
        else:  # a confirmation: the model answers from the result (or the refusal)
            prepared = answering.answer_prepare(
                tenant=self.tenant,
                conversation=conversation,
                visitor_message=message,
                contact=self.contact,
                just_stored=True,
                tool_answered=True,
            )
        answering.connection_release()  # not held while the provider answers
        first = [("message", message_payload(message))]
        if EVENT_STREAM in request.headers.get("Accept", ""):
            return event_stream(answering.answer_stream_bytes(prepared, first=first))
        result = answering.answer_collect(prepared)
        return Response({**message_payload(message), "answer": result["final"]})


class ConfirmApi(PendingCallView):
    """Confirm a confirmation card: the action runs with the inputs the card showed (every
    rule checked again now), and the bot answers from its result."""

    max_body_bytes = NO_BODY_BYTES

    @extend_schema(
        operation_id="confirmation_confirm",
        tags=TAGS,
        description=DESCRIPTION,
        request=None,
        responses=_responses(),
        examples=EXAMPLES,
    )
    def post(self, request, widget_key: str, conversation_id: int, confirmation_id: UUID):
        return self.answered(request, conversation_id, confirmation_id, "confirm")


class SubmitApi(PendingCallView):
    """Send a form (the offline keyword rule): sending it is the visitor's confirmation; the
    action runs with these inputs and the bot answers with its result in plain words."""

    max_body_bytes = 16 * 1024

    @extend_schema(
        operation_id="confirmation_submit",
        tags=TAGS,
        description=DESCRIPTION,
        request=SubmitInput,
        responses=_responses({422: "The inputs do not fit the form, per field (`validation_error`)."}),
        examples=[
            OpenApiExample("A form sent", value={"arguments": {"order_id": "1042"}}, request_only=True),
            *EXAMPLES,
        ],
    )
    def post(self, request, widget_key: str, conversation_id: int, confirmation_id: UUID):
        data = SubmitInput(data=request.data)
        data.is_valid(raise_exception=True)
        return self.answered(
            request, conversation_id, confirmation_id, "submit", data.validated_data["arguments"]
        )


class CancelApi(PendingCallView):
    """Cancel a card (a confirmation or a form): nothing is called, a declined call is
    logged, and the bot says it was not done."""

    max_body_bytes = NO_BODY_BYTES

    @extend_schema(
        operation_id="confirmation_cancel",
        tags=TAGS,
        description=DESCRIPTION,
        request=None,
        responses=_responses(),
        examples=EXAMPLES,
    )
    def post(self, request, widget_key: str, conversation_id: int, confirmation_id: UUID):
        return self.answered(request, conversation_id, confirmation_id, "cancel")
