"""URLs of the chat app: the visitor API (public host, by widget key) and the dashboard's
conversations, contacts and per-widget bot pages (tenant hosts)."""

from saas.routes import endpoint, page

from . import (
    apis,
    apis_bot,
    apis_canned,
    apis_chat,
    apis_contacts,
    views,
    views_contacts,
    views_inbox,
    views_inbox_setup,
    views_resume,
)
from .widget_api import openapi, routes

app_name = "chat"

# This app's part of the visitor API (also read by the widget API's OpenAPI document).
widget_api_urlpatterns = routes.urlpatterns

# The visitor API, and its OpenAPI document (generated from every app's widget API routes,
# saas.urls_widget_api) with a docs page.
public_urlpatterns = [
    endpoint("api/widget/v1/schema", openapi.schema_view, name="widget-api-schema"),
    page("api/widget/v1/docs/", openapi.docs_view, name="widget-api-docs"),
    *widget_api_urlpatterns,
    page("w/v1/c/<str:widget_key>/", views_resume.resume_page, name="resume-page"),
]

WIDGET = "dashboard/widgets/<int:widget_id>/"
CONVERSATION = "dashboard/conversations/<int:conversation_id>/"
API_CONVERSATION = "api/v1/conversations/<int:conversation_id>"
API_WIDGET = "api/v1/widgets/<int:widget_id>/"
API_RULE = API_WIDGET + "automations/<int:rule_id>"
API_CONTACT = "api/v1/contacts/<str:contact_id>"

tenant_urlpatterns = [
    page("dashboard/contacts/", views_contacts.contact_list, name="contacts"),
    page("dashboard/contacts/<int:contact_id>/", views_contacts.contact_detail, name="contact"),
    page("dashboard/conversations/", views_inbox.conversation_list, name="conversations"),
    page(
        "dashboard/conversations/<int:conversation_id>/", views_inbox.conversation_detail, name="conversation"
    ),
    page(CONVERSATION + "delete/", views_inbox.conversation_delete_page, name="conversation-delete"),
    endpoint(CONVERSATION + "messages", views_inbox.conversation_messages, name="conversation-messages"),
    endpoint(CONVERSATION + "reply", views_inbox.conversation_reply, name="conversation-reply"),
    endpoint(CONVERSATION + "assign", views_inbox.conversation_assign, name="conversation-assign"),
    endpoint(CONVERSATION + "take-over", views_inbox.conversation_take_over, name="conversation-take-over"),
    endpoint(CONVERSATION + "hand-back", views_inbox.conversation_hand_back, name="conversation-hand-back"),
    endpoint(CONVERSATION + "resolve", views_inbox.conversation_resolve, name="conversation-resolve"),
    endpoint(CONVERSATION + "reopen", views_inbox.conversation_reopen, name="conversation-reopen"),
    endpoint(CONVERSATION + "snooze", views_inbox.conversation_snooze, name="conversation-snooze"),
    endpoint(CONVERSATION + "pending", views_inbox.conversation_pending, name="conversation-pending"),
    page("dashboard/conversations/canned-replies/", views_inbox_setup.canned_replies, name="canned-replies"),
    endpoint(
        "dashboard/conversations/canned-replies/<int:reply_id>/delete",
        views_inbox_setup.canned_reply_delete,
        name="canned-reply-delete",
    ),
    page("dashboard/conversations/settings/", views_inbox_setup.inbox_settings_page, name="inbox-settings"),
    page(
        "dashboard/conversations/preferences/", views_inbox_setup.inbox_preferences, name="inbox-preferences"
    ),
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
    endpoint(API_CONVERSATION, apis.ConversationDetailApi.as_view(), name="api-conversation"),
    endpoint(API_CONVERSATION + "/messages", apis.ConversationMessagesApi.as_view(), name="api-messages"),
    endpoint(API_CONVERSATION + "/assign", apis.ConversationAssignApi.as_view(), name="api-assign"),
    endpoint(API_CONVERSATION + "/status", apis.ConversationStatusApi.as_view(), name="api-status"),
    # REST API v1: a widget's bot and automations (chat.apis_bot), canned replies (chat.apis_canned)
    endpoint(API_WIDGET + "bot", apis_bot.BotSettingsApi.as_view(), name="api-bot"),
    endpoint(API_WIDGET + "automations", apis_bot.AutomationListApi.as_view(), name="api-automations"),
    endpoint(API_RULE, apis_bot.AutomationDetailApi.as_view(), name="api-automation"),
    endpoint(API_RULE + "/enable", apis_bot.AutomationEnableApi.as_view(), name="api-automation-enable"),
    endpoint(API_RULE + "/disable", apis_bot.AutomationDisableApi.as_view(), name="api-automation-disable"),
    endpoint("api/v1/canned-replies", apis_canned.CannedReplyListApi.as_view(), name="api-canned-replies"),
    endpoint(
        "api/v1/canned-replies/<int:reply_id>",
        apis_canned.CannedReplyDetailApi.as_view(),
        name="api-canned-reply",
    ),
    endpoint("api/v1/contacts", apis_contacts.ContactListApi.as_view(), name="api-contacts"),
    endpoint(API_CONTACT, apis_contacts.ContactDetailApi.as_view(), name="api-contact"),
    endpoint(
        API_CONTACT + "/conversations",
        apis_contacts.ContactConversationsApi.as_view(),
        name="api-contact-conversations",
    ),
    # The server-side chat API (API keys; chat.apis_chat)
    endpoint(
        "api/v1/chat/conversations", apis_chat.ChatConversationStartApi.as_view(), name="api-chat-start"
    ),
    endpoint(
        "api/v1/chat/conversations/<int:conversation_id>/messages",
        apis_chat.ChatMessageSendApi.as_view(),
        name="api-chat-messages",
    ),
    endpoint(
        "api/v1/chat/conversations/<int:conversation_id>/attachments",
        apis_chat.ChatAttachmentUploadApi.as_view(),
        name="api-chat-attachments",
    ),
]
