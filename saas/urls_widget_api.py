"""The URL conf the widget API's OpenAPI document is generated from: every app's routes
under ``/api/widget/v1/<widget_key>/`` (``widget_api_urlpatterns``), and nothing else. The
document's title and description are chat's (``chat.widget_api.openapi``).

    manage.py spectacular --urlconf saas.urls_widget_api \\
        --custom-settings chat.widget_api.openapi.SCHEMA_SETTINGS --validate --fail-on-warn
"""

from django.urls import include, path

from actions import urls as actions
from chat import urls as chat
from insights import urls as insights
from widget_builder import urls as widget_builder

urlpatterns = [
    path("", include((widget_builder.widget_api_urlpatterns, widget_builder.app_name))),
    path("", include((chat.widget_api_urlpatterns, chat.app_name))),
    path("", include((insights.widget_api_urlpatterns, insights.app_name))),
    path("", include((actions.widget_api_urlpatterns, actions.app_name))),
]
