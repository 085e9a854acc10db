"""The widget's report of how long a streamed answer took where the visitor is (public
host, by widget key, the visitor's token): ``POST .../messages/<seq>/timing``.

Built on the visitor API's views (``chat.widget_api``): the same token, origin check,
throttles and problem details. Not in the widget API's OpenAPI document (chat's routes
only); the runtime (``widget_builder/runtime/chat.js``) is its one client.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from chat.widget_api.base import ConversationView
from chat.widget_api.selectors import conversation_answer
from saas.errors import NotFound

from .services import MAX_REPORTED_MS, answer_timing_report


class TimingInput(serializers.Serializer):
    first_token_ms = serializers.IntegerField(min_value=0, max_value=MAX_REPORTED_MS)
    full_ms = serializers.IntegerField(min_value=0, max_value=MAX_REPORTED_MS)


class AnswerTimingApi(ConversationView):
    """The first report for an answer counts; a repeat is answered the same and changes nothing."""

    max_body_bytes = 256

    @extend_schema(exclude=True)
    def post(self, request: Request, widget_key: str, conversation_id: int, seq: int) -> Response:
        conversation = self.conversation(conversation_id)
        data = TimingInput(data=request.data)
        data.is_valid(raise_exception=True)
        message = conversation_answer(conversation=conversation, seq=seq)
        if message is None:
            raise NotFound("No such answer.")
        timing = answer_timing_report(message=message, **data.validated_data)
        return Response({"seq": seq, "first_token_ms": timing.first_token_ms, "full_ms": timing.full_ms})
