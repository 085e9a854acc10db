"""The one base class every tenant API view uses (docs/architecture.md, "Tenant REST API").

It authenticates (session or ``Authorization: Bearer sk_...``), resolves the caller's role
in *this host's* tenant once, and checks it against the view's ``required_roles`` — a map
from HTTP method to roles, so permissions are data. Outsiders get 404, not 403.

It also owns which rows a view can reach. A view declares what it serves, and the base
scopes it to the host's tenant::

    class MemberDetailApi(TenantAPIView):
        queryset = Membership.objects.select_related("user")   # what it serves
        lookup_url_kwarg = "member_id"                          # which URL part names one
        required_roles = {"PATCH": MANAGERS}

        def patch(self, request, member_id):
            member = self.get_object()   # this tenant's, or 404 like any unknown id

* A model of the tenant's schema (widgets, conversations, ...) is the tenant's already:
  the request runs in its schema (checked on every query).
* A model of the public schema (memberships, API keys, ...) is filtered by the request's
  tenant through its foreign key to ``Tenant``, or through ``tenant_field`` (a lookup such
  as ``"membership__tenant"``) when it has no direct one. A public model with no path to
  the tenant is refused when the class is created.

``get_queryset()``, ``get_object()`` and ``tenant_queryset()`` are the base's: a subclass
that defines them is refused when the class is created. To narrow the rows (a filter from
the query string), define ``narrow_queryset(queryset)``, which receives them already
scoped. For anything else a view reads, ``self.tenant_queryset(Model)`` scopes it the same
way. A view that must serve rows that are not the tenant's is a deliberate, reviewed
exception: it defines ``dangerously_get_queryset()``, a name reviewers search for.
"""

from __future__ import annotations

import inspect
import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn, TypeVar, cast

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured, ValidationError
from django.db.models import Model, QuerySet
from django.http import HttpResponseBase
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, permissions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.utils.encoders import JSONEncoder
from rest_framework.views import APIView

from saas.errors import NotAuthenticated, NotFound, PermissionDenied, ProblemError
from saas.idempotency.models import IdempotencyRecord
from saas.idempotency.store import Replay, fingerprint_of, idempotency_claim, idempotency_finish, key_check
from saas.ratelimit import RateState, rate_limit_count
from saas.request_body import BodyLimitMixin
from saas.tenant_connection import connection
from saas.throttles import ProblemThrottlingMixin

from .dashboard import ALL_ROLES, MANAGERS
from .models import ApiKey, Membership, Tenant
from .requests import request_tenant
from .services.api_keys import KEY_PREFIX, api_key_authenticate

if TYPE_CHECKING:
    from drf_spectacular.openapi import AutoSchema

logger = logging.getLogger(__name__)
M = TypeVar("M", bound=Model)


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

    def authenticate(self, request: Request) -> tuple[ApiKeyPrincipal, ApiKey] | None:
        header = authentication.get_authorization_header(request).decode(errors="replace")
        if not header:
            return None
        scheme, _, secret = header.partition(" ")
        if scheme != self.keyword or not secret.strip():
            raise NotAuthenticated("Use the header Authorization: Bearer sk_...")
        key = api_key_authenticate(secret=secret.strip(), tenant=request_tenant(request))
        if key is None:
            raise NotAuthenticated("This API key is not valid for this workspace, or was revoked.")
        return ApiKeyPrincipal(key), key

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


# drf-spectacular registers each extension from an untyped __init_subclass__.
class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = ApiKeyAuthentication
    name = "apiKey"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "An API key: Authorization: Bearer sk_..."}


def caller_of(request: Request) -> tuple[str, str] | None:
    """Who calls, for the per-caller limit and Idempotency-Key: ("key:<id>" or
    "user:<id>", the name of its limit), None when nobody is authenticated."""
    user = request.user
    if isinstance(user, ApiKeyPrincipal):
        return f"key:{user.key.pk}", "key_per_minute"
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}", "session_per_minute"
    return None


class ApiCallerThrottle(BaseThrottle):
    """Every call of the workspace API, counted per API key or per signed-in person
    (``API_RATE_LIMITS``); the view answers where the caller stands in ``RateLimit-*``."""

    scope, period_s = "api-caller", 60

    def __init__(self) -> None:
        self.state: RateState | None = None

    def allow_request(self, request: Request, view: APIView) -> bool:
        caller = caller_of(request)
        if caller is None:
            return True
        limit = int(settings.API_RATE_LIMITS[caller[1]])
        self.state = rate_limit_count(request, self.scope, limit=limit, period_s=self.period_s, key=caller[0])
        cast(TenantAPIView, view).rate_state = self.state
        return not self.state.retry_after

    def wait(self) -> float | None:
        return self.state.retry_after if self.state else None


