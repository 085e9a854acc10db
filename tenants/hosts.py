"""Absolute URLs across hosts, built from the request (never django.contrib.sites, which
caches one site for every tenant: django-tenants #271)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse

if TYPE_CHECKING:
    from .models import Tenant


def _origin(request: HttpRequest, host: str) -> str:
    port = request.get_port()
    default = "443" if request.is_secure() else "80"
    suffix = f":{port}" if port and port != default else ""
    return f"{request.scheme}://{host}{suffix}"


def public_url(request: HttpRequest, path: str) -> str:
    return _origin(request, settings.BASE_DOMAIN) + path


def tenant_url(request: HttpRequest, tenant: Tenant, path: str) -> str:
    domain = tenant.domains.filter(is_primary=True).values_list("domain", flat=True).first()
    return _origin(request, domain or f"{tenant.slug}.{settings.BASE_DOMAIN}") + path


def public_reverse(request: HttpRequest, name: str, *args: Any) -> str:
    """The absolute URL of a public-host route, from any host (a tenant host's URL conf
    does not hold the public routes)."""
    return public_url(request, reverse(name, args=args, urlconf=settings.PUBLIC_SCHEMA_URLCONF))
