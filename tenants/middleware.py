"""The one place that turns a request's host into a tenant (or the public site).

* The public host (``BASE_DOMAIN``, ``www.`` and ``PUBLIC_HOSTS``) runs in the public
  schema with ``saas.urls_public``; ``request.tenant`` is the public stand-in
  (``schema_name == "public"``), never a Tenant.
* A known tenant host runs in that tenant's schema with ``saas.urls_tenant``.
* Any other host gets 404, never the public site: an unknown subdomain must not look
  like a workspace, nor reveal which ones exist.
* A tenant that is not serving answers with a documented status (docs/api-errors.md):
  suspended 403 ``tenant_suspended``; provisioning 503 ``tenant_provisioning``;
  deleting 404 ``not_found``.
* A session is honoured only on the tenant (or the public site) it was opened for
  (tenants.sessions); anywhere else the request is anonymous. SessionMiddleware runs
  before this one so that the check sees the session.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.http.request import split_domain_port
from django.urls import set_urlconf
from django_tenants.utils import get_public_schema_name

from saas.errors import NotFound, ProblemError, error_response
from saas.observability.context import context_bind
from saas.tenant_connection import connection

from .errors import TenantProvisioning, TenantSuspended
from .hosts import public_url
from .models import Tenant
from .requests import RoutedRequest
from .selectors import tenant_resolve_host
from .sessions import session_bind_opened, session_binding, session_refuse_foreign


def request_hostname(request: HttpRequest) -> str:
    """Host without port, lower-cased. ``get_host`` validates it against ALLOWED_HOSTS."""
    domain, _port = split_domain_port(request.get_host())
    return domain


class TenantRoutingMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, http_request: HttpRequest) -> HttpResponseBase:
        request = cast(RoutedRequest, http_request)  # given its tenant below
        connection.set_schema_to_public()
        host = request_hostname(request)
        if host in settings.PUBLIC_HOSTS:
            request.tenant = connection.tenant  # django-tenants' stand-in for the public schema
            request.urlconf = settings.PUBLIC_SCHEMA_URLCONF
            set_urlconf(request.urlconf)
            return self._serve(request)

        tenant = tenant_resolve_host(host)
        if tenant is None or tenant.status == Tenant.Status.DELETING:
            return error_response(
                request, NotFound("There is no workspace at this address."), template="404.html"
            )
        error: ProblemError
        if tenant.status == Tenant.Status.SUSPENDED:
            error = TenantSuspended(
                "This workspace is suspended. Its owner can contact support to restore it."
            )
            return error_response(request, error, template="tenants/suspended.html")
        if tenant.status == Tenant.Status.PROVISIONING:
            error = TenantProvisioning(
                "This workspace is being prepared. Try again in a few seconds.", headers={"Retry-After": "5"}
            )
            return error_response(request, error, template="tenants/provisioning.html")

        tenant.domain_url = host
        request.tenant = tenant
        connection.set_tenant(tenant)
        context_bind(workspace=tenant.schema_name)  # on this request's log lines
        request.urlconf = settings.ROOT_URLCONF
        set_urlconf(request.urlconf)
        return self._serve(request)

    def _serve(self, request: RoutedRequest) -> HttpResponseBase:
        binding = session_binding(request.tenant)
        session_refuse_foreign(request, binding)
        response = self.get_response(request)
        session_bind_opened(request, binding)  # SessionMiddleware saves it after this returns
        return response


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's policy (``CONTENT_SECURITY_POLICY``), plus on a workspace's host:

    * the public host's origin (ours too) in ``script-src`` and ``connect-src``: the widget
      builder runs the widget loader and chat UI served by the public host, which call the
      widget API there. It is the origin the page itself links to (``tenants.hosts``: the
      request's scheme and port), so no other host is allowed;
    * ``worker-src blob:`` on the API reference (ReDoc) alone, which builds its search
      index in a worker made from a blob: URL.
    """

    REDOC_TEMPLATE = "drf_spectacular/redoc.html"

    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        tenant = getattr(request, "tenant", None)  # unset when routing answered 404 itself
        if tenant is None or tenant.schema_name == get_public_schema_name():
            return parts
        additions = {"script-src": [public_url(request, "")], "connect-src": [public_url(request, "")]}
        if getattr(response, "template_name", None) == self.REDOC_TEMPLATE:
            additions["worker-src"] = ["blob:"]
        update = dict(parts.update or {})
        for directive, values in additions.items():
            present = update.get(directive) or ()
            update[directive] = [*([present] if isinstance(present, str) else present), *values]
        parts.update = update
        return parts
