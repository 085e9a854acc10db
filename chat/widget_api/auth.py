"""Visitors authenticate with the bearer token their session gave them (``chat.visitor_tokens``):
``Authorization: Bearer <token>``, never in a URL, bound to this tenant and widget."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from ..models import Contact
from ..visitor_tokens import VisitorTokenInvalid, visitor_token_read
from .selectors import visitor_contact

if TYPE_CHECKING:
    from drf_spectacular.openapi import AutoSchema

# Names a token could hide under in a query string; any of them present refuses the call.
TOKEN_QUERY_NAMES = frozenset({"token", "access_token", "visitor_token"})


@dataclass(frozen=True)
class Visitor:
    """``request.user`` of a visitor call: the contact the token names."""

    contact: Contact
    is_authenticated: bool = True
    is_active: bool = True
    is_staff: bool = False
    pk: None = None
    id: None = None


class VisitorTokenAuthentication(BaseAuthentication):
    """A visitor token for the view's widget (401 ``visitor_token_invalid`` or
    ``visitor_token_expired`` otherwise). CORS preflights carry no credentials."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Visitor, str] | None:
        if request.method == "OPTIONS":
            return None
        if TOKEN_QUERY_NAMES & set(request.query_params):
            raise VisitorTokenInvalid("Send the visitor token in the Authorization header, never in the URL.")
        scheme, _, token = get_authorization_header(request).decode(errors="replace").partition(" ")
        if scheme != self.keyword or not token:
            raise VisitorTokenInvalid("Send Authorization: Bearer <visitor token>.")
        view = request.parser_context["view"]
        public_id = visitor_token_read(token.strip(), tenant_id=view.tenant.pk, widget_id=view.widget.pk)
        contact = visitor_contact(widget=view.widget, public_id=public_id)
        if contact is None:
            raise VisitorTokenInvalid()
        return Visitor(contact), token.strip()

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="widget"'


class VisitorRequired(BasePermission):
    """Reading ``request.user`` authenticates (the widget base reads credentials lazily,
    after the origin and availability checks)."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        if request.method == "OPTIONS":
            return True  # CORS preflights carry no credentials by design
        return isinstance(request.user, Visitor)


# drf-spectacular registers each extension from an untyped __init_subclass__.
class VisitorTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = VisitorTokenAuthentication
    name = "visitorToken"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "The visitor token from `POST session` (or its renewal): "
            "`Authorization: Bearer <token>`. Never in a URL.",
        }
