"""Tenant REST API, v1 (tenant host, ``/api/v1/``): the workspace, its members, API keys.

Each view: parse input with its serializer, call one service or selector, render. The rows
a view reaches are declared (``queryset``) and scoped to the host's tenant by
``TenantAPIView``: another tenant's ids are 404 like ids that do not exist.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

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


class MemberListApi(TenantAPIView):
    queryset = Membership.objects.select_related("user").order_by("user__email")
    required_roles = {"GET": ALL_ROLES}

    @extend_schema(
        responses=MemberOutput(many=True),
        operation_id="members_list",
        # One member: the document shows it in a list, as the answer is.
        examples=[_response("A member", MEMBER_EXAMPLE)],
    )
    def get(self, request):
        return Response(MemberOutput(self.get_queryset(), many=True).data)


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
            membership=self.get_object(), role=data.validated_data["role"], by=self.actor
        )
        return Response(MemberOutput(member).data)

    @extend_schema(responses={204: None}, operation_id="members_remove", examples=[_not_found("member")])
    def delete(self, request, member_id: int):
        team_services.membership_remove(membership=self.get_object(), by=self.actor)
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


class ApiKeyListApi(TenantAPIView):
    queryset = ApiKey.objects.filter(revoked_at__isnull=True)
    required_roles = {"GET": MANAGERS, "POST": MANAGERS}
    sessions_only_methods = frozenset({"POST"})

    @extend_schema(
        responses=ApiKeyOutput(many=True),
        operation_id="api_keys_list",
        # One key: the document shows it in a list, as the answer is.
        examples=[_response("A key", API_KEY_EXAMPLE)],
    )
    def get(self, request):
        return Response(ApiKeyOutput(self.get_queryset(), many=True).data)

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
        key, secret = key_services.api_key_create(tenant=self.tenant, by=self.actor, **data.validated_data)
        return Response({"key": ApiKeyOutput(key).data, "secret": secret}, status=status.HTTP_201_CREATED)


class ApiKeyDetailApi(TenantAPIView):
    queryset = ApiKey.objects.filter(revoked_at__isnull=True)
    lookup_url_kwarg = "key_id"
    required_roles = {"DELETE": MANAGERS}
    sessions_only_methods = frozenset({"DELETE"})

    @extend_schema(responses={204: None}, operation_id="api_keys_revoke", examples=[_not_found("API key")])
    def delete(self, request, key_id: int):
        key_services.api_key_revoke(key=self.get_object(), by=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)
