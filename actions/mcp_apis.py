"""Tenant REST API, v1 (tenant host, ``/api/v1/actions/mcp-servers``): the workspace's MCP
servers as a source of actions, their tool lists, the test runner of a tool and each
server's call log (docs/actions.md, "MCP servers"). Roles and shapes as ``actions.apis``:
owners, admins and admin API keys; headers write-only; the signing secret answered at
creation, rotation and to ``GET .../secret``."""

from __future__ import annotations

from functools import partial
from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from saas.api_pages import PageInput, ordering_field, page_of, page_output, page_parameters, valid_query
from saas.openapi import problems_of
from saas.ratelimit import rate_limit_enforce
from saas.request_body import NO_BODY_BYTES, SMALL_BODY_BYTES
from saas.tenant_connection import connection
from tenants.api_base import MANAGERS, TenantAPIView

from . import selectors, services
from .apis import CALL_EXAMPLE, SECRET_EXAMPLE, TESTS_PER_MINUTE, ActionCallListInput, ActionCallOutput
from .models import Action, McpServer

TAGS = ["actions"]
PROBLEMS = {
    401: "Not signed in, or the API key is not valid here (`not_authenticated`).",
    403: "Only owners, admins and admin keys manage MCP servers (`permission_denied`).",
    404: "No such MCP server in this workspace (`not_found`).",
    429: "More than 30 requests to MCP servers (creations, refreshes, tests) a minute in this workspace "
    "(`rate_limited`, with `Retry-After`).",
    422: "Some fields are not valid (`validation_error`, with `errors` per field): an address that is "
    "not https on a public host, a header the platform sets, a tool name that is not one, a tool "
    "to test that is not allowed.",
}
TOOL_EXAMPLE = {
    "name": "order_status",
    "offered_as": "shop__order_status",
    "title": "Order status",
    "description": "Where an order is: its delivery status and carrier.",
    "input_schema": {
        "type": "object",
        "properties": {"order_id": {"type": "string"}},
        "required": ["order_id"],
    },
    "allowed": True,
    "problem": "",
}
SERVER_EXAMPLE = {
    "id": "5b2d0c1e-7a4f-4e3b-9c8d-1f0e2a3b4c5d",
    "name": "shop",
    "title": "Shop",
    "url": "https://mcp.shop.example.com/mcp",
    "header_names": ["Authorization"],
    "timeout_seconds": 10,
    "allowed_tools": ["order_status"],
    "audience": "verified",
    "requires_confirmation": False,
    "enabled": True,
    "tools": [TOOL_EXAMPLE],
    "tools_refreshed_at": "2026-12-04T09:12:45.020931Z",
    "last_error": "",
    "created_at": "2026-12-04T09:12:44.120931Z",
    "updated_at": "2026-12-04T09:12:45.020931Z",
}
MCP_CALL_EXAMPLE = {
    **CALL_EXAMPLE,
    "action_name": "shop__order_status",
    "tool_name": "order_status",
    "http_status": 200,
    "result": "Order 1042 has shipped with DHL.",
    "response_excerpt": 'event: message\ndata: {"jsonrpc":"2.0","id":2,"result":{"content":[...]}}',
}

_problems = partial(problems_of, PROBLEMS)


# --- output --------------------------------------------------------------------------------


class McpToolOutput(serializers.Serializer):
    name = serializers.CharField(help_text="The tool's name on the server.")
    offered_as = serializers.CharField(help_text="Its name for the model: `<server>__<tool>`.")
    title = serializers.CharField()
    description = serializers.CharField()
    input_schema = serializers.JSONField()
    allowed = serializers.BooleanField(help_text="In `allowed_tools`: offered to the model.")
    problem = serializers.CharField(help_text="Why it cannot be offered (its schema, its name); empty: none.")


