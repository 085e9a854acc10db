"""URLs of the insights app: the Analytics page and the REST API's summary (tenant hosts), the
widget's answer timings (public host)."""

from saas.routes import endpoint, page

from . import apis, views, widget_api

app_name = "insights"

# The widget's answer timings (public host, beside chat's visitor API; also read by the
# widget API's OpenAPI document).
widget_api_urlpatterns = [
    endpoint(
        "api/widget/v1/<str:widget_key>/conversations/<int:conversation_id>/messages/<int:seq>/timing",
        widget_api.AnswerTimingApi.as_view(),
        name="widget-timing",
    ),
]

public_urlpatterns = [*widget_api_urlpatterns]

tenant_urlpatterns = [
    page("dashboard/analytics/", views.analytics, name="analytics"),
    endpoint("api/v1/analytics/summary", apis.AnalyticsSummaryApi.as_view(), name="api-summary"),
]
