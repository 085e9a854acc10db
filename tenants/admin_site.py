"""The platform admin's site: django-unfold's theme, and the one place its script policy
is relaxed.

Unfold drives its menus, tabs, filters and theme switcher with Alpine.js, whose standard
build evaluates ``x-data``/``x-on`` expressions with ``new Function`` and so needs
``script-src 'unsafe-eval'`` (unfold ships no CSP build: unfoldadmin/django-unfold#1344,
#2129). Every other page of every host keeps the strict policy; only the responses of
this site's views (all on the public host, staff only; the login page too) add
``'unsafe-eval'``. Nothing else is relaxed: no ``'unsafe-inline'`` for scripts, the nonce
and ``'self'`` stay, and unfold's templates load every script from our own origin. The
risk it leaves is an injected ``x-*`` attribute on an admin page; Django's autoescaping
keeps values out of attributes, and the values unfold writes into Alpine expressions are
names from code (slugified formset prefixes, counters), never stored data.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from csp.constants import UNSAFE_EVAL
from csp.decorators import csp_update
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest, HttpResponseBase
from unfold.sites import UnfoldAdminSite

from saas.csp import INLINE_STYLES

ADMIN_SCRIPT_POLICY = {"script-src": [UNSAFE_EVAL], **INLINE_STYLES}

View = Callable[..., HttpResponseBase]


class PlatformAdminSite(UnfoldAdminSite):
    site_header = "Platform administration"
    site_title = "Platform admin"
    index_title = "Workspaces, people and billing"

    def admin_view(self, view: View, cacheable: bool = False) -> View:
        # Every view of the site and of its model admins is wrapped here (not the login).
        return super().admin_view(csp_update(ADMIN_SCRIPT_POLICY)(view), cacheable)

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponseBase:
        view = functools.partial(super().login, extra_context=extra_context)
        return csp_update(ADMIN_SCRIPT_POLICY)(view)(request)


class PlatformAdminConfig(AdminConfig):
    """``django.contrib.admin`` with :class:`PlatformAdminSite` as ``admin.site``."""

    default_site = "tenants.admin_site.PlatformAdminSite"