class McpServerOutput(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    name = serializers.CharField(help_text="The prefix of its tools' names for the model.")
    title = serializers.CharField()
    url = serializers.CharField()
    header_names = serializers.SerializerMethodField(help_text="The headers sent (their values never shown).")
    timeout_seconds = serializers.IntegerField()
    allowed_tools = serializers.ListField(child=serializers.CharField())
    audience = serializers.ChoiceField(choices=Action.Audience.choices)
    requires_confirmation = serializers.BooleanField()
    enabled = serializers.BooleanField(source="is_enabled")
    tools = serializers.SerializerMethodField(help_text="The server's tools as last listed.")
    tools_refreshed_at = serializers.DateTimeField(allow_null=True)
    last_error = serializers.CharField(help_text="What went wrong when the tools were last listed.")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_header_names(self, server: McpServer) -> list[str]:
        return selectors.mcp_server_header_names(server)

    def get_tools(self, server: McpServer) -> list[dict[str, Any]]:
        rows = [
            {
                **tool,
                "offered_as": services.offered_name(server.name, tool["name"]),
                "allowed": tool["name"] in server.allowed_tools,
            }
            for tool in server.tools
        ]
        return McpToolOutput(rows, many=True).data  # type: ignore[return-value]


class McpServerCreatedOutput(McpServerOutput):
    secret = serializers.CharField(help_text="The signing secret (`acsec_...`): verify requests with it.")


class McpSecretOutput(serializers.Serializer):
    secret = serializers.CharField(help_text="The signing secret (`acsec_...`).")


class McpCallOutput(ActionCallOutput):
    tool_name = serializers.CharField(help_text="The tool's name on the server (`action_name`: the model's).")


McpServerPageOutput = page_output("McpServerPageOutput", McpServerOutput)
McpCallPageOutput = page_output("McpCallPageOutput", McpCallOutput)


# --- input ---------------------------------------------------------------------------------


class McpServerListInput(PageInput):
    ordering = ordering_field(("name", "created_at"), default="name")


class McpServerInput(serializers.Serializer):
    name = serializers.CharField(max_length=20)
    title = serializers.CharField(max_length=120, required=False, allow_blank=True)
    url = serializers.CharField(max_length=2000)
    headers = serializers.DictField(
        child=serializers.CharField(max_length=4000, allow_blank=True),
        required=False,
        help_text="Sent with every request; stored encrypted, never answered.",
    )
    timeout_seconds = serializers.IntegerField(min_value=1, max_value=30, required=False)
    allowed_tools = serializers.ListField(
        child=serializers.CharField(max_length=128),
        max_length=100,
        required=False,
        help_text="The tools the model may call, by their names on the server; none by default.",
    )
    audience = serializers.ChoiceField(choices=Action.Audience.choices, required=False)
    requires_confirmation = serializers.BooleanField(required=False)
    enabled = serializers.BooleanField(required=False)


class McpServerUpdateInput(McpServerInput):
    """The fields sent replace the stored ones; the others stay (``headers`` too)."""

    name = serializers.CharField(max_length=20, required=False)
    url = serializers.CharField(max_length=2000, required=False)


class McpToolTestInput(serializers.Serializer):
    tool = serializers.CharField(max_length=128, help_text="An allowed tool, by its name on the server.")
    arguments = serializers.JSONField(help_text="Sample inputs, as the model would send them.")
    visitor_id = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        help_text="Call as a visitor whose verified id is this (empty: an anonymous visitor).",
    )


def _service_data(validated: dict[str, Any]) -> dict[str, Any]:
    data = dict(validated)
    if "enabled" in data:
        data["is_enabled"] = data.pop("enabled")
    return data


# --- views ---------------------------------------------------------------------------------


class McpServerApiBase(TenantAPIView):
    queryset = McpServer.objects.all()
    lookup_field = "public_id"
    lookup_url_kwarg = "server_id"
    required_roles = {"GET": MANAGERS, "POST": MANAGERS, "PATCH": MANAGERS, "DELETE": MANAGERS}
    max_body_bytes = NO_BODY_BYTES


