"""When nobody is there to answer: whether a person is available (the menu asks before a
conversation exists), the offline form (an address to hear of replies, and a message), and
exchanging the resume link emailed with a reply for a visitor session."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from saas.errors import NotFound
from widget_builder.public_api import WidgetPublicView, problem_responses

from ..models import Conversation
from ..presence import human_available, human_support_enabled
from ..resume_tokens import resume_token_read
from ..services.messages import MAX_MESSAGE_CHARS
from ..services.offline import conversation_offline_message
from . import examples as ex
from .base import ConversationView
from .selectors import visitor_contact, visitor_conversation
from .serializers import SessionOutput
from .sessions import session_body
from .throttles import SessionStartThrottle, _PerVisitor

# --- shapes -------------------------------------------------------------------------------


class HumanAvailabilityOutput(serializers.Serializer):
    enabled = serializers.BooleanField(help_text="The widget offers a person at all.")
    available = serializers.BooleanField(help_text="Someone can answer now (else: the offline form).")


class AvailabilityOutput(serializers.Serializer):
    human = HumanAvailabilityOutput()


class OfflineMessageInput(serializers.Serializer):
    email = serializers.EmailField(max_length=254, help_text="Where replies are emailed while you are away.")
    message = serializers.CharField(
        max_length=MAX_MESSAGE_CHARS, required=False, allow_blank=True, default="", trim_whitespace=True
    )


class OfflineMessageOutput(serializers.Serializer):
    email = serializers.EmailField()
    status = serializers.CharField()
    last_seq = serializers.IntegerField()


class ResumeInput(serializers.Serializer):
    resume = serializers.CharField(max_length=2000, help_text="The token from the emailed link's `#resume=`.")


class ResumeOutput(SessionOutput):
    conversation_id = serializers.IntegerField()


# --- limits -------------------------------------------------------------------------------


class OfflineMessageThrottle(_PerVisitor):
    """Offline messages per visitor (each one emails the team)."""

    scope, period_s = "chat-offline-messages", 3600
    limits_setting, limit_name = "CHAT_RATE_LIMITS", "offline_messages_per_hour"


# --- views --------------------------------------------------------------------------------


class AvailabilityApi(WidgetPublicView):
    """Whether "Talk to a person" can promise an answer now. No visitor token needed."""

    @extend_schema(
        operation_id="availability",
        tags=["widget"],
        responses={200: AvailabilityOutput, **problem_responses(403, 404, 429, 503)},
        examples=[
            ex.response_example("Someone can answer", {"human": {"enabled": True, "available": True}}),
            ex.response_example("After hours", {"human": {"enabled": True, "available": False}}),
        ],
    )
    def get(self, request, widget_key: str):
        enabled = human_support_enabled(self.widget)
        available = enabled and human_available(self.widget)
        return Response({"human": {"enabled": enabled, "available": available}})


class OfflineMessageApi(ConversationView):
    """Nobody is available: leave an address to hear of replies by email, and a message.
    The conversation goes to the team (if the bot still had it) and the team is emailed."""

    throttles_by_method = {"POST": [OfflineMessageThrottle]}

    @extend_schema(
        operation_id="offline_message",
        tags=["visitor actions"],
        request=OfflineMessageInput,
        responses={
            201: OfflineMessageOutput,
            **problem_responses(
                401,
                403,
                422,
                429,
                503,
                described={
                    404: "Not the visitor's conversation (`not_found`).",
                    409: "The conversation is closed (`conversation_closed`).",
                },
            ),
        },
        examples=[
            ex.request_example(
                "Address and message",
                {"email": "ada@example.com", "message": "Please call me back tomorrow."},
            ),
            ex.response_example(
                "Left", {"email": "ada@example.com", "status": "waiting", "last_seq": 5}, 201
            ),
        ],
    )
    def post(self, request, widget_key: str, conversation_id: int):
        conversation = self.conversation(conversation_id)
        data = OfflineMessageInput(data=request.data)
        data.is_valid(raise_exception=True)
        conversation, _ = conversation_offline_message(
            conversation=conversation,
            email=data.validated_data["email"],
            message=data.validated_data["message"],
        )
        return Response(
            {
                "email": conversation.notify_email,
                "status": conversation.status,
                "last_seq": conversation.last_seq,
            },
            status=status.HTTP_201_CREATED,
        )


class SessionResumeApi(WidgetPublicView):
    """Exchange the resume link emailed with a reply for a visitor session in the same
    conversation (from any browser). Limited like new sessions."""

    throttle_classes = [*WidgetPublicView.throttle_classes, SessionStartThrottle]

    @extend_schema(
        operation_id="session_resume",
        tags=["sessions"],
        request=ResumeInput,
        responses={
            200: ResumeOutput,
            **problem_responses(
                422,
                429,
                503,
                described={
                    401: "The link is forged or damaged (`resume_token_invalid`) or expired "
                    "(`resume_token_expired`).",
                    403: "This site's origin is not allowed (`origin_not_allowed`), or the link is for "
                    "another widget (`resume_token_other_widget`).",
                    404: "No widget has this key, or the conversation is gone (`not_found`).",
                },
            ),
        },
        examples=[
            ex.request_example(
                "From the emailed link", {"resume": "eyJzIjoiYWNtZSIsImMiOjQyfQ.c2lnbmF0dXJl"}
            ),
            ex.response_example("Resumed", {**ex.SESSION, "conversation_id": 42}),
            ex.problem_example(
                "Expired link",
                401,
                "resume_token_expired",
                "The resume link has expired",
                "Start a new conversation from the widget.",
            ),
        ],
    )
    def post(self, request, widget_key: str):
        data = ResumeInput(data=request.data)
        data.is_valid(raise_exception=True)
        resume = resume_token_read(
            data.validated_data["resume"], schema=self.tenant.schema_name, widget_id=self.widget.pk
        )
        contact = visitor_contact(widget=self.widget, public_id=resume.contact_public_id)
        conversation: Conversation | None = None
        if contact is not None:
            conversation = visitor_conversation(
                widget=self.widget, contact=contact, conversation_id=resume.conversation_id
            )
        if contact is None or conversation is None:
            raise NotFound("This conversation is gone.")
        return Response(
            {**session_body(self.tenant, self.widget, contact), "conversation_id": conversation.pk}
        )
