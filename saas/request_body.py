"""Request bodies refused early: a size limit per endpoint, and JSON nesting bounded before
the parser recurses.

* Every API view has ``max_body_bytes`` (:class:`BodyLimitMixin`; 64 KB unless the view
  says otherwise: a view that reads no body says ``max_body_bytes = NO_BODY_BYTES``, an upload
  says its own). A ``Content-Length`` above it is answered 413 ``payload_too_large`` before
  the body is read and before authentication, permissions and throttles; a body without a
  length (chunked) is cut at the same size while it is read (:class:`saas.parsers.BoundedJSONParser`,
  :func:`body_read`).
* JSON nested deeper than :data:`MAX_JSON_DEPTH` is answered 400 ``json_too_deep``: a
  linear scan of the raw bytes counts the open brackets outside strings before
  ``json.loads`` runs, so a body of ``[[[[...`` never reaches the C parser's recursion
  (which raises ``RecursionError``, a 500, past about a thousand levels).
* Malformed JSON is 400 ``parse_error``.

DRF views get this from ``REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]`` and their base
classes; a plain Django view that reads JSON calls :func:`json_body`, and code that
decodes JSON it was handed (a webhook) calls :func:`json_loads_bounded`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from django.conf import settings
from django.http import HttpRequest
from rest_framework.exceptions import ParseError

from .errors import PayloadTooLarge, ProblemError

DEFAULT_MAX_BODY_BYTES = 64 * 1024
# Endpoints that take a few short fields (a session's URLs, a rating, prechat answers).
SMALL_BODY_BYTES = 16 * 1024
# Endpoints that take no body: room for the ``{}`` a client may send anyway.
NO_BODY_BYTES = 1024
# Deeper than any document the APIs take (their deepest is three or four levels).
MAX_JSON_DEPTH = 32

# A whole JSON string (its brackets do not count), or one bracket. The string's pattern is
# the "unrolled loop" (runs of plain characters between escapes): linear, no backtracking.
_STRING = r'"[^"\\]*(?:\\.[^"\\]*)*"'
_TOKENS_BYTES = re.compile(rf"{_STRING}|[\[\]{{}}]".encode(), re.DOTALL)
_TOKENS_TEXT = re.compile(rf"{_STRING}|[\[\]{{}}]", re.DOTALL)
_OPENING = frozenset("[{")
_CLOSING = frozenset("]}")


class JsonTooDeep(ProblemError):
    status = 400
    code = "json_too_deep"
    title = "The JSON is nested too deeply"


class MalformedBody(ProblemError):
    status = 400
    code = "parse_error"
    title = "Malformed request body"


def json_depth_exceeds(raw: bytes | str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``raw`` opens more than ``limit`` arrays or objects inside one another
    (outside strings). Linear; most bodies have too few brackets to need the scan."""
    if isinstance(raw, bytes):
        if raw.count(b"[") + raw.count(b"{") <= limit:
            return False
        tokens = (chr(match.group()[0]) for match in _TOKENS_BYTES.finditer(raw))
    else:
        if raw.count("[") + raw.count("{") <= limit:
            return False
        tokens = (match.group()[0] for match in _TOKENS_TEXT.finditer(raw))
    depth = 0
    for first in tokens:
        if first in _OPENING:
            depth += 1
            if depth > limit:
                return True
        elif first in _CLOSING:
            depth -= 1
    return False


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def json_loads_bounded(raw: bytes | str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads`` that refuses deep nesting first (:class:`JsonTooDeep`); malformed
    JSON raises ``ValueError`` as ``json.loads`` does (NaN and Infinity included)."""
    if json_depth_exceeds(raw, max_depth):
        raise JsonTooDeep(f"Nest arrays and objects at most {max_depth} levels deep.")
    try:
        return json.loads(raw, parse_constant=_refuse_constant)
    except RecursionError as error:  # cannot pass the scan above; kept as a last guard
        raise JsonTooDeep(f"Nest arrays and objects at most {max_depth} levels deep.") from error


def declared_length(request: HttpRequest) -> int:
    """The request's ``Content-Length`` (0 when absent or not a number)."""
    value = request.META.get("CONTENT_LENGTH") or ""
    return int(value) if value.isascii() and value.isdigit() else 0


def too_large(limit: int) -> PayloadTooLarge:
    if limit <= NO_BODY_BYTES:
        return PayloadTooLarge("This endpoint takes no request body.")
    return PayloadTooLarge(f"Request bodies here are at most {limit:,} bytes.")


def length_check(request: HttpRequest, limit: int) -> None:
    """413 when the declared length is above ``limit``; nothing is read."""
    if declared_length(request) > limit:
        raise too_large(limit)


def body_read(request: HttpRequest, limit: int) -> bytes:
    """The body, at most ``limit`` bytes (413 above, declared or not)."""
    length_check(request, limit)
    raw = request.read(limit + 1)
    if len(raw) > limit:
        raise too_large(limit)
    return raw


def json_body(request: HttpRequest, *, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> Any:
    """The JSON body of a plain Django view: 413, 400 ``json_too_deep`` or 400
    ``parse_error`` as :class:`ProblemError` (render with ``problem_response``)."""
    raw = body_read(request, max_bytes)
    try:
        return json_loads_bounded(raw)
    except ValueError as error:
        raise MalformedBody(f"The body is not valid JSON: {error}") from error


if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.views import APIView

    _ViewBase = APIView  # what the mixin is mixed into
else:
    _ViewBase = object


class BodyLimitMixin(_ViewBase):
    """For API views: ``max_body_bytes`` checked against ``Content-Length`` first thing in
    ``initial()`` (so the answer still goes through the view's ``finalize_response``: CORS,
    problem details), and by :class:`saas.parsers.BoundedJSONParser` while reading."""

    max_body_bytes: ClassVar[int] = DEFAULT_MAX_BODY_BYTES

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        length_check(request._request, self.max_body_bytes)
        super().initial(request, *args, **kwargs)


def view_body_limit(view: object) -> int:
    return int(getattr(view, "max_body_bytes", DEFAULT_MAX_BODY_BYTES))


def json_stream_parse(stream: Any, parser_context: Mapping[str, Any] | None) -> Any:
    """What :class:`saas.parsers.BoundedJSONParser` does: the view's size limit (at most
    :data:`DEFAULT_MAX_BODY_BYTES` for JSON), the depth bound, then ``json.loads`` (DRF's
    ``ParseError`` when malformed)."""
    context = parser_context or {}
    # JSON is never larger than the default, even where the view takes larger uploads.
    limit = min(view_body_limit(context.get("view")), DEFAULT_MAX_BODY_BYTES)
    request = context.get("request")
    if request is not None:
        length_check(request._request, limit)
    raw = stream.read(limit + 1) if stream is not None else b""
    if len(raw) > limit:
        raise too_large(limit)
    encoding = context.get("encoding", settings.DEFAULT_CHARSET)
    try:
        return json_loads_bounded(raw.decode(encoding))
    except ValueError as error:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise ParseError(f"JSON parse error - {error}") from error
