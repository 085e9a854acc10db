"""One middleware, first after the health probes: the scrape endpoint (``endpoint``), the
request id (``X-Request-ID`` in and out), the request's latency by route in the metrics, and
one log line per request with the context the layers below bound (``workspace``,
``widget_key``) and the signed-in user.

Its cost on the chat path: a regex match on the incoming id (or a uuid4), two context
variable writes, one histogram observation and one log line; no database query (the user is
read only when a layer below already loaded it).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import structlog
from django.http import HttpRequest, HttpResponseBase, StreamingHttpResponse

from .context import HEADER, request_id_from
from .endpoint import PATH, metrics_response
from .metrics import HTTP_REQUEST_DURATION, status_class

access_log = structlog.get_logger("saas.request")

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_HEADER_META = "HTTP_" + HEADER.upper().replace("-", "_")


def route_of(request: HttpRequest) -> str:
    """The matched URL pattern's name (``chat:widget_messages``), never the raw path: a path
    holds ids and keys, which would make a time series per visitor."""
    match = request.resolver_match
    if match is None:
        return "<unmatched>"
    return match.view_name or match.route or "<unnamed>"


def _fields(request: HttpRequest) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    tenant = getattr(request, "tenant", None)
    schema = getattr(tenant, "schema_name", None)
    if schema and schema != "public":
        fields["workspace"] = schema
        fields["workspace_slug"] = getattr(tenant, "slug", None)
    match = request.resolver_match
    if match is not None and "widget_key" in match.kwargs:
        fields["widget_key"] = match.kwargs["widget_key"]
    user = getattr(request, "_cached_user", None)  # loaded by a layer below: no query here
    if user is not None and user.is_authenticated:
        fields["user_id"] = user.pk
    return fields


class RequestObservabilityMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if request.path == PATH:
            return metrics_response(request)
        started = time.perf_counter()
        request_id = request_id_from(request.META.get(_HEADER_META))
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        response[HEADER] = request_id
        route = route_of(request)
        method = request.method if request.method in _METHODS else "OTHER"
        HTTP_REQUEST_DURATION.labels(route, method, status_class(response.status_code)).observe(elapsed)
        access_log.info(
            "request",
            method=method,
            path=request.path,
            route=route,
            status=response.status_code,
            latency_ms=round(elapsed * 1000, 1),
            **_fields(request),
        )
        if not isinstance(response, StreamingHttpResponse):
            # A stream's body runs after this returns: its lines keep the request's id.
            structlog.contextvars.clear_contextvars()
        return response
