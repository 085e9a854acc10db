"""Requests as the tenant routing middleware leaves them, for annotations only.

On a tenant's host, ``TenantRoutingMiddleware`` (tenants.middleware) sets
``request.tenant`` to the host's Tenant before any view runs; a view or service of a tenant
host annotates its request as :class:`TenantRequest` to say so. No such object is ever
made: at run time it is Django's ``HttpRequest``. The dashboard's requests carry more
(``tenants.dashboard.DashboardRequest``). On the public host ``request.tenant`` is
django-tenants' stand-in for the public schema, not a Tenant: public views use
``HttpRequest``.
"""

from __future__ import annotations

from typing import cast

from django.http import HttpRequest
from rest_framework.request import Request

from saas.tenant_connection import SchemaOwner

from .models import Tenant, User


class RoutedRequest(HttpRequest):
    """Any request past the routing middleware: its tenant, or the public schema's stand-in."""

    tenant: SchemaOwner
    urlconf: str  # the host's URL conf, set by the same middleware


class TenantRequest(RoutedRequest):
    tenant: Tenant


class SignedInTenantRequest(TenantRequest):
    """Behind a check that the user signed in (``login_required``, the dashboard)."""

    user: User


def request_tenant(request: HttpRequest | Request) -> Tenant:
    """The Tenant of a tenant host's request, plain or DRF's (which wraps Django's)."""
    plain = request._request if isinstance(request, Request) else request
    return cast(TenantRequest, plain).tenant
