"""Visitor sessions and who the visitor is: starting and renewing a session, the prechat
form, identity from the customer's site."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from saas.request_body import NO_BODY_BYTES, SMALL_BODY_BYTES
from tenants.models import Tenant
from widget_builder.models import Widget
from widget_builder.public_api import WidgetPublicView, problem_responses

from ..models import Contact
from ..services.contacts import (
    contact_identify,
    contact_prechat_required,
    contact_prechat_submit,
    contact_renew,
    contact_start,
)
from ..visitor_tokens import visitor_token_issue
from . import examples as ex
from .base import VisitorView
from .serializers import (
    IdentifyInput,
    IdentifyOutput,
    PrechatInput,
    PrechatOutput,
    SessionInput,
    SessionOutput,
)
from .throttles import SessionStartThrottle

TAGS = ["sessions"]


def session_body(tenant: Tenant, widget: Widget, contact: Contact) -> dict[str, Any]:
    token, expires_at = visitor_token_issue(
        tenant_id=tenant.pk, widget_id=widget.pk, contact_public_id=contact.public_id
    )
    return {
        "token": token,
        "expires_at": expires_at.isoformat(),
        "visitor_id": str(contact.public_id),
        "prechat_required": contact_prechat_required(widget=widget, contact=contact),
    }


class SessionStartApi(WidgetPublicView):
    """Start a visitor session: a contact and its token (limited per IP per hour)."""

    throttle_classes = [*WidgetPublicView.throttle_classes, SessionStartThrottle]
    max_body_bytes = SMALL_BODY_BYTES

    @extend_schema(
        operation_id="session_start",
        tags=TAGS,
        request=SessionInput,
        responses={201: SessionOutput, **problem_responses(403, 404, 422, 429, 503)},
        examples=[
            ex.request_example(
                "From a page",
                {
                    "page_url": "https://customer.example/pricing",
                    "referrer": "https://search.example/",
                    "locale": "en",
                },
            ),
            ex.response_example("A new visitor", ex.SESSION, 201),
            ex.problem_example(
                "Not a URL",
                422,
                "validation_error",
                "Some fields are not valid",
                "page_url: Enter a valid URL.",
            ),
        ],
    )
    def post(self, request, widget_key: str):
        data = SessionInput(data=request.data)
        data.is_valid(raise_exception=True)
        contact = contact_start(
            widget=self.widget, user_agent=request.headers.get("User-Agent", ""), **data.validated_data
        )
        return Response(session_body(self.tenant, self.widget, contact), status=status.HTTP_201_CREATED)


class SessionRenewApi(VisitorView):
    """A fresh token for the same visitor (the widget renews before expiry)."""

    max_body_bytes = NO_BODY_BYTES

    @extend_schema(
        operation_id="session_renew",
        tags=TAGS,
        request=None,
        responses={200: SessionOutput, **problem_responses(401, 403, 404, 429, 503)},
        examples=[
            ex.response_example("A fresh token", {**ex.SESSION, "expires_at": "2026-12-06T10:00:00+00:00"}),
            ex.problem_example(
                "Expired token",
                401,
                "visitor_token_expired",
                "The visitor token has expired",
                "Start a new session.",
            ),
        ],
    )
    def post(self, request, widget_key: str):
        contact = contact_renew(contact=self.contact)
        return Response(session_body(self.tenant, self.widget, contact))


class PrechatSubmitApi(VisitorView):
    """Validate the answers against the published form and store them on the contact.

    A filled honeypot or an impossibly fast submission is accepted like any other (no hint
    for the bot) but the contact is flagged, so no AI answer is ever spent on it.
    """

    max_body_bytes = SMALL_BODY_BYTES

    @extend_schema(
        operation_id="prechat_submit",
        tags=TAGS,
        request=PrechatInput,
        responses={
            201: PrechatOutput,
            **problem_responses(
                401,
                403,
                404,
                422,
                429,
                503,
                described={409: "The widget has no prechat form (`prechat_disabled`)."},
            ),
        },
        examples=[
            ex.request_example(
                "Name and email",
                {"answers": {"name": "Ada", "email": "ada@example.com"}, "consent": True, "elapsed_ms": 5200},
            ),
            ex.response_example("Submitted", {"visitor_id": ex.VISITOR_ID, "prechat_required": False}, 201),
            ex.problem_example(
                "No form",
                409,
                "prechat_disabled",
                "This widget has no prechat form",
                "Submit no form: start chatting.",
            ),
        ],
    )
    def post(self, request, widget_key: str):
        data = PrechatInput(data=request.data)
        data.is_valid(raise_exception=True)
        contact = contact_prechat_submit(
            contact=self.contact,
            widget=self.widget,
            answers=data.validated_data["answers"],
            consent=data.validated_data["consent"],
            honeypot=data.validated_data["website"],
            elapsed_ms=data.validated_data["elapsed_ms"],
        )
        return Response(
            {"visitor_id": str(contact.public_id), "prechat_required": False}, status=status.HTTP_201_CREATED
        )


class IdentifyApi(VisitorView):
    """Tell the widget who the visitor is on the customer's site.

    A correct ``user_hash`` verifies the identity: the visitor continues as the contact
    already known under that id, and the answer carries that contact's token. When the
    widget enforces verification, a missing or wrong hash is refused and reveals nothing;
    when it does not, an unsigned identify only labels this visitor.
    """

    max_body_bytes = SMALL_BODY_BYTES

    @extend_schema(
        operation_id="identify",
        tags=TAGS,
        request=IdentifyInput,
        responses={
            200: IdentifyOutput,
            **problem_responses(
                403,
                404,
                422,
                429,
                503,
                described={
                    401: "The visitor token is not valid (`visitor_token_invalid`, `visitor_token_expired`), "
                    "or the identity could not be verified (`identity_invalid`)."
                },
            ),
        },
        examples=[
            ex.request_example(
                "Signed",
                {
                    "id": "u-1042",
                    "email": "ada@example.com",
                    "name": "Ada",
                    "user_hash": "9f86d081884c7d65" * 4,
                },
            ),
            ex.response_example("Verified", {**ex.SESSION, "verified": True}),
            ex.problem_example(
                "Wrong hash",
                401,
                "identity_invalid",
                "The identity could not be verified",
                "The user_hash does not match the id.",
            ),
        ],
    )
    def post(self, request, widget_key: str):
        data = IdentifyInput(data=request.data)
        data.is_valid(raise_exception=True)
        identified = contact_identify(
            contact=self.contact,
            widget=self.widget,
            user_id=data.validated_data["id"],
            user_hash=data.validated_data.get("user_hash", ""),
            email=data.validated_data.get("email", ""),
            name=data.validated_data.get("name", ""),
        )
        body = session_body(self.tenant, self.widget, identified.contact)
        return Response({**body, "verified": identified.verified})