class _Replayed(Exception):
    """A retry with an Idempotency-Key: answered with the first call's answer."""

    def __init__(self, replay: Replay) -> None:
        self.replay = replay


class TenantRolePermission(permissions.BasePermission):
    """Looks the caller's role up in the request's tenant and checks ``view.required_roles``."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        method = request.method or ""
        if method.lower() not in view.http_method_names or not hasattr(view, method.lower()):
            return True  # let the view answer 405 for methods it does not have
        if not request.user or not request.user.is_authenticated:
            raise NotAuthenticated()
        view = cast(TenantAPIView, view)  # the permission of TenantAPIView, which declares the roles
        tenant = request_tenant(request)
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
        allowed = view.required_roles.get(method, frozenset())
        if method in ("HEAD", "OPTIONS"):
            allowed = view.required_roles.get("GET", frozenset())
        if isinstance(request.user, ApiKeyPrincipal) and method in view.sessions_only_methods:
            return False  # e.g. a leaked key must not be able to mint its successors
        return view.actor.role in allowed


def lives_in_tenant_schema(model: type[Model]) -> bool:
    """Whether ``model``'s table is in each tenant's schema (a TENANT_APPS app only)."""
    app = model._meta.app_config
    name = app.name if app is not None else model._meta.app_label
    return name in settings.TENANT_APPS and name not in settings.SHARED_APPS


def tenant_lookup(model: type[Model], tenant_field: str | None = None) -> str | None:
    """The lookup from ``model`` to its ``Tenant`` (None: a tenant-schema model needs none).

    ``tenant_field`` names it; otherwise the model's one foreign key to ``Tenant`` is used.
    Raises ``ImproperlyConfigured`` when there is no such path, when it does not end at
    ``Tenant``, or when a tenant-schema model is given one.
    """
    label = f"{model._meta.app_label}.{model.__name__}"
    if lives_in_tenant_schema(model):
        if tenant_field:
            raise ImproperlyConfigured(
                f"{label} lives in each tenant's schema: its rows are the tenant's already, "
                f"so it takes no tenant_field ({tenant_field!r})"
            )
        return None
    if not tenant_field:
        direct = [
            f.name
            for f in model._meta.get_fields()
            if f.is_relation and f.many_to_one and f.concrete and f.related_model is Tenant
        ]
        if len(direct) != 1:
            raise ImproperlyConfigured(
                f"{label} lives in the public schema and has no single foreign key to Tenant: "
                f"declare tenant_field, the lookup from it to its Tenant"
            )
        return direct[0]
    current: type[Model] = model
    where = f"tenant_field {tenant_field!r} of {label}"
    went_forward = False
    for part in tenant_field.split("__"):
        try:
            field = current._meta.get_field(part)
        except FieldDoesNotExist as exc:
            raise ImproperlyConfigured(f"{where}: no field {part!r}") from exc
        related = field.related_model  # a model class once the app registry is ready
        if not field.is_relation or not isinstance(related, type):
            raise ImproperlyConfigured(f"{where}: {part!r} is not a relation")
        # After a forward hop (a row's own foreign key), a reverse or many-to-many hop fans
        # out to rows of other tenants ("user__memberships__tenant" from a membership
        # reaches every workspace of that user); it may only come first, from a shared row.
        forward = bool(field.concrete and (field.many_to_one or field.one_to_one))
        if not forward and went_forward:
            raise ImproperlyConfigured(f"{where}: {part!r} goes back through a shared row")
        went_forward = went_forward or forward
        current = related
    if current is not Tenant:
        raise ImproperlyConfigured(f"{where} does not lead to Tenant")
    return tenant_field


def tenant_scoped(
    source: QuerySet[M] | type[M], tenant: Tenant, *, tenant_field: str | None = None
) -> QuerySet[M]:
    """``source``'s rows that belong to ``tenant`` (see :func:`tenant_lookup`)."""
    queryset = source.all() if isinstance(source, QuerySet) else source._default_manager.all()
    lookup = tenant_lookup(queryset.model, tenant_field)
    if lookup is not None:
        return queryset.filter(**{lookup: tenant})
    if connection.schema_name != tenant.schema_name:
        # Cannot happen behind the tenant routing middleware; if it ever does, nothing of
        # another schema is served.
        logger.error("tenant API query in schema %s for another tenant", connection.schema_name)
        raise NotFound()
    return queryset


