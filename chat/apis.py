"""Tenant REST API, v1 (tenant host, ``/api/v1/``): the workspace's conversations, their
messages (private notes included), replies, notes, assignment and status.

Each view: parse input with its serializer, call ONE service of ``chat.services.inbox``
(the same ones the dashboard inbox calls), render. Rows are scoped by ``TenantAPIView``:
another workspace's conversation id is 404 like an id that does not exist, and so is a
conversation the caller may not see (``InboxSettings.visibility`` "widgets": an agent sees
only the widgets of their ``AgentProfile``, all when it names none).

Who writes, with an API key: a key is no person. Its messages carry the key's name as
``author_name`` (what visitors see) and no ``author_user_id``; ``assignee=me`` means
nothing for a key (422), and a key sees every widget (visibility limits people, a key's
role limits what it may do). Keys have the roles admin or agent; both may use every
endpoint here, like the three roles of people.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import partial
from typing import Any, cast

from django.db.models import Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from saas.api_pages import PageInput, ordering_field, page_of, page_output, page_parameters
from saas.errors import ValidationFailed
from saas.openapi import problems_of
from tenants.api_base import ALL_ROLES, MANAGERS, ApiKeyPrincipal, TenantAPIView
from tenants.models import Membership, User

from .cards import client_id_unreserved
from .inbox import RATING_Q, conversation_search_q
from .models import Conversation, Message
from .presence import visible_widget_ids
from .selectors import message_payload
from .services import conversation_delete, inbox

TAGS = ["conversations"]
MESSAGES_LISTED = 200
MAX_TEXT = 4000

PROBLEMS = {
    401: "Not signed in, or the API key is not valid here (`not_authenticated`).",
    403: "Your role does not allow this (`permission_denied`).",
    404: "No such conversation in this workspace, or not one you may see (`not_found`).",
    409: "The conversation's state does not allow this (`conflict` and the service's codes).",
    422: "Some fields are not valid (`validation_error`, with `errors` per field).",
}


_problems = partial(problems_of, PROBLEMS)


# --- output --------------------------------------------------------------------------------


class ContactOutput(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    name = serializers.CharField()
    email = serializers.CharField()


class ConversationOutput(serializers.Serializer):
    id = serializers.IntegerField()
    widget_id = serializers.IntegerField()
    status = serializers.ChoiceField(
        choices=Conversation.Status.choices,
        help_text="bot, waiting (asked for a person), agent (a person has it), pending (waiting on "
        "the visitor), closed (resolved).",
    )
    title = serializers.CharField(
        help_text="The title the visitor gave it in the widget; empty when they gave none."
    )
    assignee_user_id = serializers.IntegerField(allow_null=True)
    assigned_at = serializers.DateTimeField(allow_null=True)
    snoozed_until = serializers.DateTimeField(allow_null=True)
    contact = ContactOutput(allow_null=True)
    last_seq = serializers.IntegerField(help_text="The newest message's number (notes included).")
    last_message_at = serializers.DateTimeField(allow_null=True)
    agent_read_seq = serializers.IntegerField()
    visitor_read_seq = serializers.IntegerField()
    unread = serializers.SerializerMethodField(help_text="A visitor message no agent has read yet.")
    handoff_requested_at = serializers.DateTimeField(allow_null=True)
    closed_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_unread(self, conversation: Conversation) -> bool:
        return conversation.last_visitor_seq > conversation.agent_read_seq


ConversationPageOutput = page_output("ConversationPageOutput", ConversationOutput)


class MessageOutput(serializers.Serializer):
    seq = serializers.IntegerField()
    role = serializers.ChoiceField(
        choices=Message.Role.choices, help_text="`note`: private, never shown to visitors."
    )
    private = serializers.BooleanField()
    text = serializers.CharField()
    author_user_id = serializers.IntegerField(allow_null=True)
    author_name = serializers.CharField()
    client_message_id = serializers.CharField()
    citations = serializers.ListField(child=serializers.DictField())
    attachments = serializers.ListField(child=serializers.DictField())
    feedback = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()


class MessageListOutput(serializers.Serializer):
    messages = MessageOutput(many=True)
    has_more = serializers.BooleanField(help_text="More follow: ask again with `after` = the last `seq`.")


def _message(message: Message) -> dict[str, Any]:
    return {
        **message_payload(message),
        "private": message.role == Message.Role.NOTE,
        "author_user_id": message.author_user_id,
        "author_name": message.author_name,
        "client_message_id": message.client_message_id,
        "created_at": message.created_at,
    }


CONVERSATION_EXAMPLE = {
    "id": 42,
    "widget_id": 1,
    "status": "agent",
    "title": "Refund for order 1042",
    "assignee_user_id": 7,
    "assigned_at": "2026-01-06T14:03:10Z",
    "snoozed_until": None,
    "contact": {"id": "5b0f7a9e-3c1d-4e55-9a51-0c6f0d7e2a11", "name": "Ada", "email": "ada@example.com"},
    "last_seq": 4,
    "last_message_at": "2026-01-06T14:05:00Z",
    "agent_read_seq": 4,
    "visitor_read_seq": 3,
    "unread": False,
    "handoff_requested_at": "2026-01-06T14:02:45Z",
    "closed_at": None,
    "created_at": "2026-01-06T14:01:00Z",
    "updated_at": "2026-01-06T14:05:00Z",
}
MESSAGE_EXAMPLE = {
    "seq": 4,
    "role": "agent",
    "private": False,
    "text": "Your refund is on its way.",
    "author_user_id": 7,
    "author_name": "Sam",
    "client_message_id": "crm-1234",
    "citations": [],
    "attachments": [],
    "feedback": None,
    "created_at": "2026-01-06T14:05:00Z",
}


def _example(name: str, value: Any, *, request: bool = False) -> OpenApiExample:
    return OpenApiExample(name, value=value, request_only=request, response_only=not request)


PAGE_EXAMPLE = _example(
    "A page", {"results": [CONVERSATION_EXAMPLE], "next_cursor": "WyItdXBkYXRlZF9hdCIsNDJd"}
)
CONVERSATION_EXAMPLES = [_example("A conversation", CONVERSATION_EXAMPLE)]


# --- input ---------------------------------------------------------------------------------


class ConversationFilterInput(PageInput):
    status = serializers.ChoiceField(choices=Conversation.Status.choices, required=False)
    assignee = serializers.RegexField(
        r"^(me|none|[1-9][0-9]{0,9})$",
        required=False,
        error_messages={"invalid": "Use me, none or a user id."},
        help_text="`me`, `none` (unassigned) or a user id.",
    )
    widget = serializers.IntegerField(min_value=1, required=False, help_text="A widget's id.")
    updated_since = serializers.DateTimeField(
        required=False, help_text="RFC 3339; changed at or after this time."
    )
    q = serializers.CharField(
        required=False,
        max_length=200,
        help_text="Full-text search: words in any message (notes included), or a part of the "
        "contact's name or email, as the inbox searches.",
    )
    contact = serializers.UUIDField(required=False, help_text="A contact's id: their conversations only.")
    date_from = serializers.DateField(
        required=False,
        help_text="Last activity (the last message, else the start) on or after this day, UTC.",
    )
    date_to = serializers.DateField(required=False, help_text="Last activity on or before this day (UTC).")
    handoff = serializers.BooleanField(
        required=False, help_text="true: a person was asked for (`handoff_requested_at` set); false: never."
    )
    rating = serializers.ChoiceField(
        choices=tuple(RATING_Q),
        required=False,
        help_text="rated (any CSAT score), good (4-5), bad (1-2), thumbs_down (an answer got a thumbs down).",
    )
    ordering = ordering_field(("updated_at", "created_at", "last_message_at"), default="-updated_at")

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if "date_from" in data and "date_to" in data and data["date_from"] > data["date_to"]:
            raise serializers.ValidationError(
                {"date_to": ["Choose a day on or after date_from."]}, code="invalid"
            )
        return data


class MessageAfterInput(serializers.Serializer):
    after = serializers.IntegerField(min_value=0, default=0)


class MessageInput(serializers.Serializer):
    text = serializers.CharField(max_length=MAX_TEXT, trim_whitespace=True)
    private = serializers.BooleanField(
        default=False, help_text="A private note for the workspace, never shown to the visitor."
    )
    client_message_id = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        validators=[client_id_unreserved],
        help_text="Your id for this reply: sent again (a retry), the reply is stored once.",
    )

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if data.get("private") and data.get("client_message_id"):
            raise serializers.ValidationError(
                {"client_message_id": ["Notes take no client_message_id; it is for replies."]}, code="invalid"
            )
        return data


class AssignInput(serializers.Serializer):
    assignee_user_id = serializers.IntegerField(
        min_value=1, allow_null=True, help_text="A member of the workspace, or null to unassign."
    )


class StatusInput(serializers.Serializer):
    """One change a request: a status, or a snooze."""

    STATUSES = ("open", "pending", "resolved", "bot")
    status = serializers.ChoiceField(
        choices=STATUSES,
        required=False,
        help_text="open (reopens a resolved conversation: its assignee's again, else waiting for a "
        "person; an open one stays as it is), pending (waiting on the visitor), resolved, bot "
        "(handed back to the bot, unassigned).",
    )
    snoozed_until = serializers.DateTimeField(
        required=False,
        help_text="Snooze instead: out of the open views until then, or until the visitor writes; "
        "the status stays as it is. Send it without `status`.",
    )

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if "status" in data and "snoozed_until" in data:
            raise serializers.ValidationError(
                {"snoozed_until": ["Snooze in a request of its own, without status."]}, code="invalid"
            )
        if "status" not in data and "snoozed_until" not in data:
            raise serializers.ValidationError({"status": ["Send status, or snoozed_until."]}, code="required")
        if "snoozed_until" in data and data["snoozed_until"] <= timezone.now():
            raise serializers.ValidationError(
                {"snoozed_until": ["Choose a time in the future."]}, code="invalid"
            )
        return data


def _valid(serializer: serializers.Serializer) -> dict[str, Any]:
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


# --- views ---------------------------------------------------------------------------------


class ConversationApiBase(TenantAPIView):
    """What every conversation endpoint shares: the rows, visibility, and who acts."""

    queryset = Conversation.objects.select_related("contact")
    lookup_url_kwarg = "conversation_id"
    required_roles = {"GET": ALL_ROLES, "POST": ALL_ROLES}

    def narrow_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        widgets = self.visible_widget_ids()
        return queryset if widgets is None else queryset.filter(widget_id__in=widgets)

    def visible_widget_ids(self) -> set[int] | None:
        """The widgets whose conversations the caller sees; None: all of them."""
        user_id = self.request.user.pk
        if self.is_api_key or user_id is None:
            return None
        return visible_widget_ids(user_id=user_id, role=self.actor.role)

    @property
    def is_api_key(self) -> bool:
        return isinstance(self.request.user, ApiKeyPrincipal)

    def acting_user(self) -> User:
        """Who the services record: the signed-in person, or for an API key a stand-in
        with no id whose name is the key's (``inbox.display_name`` reads ``pk`` and
        ``get_full_name()`` only)."""
        if isinstance(self.request.user, ApiKeyPrincipal):
            return cast(User, ApiKeyAuthor(self.request.user.key.name))
        return cast(User, self.request.user)


@dataclass(frozen=True)
class ApiKeyAuthor:
    """An API key as the author of messages and changes: its name, no user id."""

    name: str
    pk: None = None
    email: str = ""

    def get_full_name(self) -> str:
        return self.name


FIELD_FILTERS = {
    "status": "status",
    "widget": "widget_id",
    "updated_since": "updated_at__gte",
    "contact": "contact__public_id",
}


def conversation_filters_q(query: dict[str, Any]) -> Q:
    """The list's filters but ``assignee`` (who asks matters there), as one condition on
    rows annotated with ``last_activity``; ``q`` and ``rating`` are the inbox's own
    (chat.inbox)."""
    condition = Q(**{lookup: query[name] for name, lookup in FIELD_FILTERS.items() if name in query})
    if "date_from" in query:
        condition &= Q(last_activity__gte=datetime.combine(query["date_from"], time.min, UTC))
    if "date_to" in query:
        condition &= Q(
            last_activity__lt=datetime.combine(query["date_to"] + timedelta(days=1), time.min, UTC)
        )
    if "handoff" in query:
        condition &= Q(handoff_requested_at__isnull=not query["handoff"])
    if "rating" in query:
        condition &= RATING_Q[query["rating"]]
    if text := query.get("q", "").strip():
        condition &= conversation_search_q(text)
    return condition


class ConversationListApi(ConversationApiBase):
    @extend_schema(
        operation_id="conversations_list",
        tags=TAGS,
        description="The conversations you may see, most recently updated first unless `ordering` "
        "says otherwise, a page at a time (`cursor` from the previous page's `next_cursor`).",
        parameters=page_parameters(ConversationFilterInput),
        responses={200: ConversationPageOutput, **_problems(401, 403, 404, 422)},
        examples=[PAGE_EXAMPLE],
    )
    def get(self, request: Request) -> Response:
        query = _valid(ConversationFilterInput(data=request.query_params.dict()))
        page, next_cursor = page_of(self.filtered(self.get_queryset(), query), query)
        return Response({"results": ConversationOutput(page, many=True).data, "next_cursor": next_cursor})

    def filtered(self, rows: QuerySet[Any], query: dict[str, Any]) -> QuerySet[Any]:
        rows = rows.annotate(last_activity=Coalesce("last_message_at", "created_at"))
        rows = rows.filter(conversation_filters_q(query))
        assignee = query.get("assignee")
        if assignee == "me":
            if self.is_api_key:
                raise ValidationFailed(
                    errors={"assignee": [{"code": "invalid", "message": "An API key is no assignee."}]}
                )
            rows = rows.filter(assignee_user_id=self.request.user.pk)
        elif assignee == "none":
            rows = rows.filter(assignee_user_id__isnull=True)
        elif assignee:
            rows = rows.filter(assignee_user_id=int(assignee))
        return rows


class ConversationDetailApi(ConversationApiBase):
    required_roles = {"GET": ALL_ROLES, "DELETE": MANAGERS}

    @extend_schema(
        operation_id="conversations_retrieve",
        tags=TAGS,
        responses={200: ConversationOutput, **_problems(401, 403, 404)},
        examples=CONVERSATION_EXAMPLES,
    )
    def get(self, request: Request, conversation_id: int) -> Response:
        return Response(ConversationOutput(self.get_object()).data)

    @extend_schema(
        operation_id="conversations_destroy",
        tags=TAGS,
        description="Delete the conversation for good, with its messages, attachments and their "
        "files (owners and admins; API keys with the admin role). Recorded in the workspace's "
        "audit log (`conversation.deleted`). Asked again: 404.",
        responses={204: None, **_problems(401, 403, 404)},
        examples=[
            OpenApiExample(
                "Not found",
                value={
                    "type": "/docs/errors#not_found",
                    "title": "Not found",
                    "status": 404,
                    "detail": "No such conversation in this workspace.",
                    "code": "not_found",
                },
                response_only=True,
                status_codes=["404"],
                media_type="application/problem+json",
            )
        ],
    )
    def delete(self, request: Request, conversation_id: int) -> Response:
        conversation_delete(conversation=self.get_object(), request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ConversationMessagesApi(ConversationApiBase):
    @extend_schema(
        operation_id="conversation_messages_list",
        tags=TAGS,
        description=f"The conversation's messages, oldest first, private notes included (`role` "
        f"`note`, `private` true); at most {MESSAGES_LISTED} at a time: ask again with `after`.",
        parameters=[
            OpenApiParameter(
                "after", int, required=False, description="Only messages numbered after this one."
            )
        ],
        responses={200: MessageListOutput, **_problems(401, 403, 404, 422)},
        examples=[_example("Messages", {"messages": [MESSAGE_EXAMPLE], "has_more": False})],
    )
    def get(self, request: Request, conversation_id: int) -> Response:
        after = _valid(MessageAfterInput(data=request.query_params.dict()))["after"]
        conversation = self.get_object()
        rows = list(
            Message.objects.filter(conversation=conversation, seq__gt=after).order_by("seq")[
                : MESSAGES_LISTED + 1
            ]
        )
        return Response(
            {
                "messages": MessageOutput([_message(m) for m in rows[:MESSAGES_LISTED]], many=True).data,
                "has_more": len(rows) > MESSAGES_LISTED,
            }
        )

    @extend_schema(
        operation_id="conversation_messages_create",
        tags=TAGS,
        description="Reply to the visitor as an agent, or add a private note (`private`: true). "
        "A reply to a conversation the bot or nobody has makes it yours; a resolved one reopens. "
        "With an API key the author is the key's name. Sent again with the same "
        "`client_message_id`, a reply is stored once (200 with the stored reply).",
        request=MessageInput,
        examples=[
            _example(
                "A reply",
                {"text": "Your refund is on its way.", "client_message_id": "crm-1234"},
                request=True,
            ),
            _example("A private note", {"text": "VIP customer", "private": True}, request=True),
            _example("The stored reply", MESSAGE_EXAMPLE),
        ],
        responses={
            201: OpenApiResponse(MessageOutput, description="Stored."),
            200: OpenApiResponse(MessageOutput, description="This client_message_id was already stored."),
            **_problems(
                401,
                403,
                404,
                409,
                _422="Some fields are not valid (`validation_error`), or the client_message_id was used "
                "for another text (`client_message_id_reused`).",
            ),
        },
    )
    def post(self, request: Request, conversation_id: int) -> Response:
        data = _valid(MessageInput(data=request.data))
        conversation = self.get_object()
        client_id = data.get("client_message_id") or None
        if data["private"]:
            message = inbox.agent_note_add(
                conversation=conversation, user=self.acting_user(), text=data["text"]
            )
            return Response(MessageOutput(_message(message)).data, status=status.HTTP_201_CREATED)
        seen = bool(client_id) and conversation.messages.filter(client_message_id=client_id).exists()
        message = inbox.agent_reply_send(
            conversation=conversation, user=self.acting_user(), text=data["text"], client_message_id=client_id
        )
        return Response(
            MessageOutput(_message(message)).data,
            status=status.HTTP_200_OK if seen else status.HTTP_201_CREATED,
        )


class ConversationAssignApi(ConversationApiBase):
    @extend_schema(
        operation_id="conversation_assign",
        tags=TAGS,
        description="Give the conversation to a member of the workspace, or unassign it (null).",
        request=AssignInput,
        responses={200: ConversationOutput, **_problems(401, 403, 404, 409, 422)},
        examples=[_example("To a member", {"assignee_user_id": 7}, request=True), *CONVERSATION_EXAMPLES],
    )
    def post(self, request: Request, conversation_id: int) -> Response:
        data = _valid(AssignInput(data=request.data))
        conversation = self.get_object()
        assignee = data["assignee_user_id"]
        if assignee is not None and not self.tenant_queryset(Membership).filter(user_id=assignee).exists():
            raise ValidationFailed(
                errors={
                    "assignee_user_id": [
                        {"code": "not_a_member", "message": "Not a member of this workspace."}
                    ]
                }
            )
        inbox.conversation_assign(conversation=conversation, assignee_user_id=assignee, by=self.acting_user())
        conversation.refresh_from_db()
        return Response(ConversationOutput(conversation).data)


class ConversationStatusApi(ConversationApiBase):
    @extend_schema(
        operation_id="conversation_status",
        tags=TAGS,
        description="Reopen, mark pending, resolve or hand back to the bot (`status`), or snooze "
        "(`snoozed_until`): one change a request.",
        request=StatusInput,
        responses={200: ConversationOutput, **_problems(401, 403, 404, 409, 422)},
        examples=[
            _example("Resolve", {"status": "resolved"}, request=True),
            _example("Snooze", {"snoozed_until": "2026-01-07T09:00:00Z"}, request=True),
            *CONVERSATION_EXAMPLES,
        ],
    )
    def post(self, request: Request, conversation_id: int) -> Response:
        data = _valid(StatusInput(data=request.data))
        conversation = self.get_object()
        by = self.acting_user()
        if "snoozed_until" in data:
            inbox.conversation_snooze(conversation=conversation, until=data["snoozed_until"], by=by)
        else:
            change = {
                "open": inbox.conversation_reopen,
                "pending": inbox.conversation_mark_pending,
                "resolved": inbox.conversation_resolve,
                "bot": inbox.conversation_hand_back,
            }[data["status"]]
            change(conversation=conversation, by=by)
        conversation.refresh_from_db()
        return Response(ConversationOutput(conversation).data)
