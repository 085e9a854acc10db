"""URLs of the actions app: the dashboard's pages (``actions.views``) and the REST
resources (``actions.apis``, ``actions.mcp_apis``) on tenant hosts, and the visitor's answers
to a card (``actions.widget_api``, the public host's widget API)."""

from saas.routes import endpoint, page

from . import apis, mcp_apis, views, widget_api

API = "api/v1/actions/<uuid:action_id>"
MCP = "api/v1/actions/mcp-servers/<uuid:server_id>"
PAGE = "dashboard/actions/<uuid:action_id>/"
MCP_PAGE = "dashboard/actions/mcp-servers/<uuid:server_id>/"

app_name = "actions"
CARD = (
    "api/widget/v1/<str:widget_key>/conversations/<int:conversation_id>/confirmations/<uuid:confirmation_id>/"
)

widget_api_urlpatterns = [
    endpoint(CARD + "confirm", widget_api.ConfirmApi.as_view(), name="widget-confirm"),
    endpoint(CARD + "submit", widget_api.SubmitApi.as_view(), name="widget-submit"),
    endpoint(CARD + "cancel", widget_api.CancelApi.as_view(), name="widget-cancel"),
]
public_urlpatterns = [*widget_api_urlpatterns]

tenant_urlpatterns = [
    page("dashboard/actions/", views.action_list, name="list"),
    page("dashboard/actions/new/", views.action_new, name="new"),
    page("dashboard/actions/import/", views.action_import, name="import"),
    page("dashboard/actions/calls/", views.call_log, name="calls"),
    page("dashboard/actions/mcp-servers/", views.mcp_list, name="mcp-list"),
    page("dashboard/actions/mcp-servers/new/", views.mcp_new, name="mcp-new"),
    page(MCP_PAGE, views.mcp_edit, name="mcp-edit"),
    page(MCP_PAGE + "test/", views.mcp_test, name="mcp-test"),
    page(PAGE, views.action_edit, name="edit"),
    page(PAGE + "test/", views.action_test, name="test"),
    # REST API v1 (actions.apis)
    endpoint("api/v1/actions", apis.ActionListApi.as_view(), name="api-actions"),
    endpoint("api/v1/actions/import", apis.ActionImportApi.as_view(), name="api-import"),
    endpoint("api/v1/actions/mcp-servers", mcp_apis.McpServerListApi.as_view(), name="api-mcp-servers"),
    endpoint(MCP, mcp_apis.McpServerDetailApi.as_view(), name="api-mcp-server"),
    endpoint(MCP + "/secret", mcp_apis.McpServerSecretApi.as_view(), name="api-mcp-secret"),
    endpoint(
        MCP + "/rotate-secret", mcp_apis.McpServerSecretRotateApi.as_view(), name="api-mcp-rotate-secret"
    ),
    endpoint(MCP + "/refresh", mcp_apis.McpServerRefreshApi.as_view(), name="api-mcp-refresh"),
    endpoint(MCP + "/test", mcp_apis.McpToolTestApi.as_view(), name="api-mcp-test"),
    endpoint(MCP + "/calls", mcp_apis.McpCallListApi.as_view(), name="api-mcp-calls"),
    endpoint(API, apis.ActionDetailApi.as_view(), name="api-action"),
    endpoint(API + "/secret", apis.ActionSecretApi.as_view(), name="api-secret"),
    endpoint(API + "/rotate-secret", apis.ActionSecretRotateApi.as_view(), name="api-rotate-secret"),
    endpoint(API + "/test", apis.ActionTestApi.as_view(), name="api-test"),
    endpoint(API + "/calls", apis.ActionCallListApi.as_view(), name="api-calls"),
]
