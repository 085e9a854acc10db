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

from typing import Any, ClassVar

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
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
        return problems

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        for status, text in sorted(self.machinery_problems().items()):
            code = str(status)
            if code not in responses:
                responses[code] = self._get_response_for_code(
                    problem_response(text), code, [PROBLEM_CONTENT_TYPE], direction
                )
        return dict(sorted(responses.items()))
