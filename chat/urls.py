"""URLs of the chat app: the visitor API (public host, by widget key) and the dashboard's
conversations, analytics and per-widget bot pages (tenant hosts)."""

from saas.routes import endpoint, page

from . import apis, views, views_analytics
from .widget_api import openapi, routes

app_name = "chat"

# The visitor API, and its OpenAPI document (generated from those routes only) with a
# docs page.
public_urlpatterns = [
    endpoint("api/widget/v1/schema", openapi.schema_view, name="widget-api-schema"),
    page("api/widget/v1/docs/", openapi.docs_view, name="widget-api-docs"),
    *routes.urlpatterns,
]

WIDGET = "dashboard/widgets/<int:widget_id>/"
CONVERSATION = "conversations/<int:conversation_id>"

tenant_urlpatterns = [
    page("dashboard/analytics/", views_analytics.analytics, name="analytics"),
    page("dashboard/conversations/", views.conversation_list, name="conversations"),
    page("dashboard/conversations/<int:conversation_id>/", views.conversation_detail, name="conversation"),
    endpoint(
        "dashboard/conversations/attachments/<uuid:attachment_id>",
        views.attachment_download,
        name="attachment",
    ),
    page(WIDGET + "bot/", views.widget_bot, name="bot"),
    page(WIDGET + "automations/", views.widget_automations, name="automations"),
    page(WIDGET + "automations/<int:rule_id>/", views.widget_automations, name="automation"),
    endpoint(
        WIDGET + "automations/<int:rule_id>/toggle", views.widget_automation_toggle, name="automation-toggle"
    ),
    page(
        WIDGET + "automations/<int:rule_id>/delete/", views.widget_automation_delete, name="automation-delete"
    ),
    page(WIDGET + "playground/", views.widget_playground, name="playground"),
    # REST API v1 (session or API key; chat.apis)
    endpoint("api/v1/conversations", apis.ConversationListApi.as_view(), name="api-conversations"),
    endpoint("api/v1/" + CONVERSATION, apis.ConversationDetailApi.as_view(), name="api-conversation"),
    endpoint(
        "api/v1/" + CONVERSATION + "/messages", apis.ConversationMessagesApi.as_view(), name="api-messages"
    ),
    endpoint("api/v1/" + CONVERSATION + "/assign", apis.ConversationAssignApi.as_view(), name="api-assign"),
    endpoint("api/v1/" + CONVERSATION + "/status", apis.ConversationStatusApi.as_view(), name="api-status"),
]
