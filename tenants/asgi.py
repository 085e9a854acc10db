"""WebSockets meet the tenancy rules HTTP follows. Django's middleware does not run for a
socket (django-tenants #767, #1143), so this ASGI middleware does what
``TenantRoutingMiddleware`` and the session binding do for a request:

* the ``Host`` header (validated against ``ALLOWED_HOSTS``) names the public site or one
  active workspace, through the same cached lookup (``tenant_resolve_host``);
* on a workspace host, the session cookie names a user only if that session was opened
  for this workspace (``tenants.sessions``) and the user is a member: ``scope["user"]``,
  ``scope["role"]``;
* ``scope["origin_ok"]`` says whether the page that opened the socket is this host itself.

Nothing here accepts or refuses a socket: the consumers decide, from what is in the scope.
Database work runs on the thread-sensitive executor like ``tenants.context.run_in_schema``
(not Channels' ``database_sync_to_async``, which closes the thread's connection around each
call). With the database unreachable, the socket is closed with 1013 (try again later) and
the outage logged once (``saas.database_outage``), no traceback.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.models import AnonymousUser
from django.db import DatabaseError
from django.http.cookie import parse_cookie
from django.http.request import split_domain_port, validate_host
from django.utils.crypto import constant_time_compare

from saas.database_outage import is_database_unavailable, note_outage

from .models import Membership, Tenant, User
from .selectors import tenant_resolve_host
from .sessions import SESSION_TENANT_KEY

WS_TRY_AGAIN_LATER = 1013


def _headers(scope: dict[str, Any]) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


def _session_user(session_key: str, tenant: Tenant) -> tuple[User | None, str | None]:
    """The member a workspace session belongs to, and their role (None, None otherwise)."""
    session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    if session.get(SESSION_TENANT_KEY) != tenant.schema_name or BACKEND_SESSION_KEY not in session:
        return None, None
    user = User.objects.filter(pk=session.get(SESSION_KEY), is_active=True).first()
    if user is None or not constant_time_compare(
        session.get(HASH_SESSION_KEY, ""), user.get_session_auth_hash()
    ):
        return None, None
    role = Membership.objects.filter(tenant=tenant, user=user).values_list("role", flat=True).first()
    return (user, role) if role else (None, None)


def _resolve(host: str, session_key: str) -> tuple[Tenant | None, User | None, str | None]:
    tenant = tenant_resolve_host(host)
    if tenant is None or tenant.status != Tenant.Status.ACTIVE:
        return None, None, None
    user, role = _session_user(session_key, tenant) if session_key else (None, None)
    return tenant, user, role


async def _close_unavailable(receive: Any, send: Any) -> None:
    """The database is unreachable: the socket opens and closes at once with 1013 (try
    again later), which the client reads as "reconnect later", not as a refusal."""
    message = await receive()
    if message.get("type") == "websocket.connect":
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": WS_TRY_AGAIN_LATER})


class TenantWebSocketMiddleware:
    """Fills ``tenant`` (a workspace, or None on the public host), ``public`` (the public
    host), ``user``, ``role`` and ``origin_ok`` into a socket's scope."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        headers = _headers(scope)
        raw_host = headers.get("host", "")
        domain, _port = split_domain_port(raw_host)
        scope = dict(scope, tenant=None, public=False, user=AnonymousUser(), role=None, origin_ok=False)
        if domain and validate_host(domain, settings.ALLOWED_HOSTS):
            http_scheme = "https" if scope.get("scheme") == "wss" else "http"
            scope["origin_ok"] = headers.get("origin") == f"{http_scheme}://{raw_host}"
            if domain in settings.PUBLIC_HOSTS:
                scope["public"] = True
            else:
                session_key = parse_cookie(headers.get("cookie", "")).get(settings.SESSION_COOKIE_NAME, "")
                try:
                    tenant, user, role = await sync_to_async(_resolve, thread_sensitive=True)(
                        domain, session_key
                    )
                except DatabaseError as exc:
                    if not is_database_unavailable(exc):
                        raise
                    note_outage(exc)
                    return await _close_unavailable(receive, send)
                scope.update(tenant=tenant, user=user or AnonymousUser(), role=role)
                if tenant is not None:
                    tenant.domain_url = domain
        return await self.inner(scope, receive, send)
