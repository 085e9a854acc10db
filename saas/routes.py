"""Declaring routes with the trailing-slash rule built in (docs/architecture.md, URLs).

    page("dashboard/widgets/", views.widget_list, name="list")      # ends with "/"
    endpoint("api/v1/members", apis.MemberListApi.as_view(), ...)   # never ends with "/"

A *page* is what a person opens in a browser (an HTML page for GET, maybe with a form that
posts back to it); an *endpoint* is everything else: API resources, form actions that
redirect, JSON and file responses, feeds, webhooks, scripts. Declaring the wrong shape
fails when the URL conf loads, so the rule cannot drift.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.urls import URLPattern, path

PAGE, ENDPOINT = "page", "endpoint"

View = Callable[..., Any]


def page(route: str, view: View, kwargs: dict[str, Any] | None = None, name: str | None = None) -> URLPattern:
    if route and not route.endswith("/"):  # "" is the site's root, "/"
        raise ImproperlyConfigured(f"Page routes end with a slash: {route!r}")
    return _declared(route, view, kwargs, name, PAGE)


def endpoint(
    route: str, view: View, kwargs: dict[str, Any] | None = None, name: str | None = None
) -> URLPattern:
    if route.endswith("/"):
        raise ImproperlyConfigured(f"Endpoint routes do not end with a slash: {route!r}")
    return _declared(route, view, kwargs, name, ENDPOINT)


def legacy(route: str, view: View, *, name: str, reason: str) -> URLPattern:
    """An address kept for clients that knew it before the rule (``reason`` says which)."""
    return _declared(route, view, None, name, f"legacy: {reason}")


def _declared(
    route: str, view: View, kwargs: dict[str, Any] | None, name: str | None, kind: str
) -> URLPattern:
    # name=None is Django's own default (an unnamed route); django-stubs accept only a str.
    pattern = path(route, view, kwargs or {}, name)  # type: ignore[arg-type]
    pattern.route_kind = kind  # type: ignore[attr-defined]  # read by the architecture test
    return pattern
