"""URLs of the quality app (tenant hosts): the unanswered and low-rated questions, and the
bot tests."""

from saas.routes import endpoint, page

from . import views

app_name = "quality"

tenant_urlpatterns = [
    page("dashboard/quality/", views.questions, name="questions"),
    page("dashboard/quality/answer/", views.questions_answer, name="answer"),
    endpoint("dashboard/quality/dismiss", views.questions_dismiss, name="dismiss"),
    page("dashboard/quality/tests/", views.tests, name="tests"),
    endpoint("dashboard/quality/tests/run", views.tests_run, name="tests-run"),
    page("dashboard/quality/tests/<int:test_id>/", views.test_edit, name="test"),
    endpoint("dashboard/quality/tests/<int:test_id>/delete", views.test_delete, name="test-delete"),
]
