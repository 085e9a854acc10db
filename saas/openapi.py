"""What both OpenAPI documents (the workspace API and the widget API) say about errors.

Every operation documents the problem-details answers the platform's machinery can give
it, beside the ones its view describes itself (``extend_schema``): the base classes list
theirs in ``openapi_problems`` (a widget key that does not exist, an origin refused, a
role too low...); any POST, PUT or PATCH may be refused for its body's size (413), and
one whose endpoint reads a body for its JSON (400 ``parse_error``, ``json_too_deep``) or
its media type (415). A view's own description of a status wins. schemathesis checks
the answers against these documents (tests/saas/test_api_schemathesis.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from .errors import PROBLEM_CONTENT_TYPE

# Any call that may carry a body (whether its endpoint reads one or not).
SIZE_PROBLEMS: dict[int, str] = {
    413: "The body is larger than this endpoint takes (`payload_too_large`).",
}
# A call whose endpoint reads a body.
BODY_PROBLEMS: dict[int, str] = {
    400: "The body is not valid JSON (`parse_error`) or nests arrays and objects too deeply "
    "(`json_too_deep`).",
    415: "The body's media type is not one this endpoint takes (`unsupported_media_type`).",
    422: "Some fields are not valid (`validation_error`, with `errors` per field).",
}
WITH_BODY = frozenset({"POST", "PUT", "PATCH"})
# A POST of an API whose views take an Idempotency-Key (``openapi_idempotency_key``).
IDEMPOTENCY_PROBLEMS: dict[int, str] = {
    400: "The Idempotency-Key header is not valid (`idempotency_key_invalid`).",
    409: "The first request with this Idempotency-Key has not finished (`idempotency_key_in_use`); "
    "see `Retry-After`.",
    422: "This Idempotency-Key was used with another request (`idempotency_key_reused`).",
}
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    str,
    location=OpenApiParameter.HEADER,
    required=False,
    description="Up to 255 printable ASCII characters (a UUID): a retry with the same key and the same "
    "request is answered with the first answer (header `Idempotent-Replayed: true`) for "
    "`API_IDEMPOTENCY_HOURS` (24 h), and nothing is done twice.",
)
IDEMPOTENT_REPLAYED = OpenApiParameter(
    "Idempotent-Replayed",
    str,
    location=OpenApiParameter.HEADER,
    response=True,
    description="`true` when this is the answer of an earlier request with the same Idempotency-Key.",
)
# Where the caller stands against its limit (IETF draft "RateLimit header fields for HTTP").
RATE_LIMIT_HEADERS = [
    OpenApiParameter(name, int, location=OpenApiParameter.HEADER, response=True, description=description)
    for name, description in (
        ("RateLimit-Limit", "Calls allowed per minute to this API key or person."),
        ("RateLimit-Remaining", "Calls left in the current minute."),
        ("RateLimit-Reset", "Seconds until the minute ends and the count starts again."),
    )
]


class ProblemFieldError(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class ProblemOutput(serializers.Serializer):
    """RFC 9457 problem details, as every error of the APIs is answered."""

    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    code = serializers.CharField(help_text="Stable machine code (see /docs/errors/).")
    # The serializer's metaclass takes declared fields off the class: Serializer.errors stays.
    errors = serializers.DictField(  # type: ignore[assignment]
        child=ProblemFieldError(many=True), required=False, help_text="Validation errors per field."
    )


def problem_response(description: str) -> OpenApiResponse:
    return OpenApiResponse(ProblemOutput, description=description)


def problems_of(table: Mapping[int, str], *statuses: int, **described: str) -> dict[Any, OpenApiResponse]:
    """``extend_schema`` responses for these error statuses, as problem details worded by an
    API module's ``table``; a keyword ``_<status>`` gives a status words of its own. Each
    module binds its table once: ``problems = partial(problems_of, PROBLEMS)``."""
    texts = {code: table[code] for code in statuses}
    texts.update({int(code.lstrip("_")): text for code, text in described.items()})
    return {(status, PROBLEM_CONTENT_TYPE): problem_response(texts[status]) for status in sorted(texts)}


class ProblemAutoSchema(AutoSchema):
    """drf-spectacular's schema, with the machinery's problem answers on every operation."""

    # Read from the view: ``openapi_problems: ClassVar[dict[int, str]]``.
    view_problems_attribute: ClassVar[str] = "openapi_problems"

    def machinery_problems(self) -> dict[int, str]:
        problems = dict(getattr(self.view, self.view_problems_attribute, {}))
        if self.method in WITH_BODY:
            takes_body = self.get_request_serializer() is not None
            for status, text in {**SIZE_PROBLEMS, **(BODY_PROBLEMS if takes_body else {})}.items():
                problems.setdefault(status, text)
        if self._idempotent():
            for status, text in IDEMPOTENCY_PROBLEMS.items():
                problems[status] = f"{problems[status]} Or: {text}" if status in problems else text
        return problems

    def _idempotent(self) -> bool:
        return self.method == "POST" and bool(getattr(self.view, "openapi_idempotency_key", False))

    def get_override_parameters(self) -> list[Any]:
        parameters: list[Any] = list(super().get_override_parameters())
        if getattr(self.view, "openapi_rate_limit_headers", False):
            parameters += RATE_LIMIT_HEADERS
        if self._idempotent():
            parameters += [IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED]
        return parameters

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        for status, text in sorted(self.machinery_problems().items()):
            code = str(status)
            if code not in responses:
                responses[code] = self._get_response_for_code(
                    problem_response(text), code, [PROBLEM_CONTENT_TYPE], direction
                )
        if self._idempotent():  # added to what the view says of these statuses, if it does
            for status, text in IDEMPOTENCY_PROBLEMS.items():
                answer = responses.get(str(status))
                if answer is not None and text not in answer.get("description", ""):
                    answer["description"] = f"{answer['description']} Or: {text}".strip()
        return dict(sorted(responses.items()))
