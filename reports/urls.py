"""URLs of the reports app (tenant hosts): a member's choice of email report, a report
sent on request, and the emails' unsubscribe link."""

from saas.routes import endpoint, page

from . import views

app_name = "reports"

tenant_urlpatterns = [
    page("dashboard/analytics/reports/", views.preferences, name="preferences"),
    endpoint("dashboard/analytics/reports/send", views.send_now, name="send-now"),
    page("reports/unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
]
