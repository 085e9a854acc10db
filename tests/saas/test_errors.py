"""One problem-details format for API errors; friendly pages for people."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.test import RequestFactory
from rest_framework import exceptions, serializers

from saas import errors

pytestmark = pytest.mark.django_db
PROBLEM = "application/problem+json"


def _handle(exc):
    response = errors.api_exception_handler(exc, {})
    import json

    return response, json.loads(response.content)


def test_problem_body_has_the_rfc_9457_members_and_a_stable_code():
    response, body = _handle(errors.NotFound("No such widget."))
    assert response.status_code == 404
    assert response["Content-Type"] == PROBLEM
    assert body == {
        "type": "/docs/errors#not_found",
        "title": "Not found",
        "status": 404,
        "detail": "No such widget.",
        "code": "not_found",
    }


def test_drf_validation_errors_become_422_with_per_field_errors():
    class Input(serializers.Serializer):
        email = serializers.EmailField()
        age = serializers.IntegerField(min_value=0)

    data = Input(data={"email": "nope", "age": -1})
    assert not data.is_valid()
    response, body = _handle(exceptions.ValidationError(data.errors))
    assert response.status_code == 422
    assert body["code"] == "validation_error"
    assert body["errors"]["email"][0]["code"] == "invalid"
    assert body["errors"]["age"][0]["code"] == "min_value"


def test_django_errors_are_converted():
    assert _handle(Http404())[1]["code"] == "not_found"
    assert _handle(DjangoPermissionDenied())[1]["code"] == "permission_denied"
    response, body = _handle(DjangoValidationError({"name": ["Too long."]}))
    assert response.status_code == 422
    assert body["errors"]["name"][0]["message"] == "Too long."


def test_throttled_keeps_retry_after():
    response, body = _handle(exceptions.Throttled(wait=7))
    assert response.status_code == 429
    assert body["code"] == "rate_limited"
    assert response["Retry-After"] == "7"


def test_other_drf_errors_map_to_codes():
    assert _handle(exceptions.NotAuthenticated())[1]["code"] == "not_authenticated"
    assert _handle(exceptions.MethodNotAllowed("PUT"))[1]["code"] == "method_not_allowed"
    assert _handle(exceptions.ParseError())[1]["code"] == "parse_error"


def test_unexpected_exceptions_are_left_to_the_500_handler():
    assert errors.api_exception_handler(RuntimeError("boom"), {}) is None


def test_500_is_a_friendly_page_for_people_and_problem_details_for_apis():
    rf = RequestFactory()
    page = errors.handler500(rf.get("/dashboard/", HTTP_ACCEPT="text/html"))
    assert page.status_code == 500
    assert b"Something went wrong on our side" in page.content
    api = errors.handler500(rf.get("/api/v1/widgets"))
    assert api.status_code == 500 and api["Content-Type"] == PROBLEM
    assert b"Traceback" not in api.content


def test_unknown_public_path_is_a_friendly_404(client):
    response = client.get("/no-such-page", HTTP_HOST="saas.test", HTTP_ACCEPT="text/html")
    assert response.status_code == 404
    assert b"Page not found" in response.content


def test_unknown_public_api_path_is_problem_details(client):
    response = client.get("/api/nothing-here", HTTP_HOST="saas.test")
    assert response.status_code == 404
    assert response["Content-Type"] == PROBLEM
    assert response.json()["code"] == "not_found"


def test_error_reference_lists_every_code(client):
    html = client.get("/docs/errors/", HTTP_HOST="saas.test").content.decode()
    for code in ("not_found", "validation_error", "tenant_suspended", "slug_taken", "rate_limited"):
        assert f'id="{code}"' in html
