"""URLs of assist (tenant hosts), beside the inbox's."""

from saas.routes import endpoint, page

from . import views

app_name = "assist"

CONVERSATION = "dashboard/conversations/<int:conversation_id>/assist/"

tenant_urlpatterns = [
    page("dashboard/conversations/assist/", views.assist_settings_page, name="settings"),
    endpoint(CONVERSATION + "suggest", views.assist_suggest, name="suggest"),
    endpoint(CONVERSATION + "rewrite", views.assist_rewrite, name="rewrite"),
    page(CONVERSATION + "summary/", views.assist_summary, name="summary"),
    endpoint(CONVERSATION + "translations", views.assist_translations, name="translations"),
    endpoint(CONVERSATION + "reply", views.assist_reply, name="reply"),
]
