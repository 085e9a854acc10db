"""Tenant REST API, v1 (tenant host, ``/api/v1/canned-replies``): the workspace's canned
replies. Roles as the inbox's page: every member (and both API key roles) reads them,
owners and admins (and admin keys) write them, through ``chat.services.agents`` (the
dashboard's service: the shortcut made a slug and free, a title, a text under 4,000
characters; its refusals are 422 with errors per field)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from saas.api_pages import PageInput, ordering_field, page_of, page_output, page_parameters, valid_query
from tenants.api_base import ALL_ROLES, MANAGERS, ApiKeyPrincipal, TenantAPIView

from .apis_bot import not_found_example, problems, valid
from .models import CannedReply
from .services import agents as agents_service


class CannedReplyOutput(serializers.Serializer):
    id = serializers.IntegerField()
    shortcut = serializers.CharField(help_text="Typed as /shortcut in the composer.")
    title = serializers.CharField()
    text = serializers.CharField(help_text="Markdown with {{contact.name}}, {{agent.name}}... variables.")
    created_by_user_id = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


CannedReplyPageOutput = page_output("CannedReplyPageOutput", CannedReplyOutput)


class CannedReplyListInput(PageInput):
    ordering = ordering_field(("shortcut", "created_at", "updated_at"), default="shortcut")


class CannedReplyInput(serializers.Serializer):
    shortcut = serializers.CharField(
        max_length=100, allow_blank=True, help_text="Made a slug: letters, digits, - and _ (40 at most)."
    )
    title = serializers.CharField(max_length=120, allow_blank=True)
    text = serializers.CharField(max_length=8000, allow_blank=True, trim_whitespace=False)


class CannedReplyUpdateInput(CannedReplyInput):
    """Each field left out stays as stored."""

    shortcut = serializers.CharField(max_length=100, allow_blank=True, required=False)
    title = serializers.CharField(max_length=120, allow_blank=True, required=False)
    text = serializers.CharField(max_length=8000, allow_blank=True, trim_whitespace=False, required=False)


CANNED_EXAMPLE = {
    "id": 5,
    "shortcut": "thanks",
    "title": "Thank you",
    "text": "Thanks {{contact.name}}, glad I could help!",
    "created_by_user_id": 17,
    "created_at": "2026-11-20T08:00:00Z",
    "updated_at": "2026-12-04T12:00:00.123456Z",
}
CANNED_TAGS = ["canned replies"]


class CannedReplyApiBase(TenantAPIView):
    queryset = CannedReply.objects.all()
    lookup_url_kwarg = "reply_id"
    # As the inbox's page: every member reads and uses them, owners and admins write them.
    required_roles = {"GET": ALL_ROLES, "POST": MANAGERS, "PATCH": MANAGERS, "DELETE": MANAGERS}


class CannedReplyListApi(CannedReplyApiBase):
    @extend_schema(
        operation_id="canned_replies_list",
        tags=CANNED_TAGS,
        description="The workspace's canned replies, by shortcut unless `ordering` says otherwise, "
        "a page at a time.",
        parameters=page_parameters(CannedReplyListInput),
        responses={200: CannedReplyPageOutput, **problems(401, 403, 404, 422)},
        examples=[
            OpenApiExample(
                "A page", value={"results": [CANNED_EXAMPLE], "next_cursor": None}, response_only=True
            )
        ],
    )
    def get(self, request: Request) -> Response:
        query = valid_query(CannedReplyListInput, request)
        rows, next_cursor = page_of(self.get_queryset(), query)
        return Response({"results": CannedReplyOutput(rows, many=True).data, "next_cursor": next_cursor})

    @extend_schema(
        operation_id="canned_replies_create",
        tags=CANNED_TAGS,
        description="A new canned reply; its shortcut must be free (422 `taken`).",
        request=CannedReplyInput,
        responses={201: CannedReplyOutput, **problems(401, 403, 404, 422)},
        examples=[
            OpenApiExample(
                "Create",
                value={"shortcut": "thanks", "title": "Thank you", "text": "Thanks {{contact.name}}!"},
                request_only=True,
            ),
            OpenApiExample("Created", value=CANNED_EXAMPLE, response_only=True, status_codes=["201"]),
        ],
    )
    def post(self, request: Request) -> Response:
        data = valid(CannedReplyInput(data=request.data))
        user = request.user
        by = None if isinstance(user, ApiKeyPrincipal) else user.pk
        reply = agents_service.canned_reply_create(by_user_id=by, **data)
        return Response(CannedReplyOutput(reply).data, status=status.HTTP_201_CREATED)


class CannedReplyDetailApi(CannedReplyApiBase):
    @extend_schema(
        operation_id="canned_replies_retrieve",
        tags=CANNED_TAGS,
        responses={200: CannedReplyOutput, **problems(401, 403, 404)},
        examples=[OpenApiExample("A reply", value=CANNED_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request, reply_id: int) -> Response:
        return Response(CannedReplyOutput(self.get_object()).data)

    @extend_schema(
        operation_id="canned_replies_update",
        tags=CANNED_TAGS,
        description="Change a canned reply; the fields left out stay.",
        request=CannedReplyUpdateInput,
        responses={200: CannedReplyOutput, **problems(401, 403, 404, 422)},
        examples=[
            OpenApiExample("Reword", value={"text": "Thank you, {{contact.name}}!"}, request_only=True),
            OpenApiExample("Saved", value=CANNED_EXAMPLE, response_only=True),
        ],
    )
    def patch(self, request: Request, reply_id: int) -> Response:
        data = valid(CannedReplyUpdateInput(data=request.data))
        reply: CannedReply = self.get_object()
        fields = {name: data.get(name, getattr(reply, name)) for name in ("shortcut", "title", "text")}
        saved = agents_service.canned_reply_update(reply=reply, **fields)
        return Response(CannedReplyOutput(saved).data)

    @extend_schema(
        operation_id="canned_replies_destroy",
        tags=CANNED_TAGS,
        responses={204: None, **problems(401, 403, 404)},
        examples=[not_found_example("canned reply")],
    )
    def delete(self, request: Request, reply_id: int) -> Response:
        agents_service.canned_reply_delete(reply=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
