"""A session belongs to the workspace (or the public site) it was opened on.

Sessions live in the public schema and every host sets its own host-only cookie, but a
cookie carried to another host by hand (or by a script) would otherwise be honoured
there: a user in workspaces A and B could read B with A's session, and a workspace
session would open the public host's ``/workspaces/`` and mint hand-offs. So the routing
middleware, which alone turns a host into a tenant, records in each session the schema of
the host that first wrote it (``"public"`` on the public host), and on every other host
treats the request as anonymous.

Bound to the tenant, not the host name: a workspace reached through one of its custom
domains is the same workspace, and one workspace's domains share nothing with another's.
A refused session is neither used nor destroyed (it still works on its own host), and its
cookie is left alone. Sessions without a binding (opened before bindings existed) are
refused everywhere: signing in again opens a bound one.
"""

from __future__ import annotations

import logging
from importlib import import_module

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest

from saas.tenant_connection import SchemaOwner

logger = logging.getLogger(__name__)

# The schema name of the tenant the session was opened for, or "public".
SESSION_TENANT_KEY = "_session_tenant"


def session_binding(tenant: SchemaOwner) -> str:
    """What a session opened for ``tenant`` (a Tenant, or django-tenants' public stand-in)
    records: its schema name, which never changes when a domain or slug does."""
    return tenant.schema_name


def session_bind(session: SessionBase, binding: str) -> None:
    session[SESSION_TENANT_KEY] = binding


def session_refuse_foreign(request: HttpRequest, binding: str) -> bool:
    """Before the view: give the request a fresh, empty session when the one its cookie
    names was opened for another tenant (or for none). Returns whether it refused."""
    session = request.session
    if not session.session_key:
        return False  # no cookie: nothing to check (and no query)
    accessed = session.accessed
    found, stored = session.get(SESSION_TENANT_KEY), bool(session.keys())
    # Checking the binding is not a use of the session: a page that never reads it (the
    # widget's scripts) must not answer "Vary: Cookie" because a cookie came along.
    session.accessed = accessed
    if found == binding or not stored:
        return False  # ours, or a cookie naming no stored (or an expired) session
    logger.warning(
        "session refused on %s (%s): opened for %s; %s %s served as anonymous",
        request.get_host(),
        binding,
        found or "nothing (unbound)",
        request.method,
        request.path,
    )
    request.session = import_module(settings.SESSION_ENGINE).SessionStore()
    # SessionMiddleware deletes the cookie of a request whose session ends up empty; the
    # refused cookie belongs to its own host, so this host pretends it never received it.
    request.COOKIES.pop(settings.SESSION_COOKIE_NAME, None)
    return True


def session_bind_opened(request: HttpRequest, binding: str) -> None:
    """After the view: a session written during this request (a sign-in, a hand-off, a
    pending email confirmation) is bound to the tenant it was written for. A session that
    arrived bound was checked on the way in, and a flushed one (signing out) stays empty."""
    session = getattr(request, "session", None)
    if session is not None and session.modified and session.keys() and SESSION_TENANT_KEY not in session:
        session_bind(session, binding)