class McpServerListApi(McpServerApiBase):
    max_body_bytes = SMALL_BODY_BYTES

    @extend_schema(
        operation_id="actions_mcp_servers_list",
        tags=TAGS,
        description="The workspace's MCP servers, a page at a time.",
        parameters=page_parameters(McpServerListInput),
        responses={200: McpServerPageOutput, **_problems(401, 403, 404, 422)},
        examples=[
            OpenApiExample(
                "A page", value={"results": [SERVER_EXAMPLE], "next_cursor": None}, response_only=True
            )
        ],
    )
    def get(self, request: Request) -> Response:
        query = valid_query(McpServerListInput, request)
        rows, next_cursor = page_of(self.get_queryset(), query)
        return Response({"results": McpServerOutput(rows, many=True).data, "next_cursor": next_cursor})

    @extend_schema(
        operation_id="actions_mcp_servers_create",
        tags=TAGS,
        description="A new MCP server (streamable HTTP), with a new signing secret (in this answer, "
        "and from `GET mcp-servers/{id}/secret`). Its tools are listed at once (`tools`, or "
        "`last_error` when that failed: the server is created all the same).",
        request=McpServerInput,
        responses={201: McpServerCreatedOutput, **_problems(401, 403, 404, 422, 429)},
        examples=[
            OpenApiExample(
                "Create",
                value={
                    "name": "shop",
                    "url": "https://mcp.shop.example.com/mcp",
                    "headers": {"Authorization": "Bearer shop-api-key"},
                    "allowed_tools": ["order_status"],
                    "audience": "verified",
                },
                request_only=True,
            ),
            OpenApiExample(
                "Created",
                value={**SERVER_EXAMPLE, "secret": SECRET_EXAMPLE},
                response_only=True,
                status_codes=["201"],
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        # Creating lists the server's tools: a real request, counted as the test runner's are.
        rate_limit_enforce(
            request, "actions-test", limit=TESTS_PER_MINUTE, period_s=60, key=connection.schema_name
        )
        data = McpServerInput(data=request.data)
        data.is_valid(raise_exception=True)
        server = services.mcp_server_create(data=_service_data(data.validated_data), request=request)
        body = {**McpServerOutput(server).data, "secret": selectors.mcp_server_signing_secret(server)}
        return Response(body, status=status.HTTP_201_CREATED)


class McpServerDetailApi(McpServerApiBase):
    max_body_bytes = SMALL_BODY_BYTES

    @extend_schema(
        operation_id="actions_mcp_servers_retrieve",
        tags=TAGS,
        description="One MCP server, with its tools as last listed (its headers' names only).",
        responses={200: McpServerOutput, **_problems(401, 403, 404)},
        examples=[OpenApiExample("A server", value=SERVER_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request, server_id: str) -> Response:
        return Response(McpServerOutput(self.get_object()).data)

    @extend_schema(
        operation_id="actions_mcp_servers_update",
        tags=TAGS,
        description="Change the server: the fields sent replace the stored ones (`headers` all together, "
        "`allowed_tools` the whole list); a new `url` forgets the tools listed (refresh them).",
        request=McpServerUpdateInput,
        responses={200: McpServerOutput, **_problems(401, 403, 404, 422)},
        examples=[
            OpenApiExample("Allow a tool", value={"allowed_tools": ["order_status"]}, request_only=True),
            OpenApiExample("Saved", value=SERVER_EXAMPLE, response_only=True),
        ],
    )
    def patch(self, request: Request, server_id: str) -> Response:
        data = McpServerUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        server = services.mcp_server_update(
            server=self.get_object(), data=_service_data(data.validated_data), request=request
        )
        return Response(McpServerOutput(server).data)

    @extend_schema(
        operation_id="actions_mcp_servers_destroy",
        tags=TAGS,
        description="Delete the server; its tools' calls stay in the transcripts under their names.",
        responses={204: None, **_problems(401, 403, 404)},
        examples=[OpenApiExample("Deleted", value=None, response_only=True, status_codes=["204"])],
    )
    def delete(self, request: Request, server_id: str) -> Response:
        services.mcp_server_delete(server=self.get_object(), request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class McpServerSecretApi(McpServerApiBase):
    @extend_schema(
        operation_id="actions_mcp_servers_secret",
        tags=TAGS,
        description="The server's signing secret.",
        responses={200: McpSecretOutput, **_problems(401, 403, 404)},
        examples=[OpenApiExample("Secret", value={"secret": SECRET_EXAMPLE}, response_only=True)],
    )
    def get(self, request: Request, server_id: str) -> Response:
        return Response({"secret": selectors.mcp_server_signing_secret(self.get_object())})


class McpServerSecretRotateApi(McpServerApiBase):
    @extend_schema(
        operation_id="actions_mcp_servers_rotate_secret",
        tags=TAGS,
        description="A new signing secret; requests are signed with it from now on (the old one no longer).",
        request=None,
        responses={200: McpSecretOutput, **_problems(401, 403, 404)},
        examples=[OpenApiExample("Rotated", value={"secret": SECRET_EXAMPLE}, response_only=True)],
    )
    def post(self, request: Request, server_id: str) -> Response:
        return Response(
            {"secret": services.mcp_server_secret_rotate(server=self.get_object(), request=request)}
        )


class McpServerRefreshApi(McpServerApiBase):
    @extend_schema(
        operation_id="actions_mcp_servers_refresh",
        tags=TAGS,
        description="List the server's tools again (`tools/list`, every page). When that fails, the "
        "tools listed before stay and `last_error` says why.",
        request=None,
        responses={200: McpServerOutput, **_problems(401, 403, 404, 429)},
        examples=[OpenApiExample("Refreshed", value=SERVER_EXAMPLE, response_only=True)],
    )
    def post(self, request: Request, server_id: str) -> Response:
        rate_limit_enforce(
            request, "actions-test", limit=TESTS_PER_MINUTE, period_s=60, key=connection.schema_name
        )
        server = services.mcp_tools_refresh(server=self.get_object(), request=request)
        return Response(McpServerOutput(server).data)


class McpToolTestApi(McpServerApiBase):
    max_body_bytes = SMALL_BODY_BYTES

    @extend_schema(
        operation_id="actions_mcp_servers_test",
        tags=TAGS,
        description="Call an allowed tool now with sample inputs, through every check a visitor's call "
        "goes through, and see what the server answered and what the model would be given. The call "
        "is logged as a test.",
        request=McpToolTestInput,
        responses={200: McpCallOutput, **_problems(401, 403, 404, 422, 429)},
        examples=[
            OpenApiExample(
                "Test",
                value={"tool": "order_status", "arguments": {"order_id": "1042"}, "visitor_id": "cust-42"},
                request_only=True,
            ),
            OpenApiExample(
                "Called",
                value={**MCP_CALL_EXAMPLE, "called_by": "test", "conversation_id": None},
                response_only=True,
            ),
        ],
    )
    def post(self, request: Request, server_id: str) -> Response:
        rate_limit_enforce(
            request, "actions-test", limit=TESTS_PER_MINUTE, period_s=60, key=connection.schema_name
        )
        data = McpToolTestInput(data=request.data)
        data.is_valid(raise_exception=True)
        outcome = services.mcp_tool_test(
            server=self.get_object(),
            tool=data.validated_data["tool"],
            arguments=data.validated_data["arguments"],
            visitor_id=data.validated_data.get("visitor_id", ""),
        )
        return Response(McpCallOutput(outcome.call).data)


class McpCallListApi(McpServerApiBase):
    @extend_schema(
        operation_id="actions_mcp_servers_calls_list",
        tags=TAGS,
        description="The calls of the server's tools (by the bot and the test runner), newest first.",
        parameters=page_parameters(ActionCallListInput),
        responses={200: McpCallPageOutput, **_problems(401, 403, 404, 422)},
        examples=[
            OpenApiExample(
                "A page", value={"results": [MCP_CALL_EXAMPLE], "next_cursor": None}, response_only=True
            )
        ],
    )
    def get(self, request: Request, server_id: str) -> Response:
        query = valid_query(ActionCallListInput, request)
        rows = selectors.mcp_server_calls(self.get_object(), status=query.get("status"))
        page, next_cursor = page_of(rows, query)
        return Response({"results": McpCallOutput(page, many=True).data, "next_cursor": next_cursor})
