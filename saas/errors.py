"""One error format for every API: RFC 9457 problem details with a stable ``code``.

Raise a :class:`ProblemError` subclass anywhere below a view; the DRF exception handler
(:func:`api_exception_handler`) and the plain-Django handlers (:func:`problem_response`,
used by middleware and ``handler404``/``handler500``) render the same body::

    {"type": "/docs/errors#tenant_suspended", "title": "Workspace suspended",
     "status": 403, "detail": "...", "code": "tenant_suspended"}

Validation problems add ``errors``: ``{"field": [{"code": ..., "message": ...}]}``.
Nothing internal (stack traces, SQL, schema names) ever goes into a body.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from rest_framework import exceptions as drf_exceptions
from rest_framework.views import exception_handler as drf_default_handler

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "/docs/errors#"

# code -> (status, title). Every code any API can answer with is listed here once; the
# public error reference page is generated from it.
REGISTRY: dict[str, tuple[int, str]] = {}

# Per-field problems: ``{"field": [{"code": ..., "message": ...}]}``.
FieldErrors = dict[str, list[dict[str, str]]]


def register(code: str, status: int, title: str) -> str:
    REGISTRY.setdefault(code, (status, title))
    return code


class ProblemError(Exception):
    """Base of every error we answer on purpose."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    title: ClassVar[str] = "Bad request"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        register(cls.code, cls.status, cls.title)

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: FieldErrors | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        self.detail = detail or self.title
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra
        super().__init__(self.detail)

    def as_problem(self) -> dict[str, Any]:
        body = problem_body(self.status, self.code, self.title, self.detail, errors=self.errors)
        body.update(self.extra)
        return body


register("bad_request", 400, "Bad request")


class ValidationFailed(ProblemError):
    status = 422
    code = "validation_error"
    title = "Some fields are not valid"


class NotAuthenticated(ProblemError):
    status = 401
    code = "not_authenticated"
    title = "Authentication required"


class PermissionDenied(ProblemError):
    status = 403
    code = "permission_denied"
    title = "You do not have permission to do this"


class NotFound(ProblemError):
    status = 404
    code = "not_found"
    title = "Not found"


class Conflict(ProblemError):
    status = 409
    code = "conflict"
    title = "Conflict"


class QuotaExceeded(ProblemError):
    """A plan limit; ``limit`` names it (widgets, storage_mb, …) and the detail says how to
    upgrade. Nothing partial is stored."""

    status = 403
    code = "quota_exceeded"
    title = "Your plan's limit is reached"


class BillingRestricted(ProblemError):
    """The workspace's subscription is unpaid past its grace period: read-only but billing."""

    status = 403
    code = "billing_restricted"
    title = "This workspace is read-only until its payment goes through"


class InvalidSignature(ProblemError):
    """A signed request (a Stripe webhook) whose signature is missing, wrong or too old."""

    status = 400
    code = "invalid_signature"
    title = "The request's signature is not valid"


class PayloadTooLarge(ProblemError):
    status = 413
    code = "payload_too_large"
    title = "The request body is too large"


class RateLimited(ProblemError):
    status = 429
    code = "rate_limited"
    title = "Too many requests"


class ServiceUnavailable(ProblemError):
    status = 503
    code = "service_unavailable"
    title = "Service temporarily unavailable"


class ServerError(ProblemError):
    status = 500
    code = "server_error"
    title = "Server error"


register("method_not_allowed", 405, "Method not allowed")
register("not_acceptable", 406, "Not acceptable")
register("unsupported_media_type", 415, "Unsupported media type")
register("parse_error", 400, "Malformed request body")


def problem_body(
    status: int,
    code: str,
    title: str,
    detail: str | None = None,
    *,
    errors: FieldErrors | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": f"{PROBLEM_TYPE_BASE}{code}",
        "title": title,
        "status": status,
        "detail": detail or title,
        "code": code,
    }
    if errors:
        body["errors"] = errors
    return body


def problem_response(error: ProblemError) -> JsonResponse:
    response = JsonResponse(error.as_problem(), status=error.status, content_type=PROBLEM_CONTENT_TYPE)
    for name, value in error.headers.items():
        response[name] = value
    return response


def wants_json(request: HttpRequest) -> bool:
    """API paths and clients that ask for JSON get problem details, browsers get pages."""
    if request.path.startswith("/api/"):
        return True
    accept = request.headers.get("Accept", "")
    return "json" in accept and "text/html" not in accept


