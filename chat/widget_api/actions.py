"""What a visitor does around answers: feedback on one, closing and rating the
conversation, asking for a person, having the transcript emailed."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from saas.errors import NotFound
from saas.request_body import NO_BODY_BYTES
from widget_builder.public_api import problem_responses

from ..selectors import message_payload
from ..services.conversations import (
    conversation_close,
    conversation_handoff,
    conversation_rate,
    conversation_transcript_request,
)
from ..services.messages import message_feedback
from . import examples as ex
from .base import ConversationView
from .selectors import conversation_answer
from .serializers import (
    ConversationStateOutput,
    FeedbackInput,
    FeedbackOutput,
    HandoffOutput,
    RatingInput,
    TranscriptOutput,
)
from .throttles import TRANSCRIPT_THROTTLES

TAGS = ["visitor actions"]
NOT_YOURS = "Not the visitor's conversation (`not_found`)."
CLOSED_STATE = {"status": "closed", "last_seq": 3, "csat_score": None, "attachments": ex.ATTACHMENT_RULES}


class MessageFeedbackApi(ConversationView):
    """Thumbs up or down (with an optional comment) on one bot answer; sent again, it
    replaces the previous feedback."""

    @extend_schema(
        operation_id="message_feedback",
        tags=TAGS,
        request=FeedbackInput,
        responses={
            200: FeedbackOutput,
            **problem_responses(
                401, 403, 422, 429, 503, described={404: "No such answer in the visitor's conversation."}
            ),
        },
        examples=[
            ex.request_example(
                "Thumbs down", {"rating": "down", "comment": "It did not answer my question."}
            ),
            ex.response_example("Recorded", {"seq": 3, "feedback": -1}),
        ],
    )
    def post(self, request, widget_key: str, conversation_id: int, seq: int):
        conversation = self.conversation(conversation_id)
        data = FeedbackInput(data=request.data)
        data.is_valid(raise_exception=True)
        message = conversation_answer(conversation=conversation, seq=seq)
        if message is None:
            raise NotFound("No such answer.")
        message = message_feedback(
            message=message,
            rating=1 if data.validated_data["rating"] == "up" else -1,
            comment=data.validated_data["comment"],
        )
        return Response({"seq": message.seq, "feedback": message.feedback_rating})


class ConversationCloseApi(ConversationView):
    """The visitor ends the conversation; the widget then asks for a rating."""

    max_body_bytes = NO_BODY_BYTES

    @extend_schema(
        operation_id="conversation_close",
        tags=TAGS,
        request=None,
        responses={
            200: ConversationStateOutput,
            **problem_responses(401, 403, 429, 503, described={404: NOT_YOURS}),
        },
        examples=[ex.response_example("Closed", CLOSED_STATE), ex.NOT_YOURS],
    )
    def post(self, request, widget_key: str, conversation_id: int):
        conversation = conversation_close(conversation=self.conversation(conversation_id))
        return Response(self.conversation_state(conversation))


class ConversationRatingApi(ConversationView):
    """CSAT: 1 to 5 with an optional comment, once the conversation is closed."""

    @extend_schema(
        operation_id="conversation_rate",
        tags=TAGS,
        request=RatingInput,
        responses={
            200: ConversationStateOutput,
            **problem_responses(
                401,
                403,
                422,
                429,
                503,
                described={404: NOT_YOURS, 409: "Close the conversation before rating it (`conflict`)."},
            ),
        },
        examples=[
            ex.request_example("Five stars", {"score": 5, "comment": "Quick and helpful."}),
            ex.response_example("Rated", {**CLOSED_STATE, "csat_score": 5}),
            ex.problem_example(
                "Still open", 409, "conflict", "Conflict", "Close the conversation before rating it."
            ),
        ],
    )
    def post(self, request, widget_key: str, conversation_id: int):
        data = RatingInput(data=request.data)
        data.is_valid(raise_exception=True)
        conversation = conversation_rate(
            conversation=self.conversation(conversation_id), **data.validated_data
        )
        return Response(self.conversation_state(conversation))


class ConversationHandoffApi(ConversationView):
    """The visitor asks for a person: the conversation waits for an agent."""

    max_body_bytes = NO_BODY_BYTES

    @extend_schema(
        operation_id="conversation_handoff",
        tags=TAGS,
        request=None,
        responses={200: HandoffOutput, **problem_responses(401, 403, 429, 503, described={404: NOT_YOURS})},
        examples=[
            ex.response_example(
                "Waiting for a person",
                {
                    "status": "waiting",
                    "last_seq": 4,
                    "csat_score": None,
                    "attachments": ex.ATTACHMENT_RULES,
                    "messages": [
                        {
                            **ex.GREETING,
                            "seq": 4,
                            "role": "system",
                            "text": "A member of the team will be with you shortly.",
                            "created_at": "2026-12-04T10:02:00+00:00",
                        }
                    ],
                },
            )
        ],
    )
    def post(self, request, widget_key: str, conversation_id: int):
        conversation = self.conversation(conversation_id)
        note = conversation_handoff(conversation=conversation)
        return Response(
            {**self.conversation_state(conversation), "messages": [message_payload(note)] if note else []}
        )


def _mask_email(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local[:1]}…@{domain}"


class ConversationTranscriptApi(ConversationView):
    """Email the transcript to the address the visitor gave in the prechat form (or a
    verified identity's); limited per recipient and per visitor."""

    throttles_by_method = {"POST": TRANSCRIPT_THROTTLES}
    max_body_bytes = NO_BODY_BYTES

    @extend_schema(
        operation_id="conversation_transcript",
        tags=TAGS,
        request=None,
        responses={
            202: TranscriptOutput,
            **problem_responses(
                401,
                403,
                429,
                503,
                described={
                    404: NOT_YOURS,
                    409: "No address the transcript may be sent to (`email_unknown`).",
                },
            ),
        },
        examples=[
            ex.response_example("Queued", {"sent_to": "a…@example.com"}, 202),
            ex.problem_example(
                "No address",
                409,
                "email_unknown",
                "We do not know an email address for this visitor",
                "Give your email address in the form first.",
            ),
        ],
    )
    def post(self, request, widget_key: str, conversation_id: int):
        address = conversation_transcript_request(
            conversation=self.conversation(conversation_id), contact=self.contact
        )
        return Response({"sent_to": _mask_email(address)}, status=status.HTTP_202_ACCEPTED)
