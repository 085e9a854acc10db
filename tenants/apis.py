"""Tenant REST API, v1 (tenant host, ``/api/v1/``): the workspace, its members, API keys.

Each view: parse input with its serializer, call one service or selector, render. The rows
a view reaches are declared (``queryset``) and scoped to the host's tenant by
``TenantAPIView``: another tenant's ids are 404 like ids that do not exist.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from saas.api_pages import PageInput, ordering_field, page_of, page_output, page_parameters, valid_query

from .api_base import ALL_ROLES, MANAGERS, TenantAPIView
from .models import ApiKey, Membership
from .services import api_keys as key_services
from .services import team as team_services


class TenantOutput(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    status = serializers.CharField()
    plan = serializers.CharField()
    created_at = serializers.DateTimeField()
    domain = serializers.CharField()


def _response(name: str, value: object, status: int = 200) -> OpenApiExample:
    return OpenApiExample(name, value=value, response_only=True, status_codes=[str(status)])


def _not_found(what: str) -> OpenApiExample:
    return OpenApiExample(
        "Not found",
        value={
            "type": "/docs/errors#not_found",
            "title": "Not found",
            "status": 404,
            "detail": f"No such {what} in this workspace.",
            "code": "not_found",
        },
        response_only=True,
        status_codes=["404"],
        media_type="application/problem+json",
    )


TENANT_EXAMPLE = {
    "slug": "acme",
    "name": "Acme Inc.",
    "status": "active",
    "plan": "pro",
    "created_at": "2026-09-14T08:30:00Z",
    "domain": "acme.chatbots.example",
}
MEMBER_EXAMPLE = {"id": 12, "email": "sam@acme.example", "role": "agent", "joined_at": "2026-10-02T09:15:00Z"}
API_KEY_EXAMPLE = {
    "id": 4,
    "name": "Zapier",
    "prefix": "sk_7Hq2mXa",
    "role": "agent",
    "created_at": "2026-11-20T08:00:00Z",
    "last_used_at": "2026-12-04T11:42:10Z",
}


class TenantDetailApi(TenantAPIView):
    required_roles = {"GET": ALL_ROLES}

    @extend_schema(
        responses=TenantOutput,
        operation_id="tenant_retrieve",
        examples=[_response("The workspace", TENANT_EXAMPLE)],
    )
    def get(self, request):
        tenant = self.tenant
        data = {
            "slug": tenant.slug,
            "name": tenant.name,
            "status": tenant.status,
            "plan": tenant.plan,
            "created_at": tenant.created_at,
            "domain": request._request.get_host().split(":")[0],
        }
        return Response(TenantOutput(data).data)


class MemberOutput(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField(source="user.email")
    role = serializers.CharField()
    joined_at = serializers.DateTimeField(source="created_at")


class MemberRoleInput(serializers.Serializer):
    role = serializers.ChoiceField(choices=Membership.Role.choices)


BAD_PARAMETERS = "A parameter is not valid (`validation_error`, with `errors` per field)."


class MemberListInput(PageInput):
    ordering = ordering_field(("created_at",), default="created_at")


MemberPageOutput = page_output("MemberPageOutput", MemberOutput)


class MemberListApi(TenantAPIView):
    queryset = Membership.objects.select_related("user")
    required_roles = {"GET": ALL_ROLES}
    openapi_problems = {**TenantAPIView.openapi_problems, 422: BAD_PARAMETERS}

    @extend_schema(
        parameters=page_parameters(MemberListInput),
        responses=MemberPageOutput,
        operation_id="members_list",
        description="The workspace's members, first joined first, a page at a time.",
        examples=[_response("A page", {"results": [MEMBER_EXAMPLE], "next_cursor": None})],
    )
    def get(self, request):
        rows, next_cursor = page_of(self.get_queryset(), valid_query(MemberListInput, request))
        return Response({"results": MemberOutput(rows, many=True).data, "next_cursor": next_cursor})


class MemberDetailApi(TenantAPIView):
    queryset = Membership.objects.select_related("user")
    lookup_url_kwarg = "member_id"
    required_roles = {"PATCH": MANAGERS, "DELETE": MANAGERS}

    @extend_schema(
        request=MemberRoleInput,
        responses=MemberOutput,
        operation_id="members_update_role",
        examples=[
            OpenApiExample("Make an admin", value={"role": "admin"}, request_only=True),
            _response("Changed", {**MEMBER_EXAMPLE, "role": "admin"}),
            _not_found("member"),
        ],
    )
    def patch(self, request, member_id: int):
        data = MemberRoleInput(data=request.data)
        data.is_valid(raise_exception=True)
        member = team_services.membership_role_change(
            membership=self.get_object(), role=data.validated_data["role"], by=self.actor, request=request
        )
        return Response(MemberOutput(member).data)

    @extend_schema(responses={204: None}, operation_id="members_remove", examples=[_not_found("member")])
    def delete(self, request, member_id: int):
        team_services.membership_remove(membership=self.get_object(), by=self.actor, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ApiKeyOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    prefix = serializers.CharField()
    role = serializers.CharField()
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)


class ApiKeyCreateInput(serializers.Serializer):
    name = serializers.CharField(max_length=80)
    role = serializers.ChoiceField(choices=ApiKey.Role.choices, default=ApiKey.Role.ADMIN)


class ApiKeyListInput(PageInput):
    ordering = ordering_field(("created_at", "last_used_at"), default="created_at")


ApiKeyPageOutput = page_output("ApiKeyPageOutput", ApiKeyOutput)


class ApiKeyListApi(TenantAPIView):
    queryset = ApiKey.objects.filter(revoked_at__isnull=True)
    openapi_problems = {**TenantAPIView.openapi_problems, 422: BAD_PARAMETERS}
    required_roles = {"GET": MANAGERS, "POST": MANAGERS}
    sessions_only_methods = frozenset({"POST"})

    @extend_schema(
        parameters=page_parameters(ApiKeyListInput),
        responses=ApiKeyPageOutput,
        operation_id="api_keys_list",
        description="The workspace's API keys not revoked, oldest first, a page at a time.",
        examples=[_response("A page", {"results": [API_KEY_EXAMPLE], "next_cursor": None})],
    )
    def get(self, request):
        rows, next_cursor = page_of(self.get_queryset(), valid_query(ApiKeyListInput, request))
        return Response({"results": ApiKeyOutput(rows, many=True).data, "next_cursor": next_cursor})

    @extend_schema(
        request=ApiKeyCreateInput,
        responses={
            201: inline_serializer(
                "ApiKeyCreated", {"key": ApiKeyOutput(), "secret": serializers.CharField()}
            )
        },
        operation_id="api_keys_create",
        description="The secret is in this response only. Store it now; it cannot be shown again.",
        examples=[
            OpenApiExample("For Zapier", value={"name": "Zapier", "role": "agent"}, request_only=True),
            _response(
                "Created",
                {
                    "key": {**API_KEY_EXAMPLE, "last_used_at": None},
                    "secret": "sk_7Hq2mXaR3vN8pLw2KdT5yGb6QeZ1uJc9HsMf4Ax0Yb2",
                },
                201,
            ),
        ],
    )
    def post(self, request):
        data = ApiKeyCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        key, secret = key_services.api_key_create(
            tenant=self.tenant, by=self.actor, request=request, **data.validated_data
        )
        return Response({"key": ApiKeyOutput(key).data, "secret": secret}, status=status.HTTP_201_CREATED)


class ApiKeyDetailApi(TenantAPIView):
    queryset = ApiKey.objects.filter(revoked_at__isnull=True)
    lookup_url_kwarg = "key_id"
    required_roles = {"DELETE": MANAGERS}
    sessions_only_methods = frozenset({"DELETE"})

    @extend_schema(responses={204: None}, operation_id="api_keys_revoke", examples=[_not_found("API key")])
    def delete(self, request, key_id: int):
        key_services.api_key_revoke(key=self.get_object(), by=self.actor, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)
