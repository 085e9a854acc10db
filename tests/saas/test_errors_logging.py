"""saas.errors' request-log filter: an expected refusal is logged once, as one warning
line; a real 500 keeps its traceback.

Reproduced before the fix: an agent opening a managers-only dashboard page logged
"Forbidden (Permission denied)" with the PermissionDenied traceback, and with DEBUG on
(``make run``) Django's own console handler printed the line and the traceback a second time.
"""

from __future__ import annotations

import logging

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import path
from django_tenants.utils import tenant_context

from saas import urls_public
from tests.hosts import PUBLIC_HOST
from widget_builder.models import Widget

pytestmark = pytest.mark.django_db


def _boom(request):
    raise RuntimeError("a real bug")


def _forbidden(request):
    raise PermissionDenied("not for you")


# Served as the public host's URL conf by the tests below that need a failing view: the
# public routes (the error pages link to them) and the project's error handlers.
urlpatterns = [path("boom/", _boom), path("forbidden/", _forbidden), *urls_public.urlpatterns]
handler403 = urls_public.handler403
handler500 = urls_public.handler500


@pytest.fixture
def failing_views(settings):
    settings.PUBLIC_SCHEMA_URLCONF = __name__
    return Client(HTTP_HOST=PUBLIC_HOST, raise_request_exception=False)


@pytest.fixture
def log(caplog):
    caplog.set_level(logging.INFO)

    def lines() -> list[logging.LogRecord]:
        """What Django logged at warning level or above so far."""
        return [r for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("django")]

    return lines


def _one_warning_line(records: list[logging.LogRecord], status: int, path: str, caplog) -> None:
    assert len(records) == 1, [r.getMessage() for r in records]
    [record] = records
    assert record.name == "django.request" and record.levelno == logging.WARNING
    assert record.status_code == status and path in record.getMessage()
    assert record.exc_info is None and "Traceback" not in caplog.text


def test_a_role_refusal_on_the_dashboard_is_one_line(as_role, log, caplog):
    response = as_role("agent").get("/dashboard/billing/")
    assert response.status_code == 403
    _one_warning_line(log(), 403, "/dashboard/billing/", caplog)


def test_with_debug_on_the_line_is_not_printed_twice(as_role, settings, capsys):
    settings.DEBUG = True
    django_logger = logging.getLogger("django")
    # Django's own console handler (shown only with DEBUG) is gone: one handler, the root's.
    assert django_logger.handlers == [] and django_logger.propagate
    as_role("agent").get("/dashboard/billing/")
    assert "Traceback" not in capsys.readouterr().err


def test_a_refusal_from_the_tenant_api_is_one_line(as_role, log, caplog):
    response = as_role("agent").post("/api/v1/api-keys", {"name": "x"}, content_type="application/json")
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    _one_warning_line(log(), 403, "/api/v1/api-keys", caplog)


def test_a_refused_origin_on_the_widget_api_is_one_line(tenant_a, log, caplog):
    with tenant_context(tenant_a.tenant):
        widget = Widget.objects.first()
        Widget.objects.filter(pk=widget.pk).update(allowed_origins=["https://shop.example"])
    response = Client().get(
        f"/api/widget/v1/{widget.key}/config", HTTP_HOST=PUBLIC_HOST, HTTP_ORIGIN="https://evil.example"
    )
    assert response.status_code == 403 and response.json()["code"] == "origin_not_allowed"
    _one_warning_line(log(), 403, "/config", caplog)


def test_401_404_and_429_problem_answers_are_one_line_each(tenant_a, log, caplog):
    api = Client(HTTP_HOST=tenant_a.host)
    unauthenticated = api.get("/api/v1/members", HTTP_AUTHORIZATION="Bearer sk_nope")
    assert unauthenticated.status_code == 401
    _one_warning_line(log(), 401, "/api/v1/members", caplog)
    caplog.clear()

    missing = Client(HTTP_HOST=PUBLIC_HOST).get("/api/nothing-here")
    assert missing.status_code == 404
    _one_warning_line(log(), 404, "/api/nothing-here", caplog)
    caplog.clear()

    client = Client(HTTP_HOST=PUBLIC_HOST)
    for _ in range(121):
        limited = client.get("/api/public/v1/slug-check", {"slug": "free-name"})
        if limited.status_code == 429:
            break
    assert limited.status_code == 429
    _one_warning_line(log(), 429, "/api/public/v1/slug-check", caplog)
    assert all(r.exc_info is None for r in caplog.records)


def test_a_permission_denied_raised_anywhere_loses_its_traceback(failing_views, log, caplog):
    response = failing_views.get("/forbidden/")
    assert response.status_code == 403
    _one_warning_line(log(), 403, "/forbidden/", caplog)


def test_a_real_500_still_logs_its_traceback(failing_views, log, caplog):
    response = failing_views.get("/boom/")
    assert response.status_code == 500
    [record] = log()
    assert record.name == "django.request" and record.levelno == logging.ERROR
    assert record.exc_info is not None and record.exc_info[0] is RuntimeError
    assert "Traceback" in caplog.text and "a real bug" in caplog.text


def test_the_filter_is_configured_on_django_request():
    assert "expected_errors" in django_settings.LOGGING["loggers"]["django.request"]["filters"]