def error_response(request: HttpRequest, error: ProblemError, *, template: str) -> HttpResponse:
    """Problem details for API clients, a friendly page for people."""
    if wants_json(request):
        return problem_response(error)
    html = render_to_string(template, {"error": error, "request": request})
    response = HttpResponse(html, status=error.status)
    for name, value in error.headers.items():
        response[name] = value
    return response


# --- logging ----------------------------------------------------------------------------


class ExpectedErrorLogFilter(logging.Filter):
    """On ``django.request``: an answer below 500 (a 403 from ``PermissionDenied``, a 401,
    404 or 429 problem answer) is one we give on purpose, so it stays one warning line;
    Django would attach the exception's traceback to it. 500s keep theirs."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if isinstance(status, int) and status < 500:
            record.exc_info = None
            record.exc_text = None
        return True


# --- Django URLconf handlers ------------------------------------------------------------


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return error_response(request, NotFound("Nothing here."), template="404.html")


def handler403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return error_response(request, PermissionDenied(), template="403.html")


def handler400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return error_response(request, ProblemError("The request could not be understood."), template="400.html")


def handler500(request: HttpRequest) -> HttpResponse:
    error = ServerError("Something went wrong on our side. It has been logged.")
    return error_response(request, error, template="500.html")


# --- DRF --------------------------------------------------------------------------------


def _field_errors(detail: Any, prefix: str = "") -> FieldErrors:
    """Flatten DRF's nested ``ErrorDetail`` structure into ``{"a.b": [{code, message}]}``."""
    out: FieldErrors = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if key == "non_field_errors" and not prefix:
                name = "__all__"
            out.update(_field_errors(value, name))
    elif isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            out[prefix or "__all__"] = [
                {"code": getattr(item, "code", "invalid"), "message": str(item)} for item in detail
            ]
        else:
            for index, item in enumerate(detail):
                out.update(_field_errors(item, f"{prefix}.{index}" if prefix else str(index)))
    else:
        out[prefix or "__all__"] = [{"code": getattr(detail, "code", "invalid"), "message": str(detail)}]
    return out


_DRF_CODES = {
    drf_exceptions.ParseError: "parse_error",
    drf_exceptions.AuthenticationFailed: "not_authenticated",
    drf_exceptions.NotAuthenticated: "not_authenticated",
    drf_exceptions.PermissionDenied: "permission_denied",
    drf_exceptions.NotFound: "not_found",
    drf_exceptions.MethodNotAllowed: "method_not_allowed",
    drf_exceptions.NotAcceptable: "not_acceptable",
    drf_exceptions.UnsupportedMediaType: "unsupported_media_type",
    drf_exceptions.Throttled: "rate_limited",
}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> JsonResponse | None:
    """DRF ``EXCEPTION_HANDLER``: every error leaves as problem details."""
    if isinstance(exc, ProblemError):
        return problem_response(exc)
    if isinstance(exc, DjangoValidationError):
        errors = {
            field: [{"code": e.code or "invalid", "message": " ".join(e.messages)} for e in errs]
            for field, errs in (
                exc.error_dict.items() if hasattr(exc, "error_dict") else [("__all__", exc.error_list)]
            )
        }
        return problem_response(ValidationFailed(errors=errors))
    if isinstance(exc, Http404):
        return problem_response(NotFound())
    if isinstance(exc, DjangoPermissionDenied):
        return problem_response(PermissionDenied())
    if isinstance(exc, drf_exceptions.ValidationError):
        return problem_response(ValidationFailed(errors=_field_errors(exc.detail)))
    if isinstance(exc, drf_exceptions.APIException):
        response = drf_default_handler(exc, context)  # keeps headers such as Retry-After
        codes = exc.get_codes()
        code = next((c for cls, c in _DRF_CODES.items() if isinstance(exc, cls)), None)
        code = code or (codes if isinstance(codes, str) else "bad_request")
        title = REGISTRY.get(code, (exc.status_code, "Error"))[1]
        problem = JsonResponse(
            problem_body(exc.status_code, code, title, str(exc.detail)),
            status=exc.status_code,
            content_type=PROBLEM_CONTENT_TYPE,
        )
        if response is not None:
            for header in ("Retry-After", "WWW-Authenticate", "Allow"):
                if header in response:
                    problem[header] = response[header]
        return problem
    return None  # unexpected: Django logs it and handler500 answers
