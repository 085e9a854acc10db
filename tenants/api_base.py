"""The one base class every tenant API view uses (STYLE §6, §7).

It authenticates (session or ``Authorization: Bearer sk_...``), resolves the caller's role
in *this host's* tenant once, and checks it against the view's ``required_roles`` — a map
from HTTP method to roles, so permissions are data. Views never re-scope queries: they
use ``self.tenant`` and the ``tenant_queryset()`` helper. Outsiders get 404, not 403.
"""

from __future__ import annotations

from dataclasses import dataclass

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, permissions
from rest_framework.views import APIView

from saas.errors import NotAuthenticated, NotFound, ProblemError

from .dashboard import ALL_ROLES, MANAGERS
from .models import ApiKey, Membership
from .services.api_keys import KEY_PREFIX, api_key_authenticate


class ApiKeyInUrl(ProblemError):
    status = 401
    code = "api_key_in_url"
    title = "API keys are not accepted in URLs"


@dataclass
class ApiKeyPrincipal:
    """The caller when a request is made with an API key (no person behind it)."""

    key: ApiKey
    is_authenticated: bool = True
    is_active: bool = True
    is_staff: bool = False
    pk: None = None
    id: None = None

    @property
    def email(self) -> str:
        return f"api-key:{self.key.prefix}"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode(errors="replace")
        if not header:
            return None
        scheme, _, secret = header.partition(" ")
        if scheme != self.keyword or not secret.strip():
            raise NotAuthenticated("Use the header Authorization: Bearer sk_...")
        key = api_key_authenticate(secret=secret.strip(), tenant=request._request.tenant)
        if key is None:
            raise NotAuthenticated("This API key is not valid for this workspace, or was revoked.")
        return ApiKeyPrincipal(key), key

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "An API key: Authorization: Bearer sk_..."}


class TenantRolePermission(permissions.BasePermission):
    """Looks the caller's role up in the request's tenant and checks ``view.required_roles``."""

    def has_permission(self, request, view) -> bool:
        if request.method.lower() not in view.http_method_names or not hasattr(view, request.method.lower()):
            return True  # let the view answer 405 for methods it does not have
        if not request.user or not request.user.is_authenticated:
            raise NotAuthenticated()
        tenant = request._request.tenant
        if isinstance(request.user, ApiKeyPrincipal):
            role = request.user.key.role
            view.actor = Membership(tenant=tenant, role=role)
        else:
            membership = (
                Membership.objects.filter(tenant=tenant, user=request.user).select_related("user").first()
            )
            if membership is None:
                raise NotFound()  # do not confirm the workspace to outsiders
            view.actor = membership
        allowed = view.required_roles.get(request.method, frozenset())
        if request.method in ("HEAD", "OPTIONS"):
            allowed = view.required_roles.get("GET", frozenset())
        if isinstance(request.user, ApiKeyPrincipal) and request.method in view.sessions_only_methods:
            return False  # e.g. a leaked key must not be able to mint its successors
        return view.actor.role in allowed


class TenantAPIView(APIView):
    authentication_classes = [authentication.SessionAuthentication, ApiKeyAuthentication]
    permission_classes = [TenantRolePermission]
    required_roles: dict[str, frozenset[str]] = {"GET": ALL_ROLES}
    # Methods only a signed-in person may call, whatever an API key's role.
    sessions_only_methods: frozenset[str] = frozenset()
    actor: Membership

    @property
    def tenant(self):
        return self.request._request.tenant

    def initial(self, request, *args, **kwargs):
        # A key in a URL ends up in logs, browser history and Referer headers: refuse the
        # request whatever else authenticates it, so the mistake is noticed and fixed.
        for _name, values in request.query_params.lists():
            if any(value.startswith(KEY_PREFIX) for value in values):
                raise ApiKeyInUrl("Send the key in the Authorization header: Authorization: Bearer sk_...")
        super().initial(request, *args, **kwargs)

    def permission_denied(self, request, message=None, code=None):
        from saas.errors import PermissionDenied

        raise PermissionDenied("Your role in this workspace does not allow this.")


__all__ = ["ALL_ROLES", "MANAGERS", "TenantAPIView"]