class TenantAPIView(ProblemThrottlingMixin, BodyLimitMixin, APIView):
    """Base of every tenant API view: authentication, the caller's role, the rows it may
    reach (see the module's docstring), and the conventions of every endpoint: a limit per
    caller answered in ``RateLimit-*`` headers, and ``Idempotency-Key`` on every POST."""

    authentication_classes = [authentication.SessionAuthentication, ApiKeyAuthentication]
    permission_classes = [TenantRolePermission]
    throttle_classes = [ApiCallerThrottle]
    required_roles: dict[str, frozenset[str]] = {"GET": ALL_ROLES}
    # What any call may be answered, in the OpenAPI document (saas.openapi).
    openapi_problems: ClassVar[dict[int, str]] = {
        401: "Not signed in, or the API key is not valid here (`not_authenticated`, `api_key_in_url`).",
        403: "Your role does not allow this, or the workspace is read-only or suspended "
        "(`permission_denied`, `billing_restricted`, `tenant_suspended`).",
        404: "Nothing with this id in this workspace, or no workspace you belong to (`not_found`).",
        429: "Too many calls by this API key or person this minute (`rate_limited`); see `Retry-After`.",
    }
    # Read by saas.openapi: every answer carries RateLimit-* headers, every POST takes an
    # Idempotency-Key.
    openapi_rate_limit_headers: ClassVar[bool] = True
    openapi_idempotency_key: ClassVar[bool] = True
    rate_state: RateState | None = None
    idempotency_record: IdempotencyRecord | None = None
    # Methods only a signed-in person may call, whatever an API key's role.
    sessions_only_methods: frozenset[str] = frozenset()
    actor: Membership

    # What the view serves: rows of this queryset that belong to the host's tenant.
    queryset: QuerySet[Any] | None = None
    # Public-schema models only, when they have no single foreign key to Tenant.
    tenant_field: str | None = None
    # How get_object() finds one: the model field, and the URL keyword naming it.
    lookup_field: str = "pk"
    lookup_url_kwarg: str | None = None

    # Defined here only: scoping is the base's job, never a subclass's.
    OWNED: ClassVar[tuple[str, ...]] = (
        "get_queryset",
        "get_object",
        "tenant_queryset",
        "initial",
        "tenant",
        # Who may call: the role check and the authenticators stay the base's.
        "get_permissions",
        "check_permissions",
        "check_object_permissions",
        "get_authenticators",
        # The conventions every endpoint keeps: the caller's limit, Idempotency-Key.
        "get_throttles",
        "check_throttles",
        "finalize_response",
        "handle_exception",
    )

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.ownership_check()

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Any:
        cls.ownership_check()  # again: a class decorator may have changed the class since
        return super().as_view(**initkwargs)

    @classmethod
    def ownership_check(cls) -> None:
        """Refuse a subclass that brings its own scoping or access checks (TypeError)."""
        for name in TenantAPIView.OWNED:
            # Looked up through the MRO, so a mixin cannot bring its own version either.
            if inspect.getattr_static(cls, name) is not inspect.getattr_static(TenantAPIView, name):
                raise TypeError(
                    f"{cls.__qualname__} defines {name}(), which TenantAPIView owns: declare "
                    f"`queryset` (and `tenant_field` or `lookup_url_kwarg`), narrow it in "
                    f"narrow_queryset(), or, to serve rows that are not the tenant's, define "
                    f"dangerously_get_queryset()"
                )
        checks = cls.permission_classes
        if not any(isinstance(p, type) and issubclass(p, TenantRolePermission) for p in checks):
            raise TypeError(f"{cls.__qualname__}: permission_classes must keep TenantRolePermission")
        if cls.queryset is not None:
            try:
                tenant_lookup(cls.queryset.model, cls.tenant_field)
            except ImproperlyConfigured as error:
                raise TypeError(f"{cls.__qualname__}: {error}") from error

    @property
    def tenant(self) -> Tenant:
        return request_tenant(self.request)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # A key in a URL ends up in logs, browser history and Referer headers: refuse the
        # request whatever else authenticates it, so the mistake is noticed and fixed.
        for _name, values in request.query_params.lists():
            if any(value.startswith(KEY_PREFIX) for value in values):
                raise ApiKeyInUrl("Send the key in the Authorization header: Authorization: Bearer sk_...")
        super().initial(request, *args, **kwargs)
        self.idempotency_begin(request)

    # --- the conventions of every endpoint ------------------------------------------------

    def idempotency_begin(self, request: Request) -> None:
        """A POST with ``Idempotency-Key``: claim the key, or answer a retry with the first
        call's answer (saas.idempotency.store says the rules)."""
        header = request.headers.get("Idempotency-Key")
        caller = caller_of(request)
        if request.method != "POST" or header is None or caller is None:
            return
        key = key_check(header)
        fingerprint = fingerprint_of(request.method, request.path, request.data)
        claimed = idempotency_claim(caller=caller[0], key=key, fingerprint=fingerprint)
        if isinstance(claimed, Replay):
            raise _Replayed(claimed)
        self.idempotency_record = claimed

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, _Replayed):
            replay = exc.replay
            headers = {"Idempotent-Replayed": "true"}
            if replay.location:
                headers["Location"] = replay.location
            return Response(replay.body, status=replay.status, headers=headers)
        response: Response = super().handle_exception(exc)
        return response

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        record, self.idempotency_record = self.idempotency_record, None
        if record is not None:
            # A stream (a StreamingHttpResponse, typed as DRF's) is not answered twice.
            answered: HttpResponseBase = response
            kept = isinstance(answered, Response) and not answered.streaming
            body = json.loads(json.dumps(response.data, cls=JSONEncoder)) if kept else None
            status = response.status_code if kept else 500
            idempotency_finish(record, status=status, body=body, location=response.get("Location", ""))
        state = self.rate_state
        if state is not None:
            response["RateLimit-Limit"] = str(state.limit)
            response["RateLimit-Remaining"] = str(state.remaining)
            response["RateLimit-Reset"] = str(state.reset_s)
        return super().finalize_response(request, response, *args, **kwargs)

    def permission_denied(
        self, request: Request, message: str | None = None, code: str | None = None
    ) -> NoReturn:
        raise PermissionDenied("Your role in this workspace does not allow this.")

    # --- the rows a view may reach --------------------------------------------------------

    def tenant_queryset(
        self, source: QuerySet[M] | type[M], *, tenant_field: str | None = None
    ) -> QuerySet[M]:
        """``source`` (a model or a queryset) limited to the host's tenant."""
        return tenant_scoped(source, self.tenant, tenant_field=tenant_field)

    def get_queryset(self) -> QuerySet[Any]:
        """The view's ``queryset``, the host's tenant's rows only, then ``narrow_queryset``."""
        if type(self).dangerously_get_queryset is not TenantAPIView.dangerously_get_queryset:
            return self.dangerously_get_queryset()
        if self.queryset is None:
            raise ImproperlyConfigured(f"{type(self).__qualname__} declares no queryset")
        scoped = self.tenant_queryset(self.queryset, tenant_field=self.tenant_field)
        # Scoped again after narrowing: narrow_queryset cannot widen what it was given.
        return self.tenant_queryset(self.narrow_queryset(scoped), tenant_field=self.tenant_field)

    def get_object(self) -> Any:
        """One row of ``get_queryset()`` named by the URL, or 404 (an id of another tenant
        is answered exactly like an id that does not exist)."""
        value = self.kwargs.get(self.lookup_url_kwarg or self.lookup_field)
        try:
            found = self.get_queryset().filter(**{self.lookup_field: value}).first()
        except (ValueError, TypeError, ValidationError) as error:
            raise NotFound() from error
        if found is None:
            raise NotFound()
        self.check_object_permissions(self.request, found)
        return found

    def narrow_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        """Override to narrow the tenant's rows further (filters, ordering); ``queryset``
        is already scoped to the tenant."""
        return queryset

    def dangerously_get_queryset(self) -> QuerySet[Any]:
        """Override only to serve rows that are NOT scoped to the host's tenant (staff
        tooling, a cross-tenant lookup), as a deliberate and reviewed exception: it
        replaces the tenant scoping of ``get_queryset`` and ``get_object`` entirely."""
        raise NotImplementedError


__all__ = ["ALL_ROLES", "MANAGERS", "TenantAPIView", "tenant_scoped"]
