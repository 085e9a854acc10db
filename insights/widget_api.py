"""The widget's report of how long a streamed answer took where the visitor is (public
host, by widget key, the visitor's token): ``POST .../messages/<seq>/timing``.

Built on the visitor API's views (``chat.widget_api``): the same token, origin check,
throttles and problem details; documented in the widget API's OpenAPI document
(``saas.urls_widget_api``). The runtime (``widget_builder/runtime/chat.js``) is its one client.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from chat.widget_api.base import ConversationView
from chat.widget_api.selectors import conversation_answer
from saas.errors import NotFound
from widget_builder.public_api import problem_responses

from .services import MAX_REPORTED_MS, answer_timing_report


class TimingInput(serializers.Serializer):
    first_token_ms = serializers.IntegerField(
        min_value=0, max_value=MAX_REPORTED_MS, help_text="From sending to the answer's first words."
    )
    full_ms = serializers.IntegerField(
        min_value=0, max_value=MAX_REPORTED_MS, help_text="From sending to the answer's end."
    )


class TimingOutput(serializers.Serializer):
    """The timing kept for the answer: the first report's (a repeat changes nothing)."""

    seq = serializers.IntegerField()
    first_token_ms = serializers.IntegerField()
    full_ms = serializers.IntegerField(help_text="Never below ``first_token_ms``.")


class AnswerTimingApi(ConversationView):
    """The first report for an answer counts; a repeat is answered the same and changes nothing."""

    max_body_bytes = 256

    @extend_schema(
        operation_id="answer_timing_report",
        tags=["answer timings"],
        request=TimingInput,
        responses={
            200: TimingOutput,
            **problem_responses(
                401, 403, 422, 429, 503, described={404: "No such answer in the visitor's conversation."}
            ),
        },
        examples=[
            OpenApiExample("Measured", value={"first_token_ms": 420, "full_ms": 1800}, request_only=True),
            OpenApiExample(
                "Kept",
                value={"seq": 3, "first_token_ms": 420, "full_ms": 1800},
                response_only=True,
                status_codes=["200"],
            ),
        ],
    )
    def post(self, request: Request, widget_key: str, conversation_id: int, seq: int) -> Response:
        conversation = self.conversation(conversation_id)
        data = TimingInput(data=request.data)
        data.is_valid(raise_exception=True)
        message = conversation_answer(conversation=conversation, seq=seq)
        if message is None:
            raise NotFound("No such answer.")
        timing = answer_timing_report(message=message, **data.validated_data)
        return Response({"seq": seq, "first_token_ms": timing.first_token_ms, "full_ms": timing.full_ms})
