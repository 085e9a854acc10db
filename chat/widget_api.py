"""Visitor-facing widget API: sessions and the prechat form (public host, by widget key).

Builds on ``widget_builder.public_api.WidgetPublicView`` (tenant by key, Origin, CORS,
availability, rate limits). Visitor calls carry ``Authorization: Bearer <visitor token>``.
"""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings
from django.utils import timezone
from rest_framework import serializers, status
from rest_framework.response import Response

from saas.errors import Conflict, NotFound, ProblemError, ValidationFailed
from saas.ratelimit import rate_limit_enforce
from widget_builder.prechat import prechat_answers_clean
from widget_builder.public_api import WidgetPublicView

from .models import Contact, Conversation, Message
from .services import message_append
from .visitor_tokens import VisitorTokenInvalid, visitor_token_issue, visitor_token_read

# Humans take longer than this to read and fill a form; bots do not.
PRECHAT_MIN_FILL_MS = 1500
BUILTIN_COLUMNS = ("name", "email", "phone", "country")


class PrechatDisabled(Conflict):
    code = "prechat_disabled"
    title = "This widget has no prechat form"


class PrechatRequired(Conflict):
    code = "prechat_required"
    title = "The prechat form comes first"


class VisitorView(WidgetPublicView):
    """A widget call made by a visitor holding a token for this widget."""

    contact: Contact

    def check_permissions(self, request):
        super().check_permissions(request)
        if request.method == "OPTIONS":
            return  # CORS preflights carry no credentials by design
        if {"token", "access_token", "visitor_token"} & set(request.query_params):
            raise VisitorTokenInvalid("Send the visitor token in the Authorization header, never in the URL.")
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme != "Bearer" or not token:
            raise VisitorTokenInvalid("Send Authorization: Bearer <visitor token>.")
        public_id = visitor_token_read(token.strip(), tenant_id=self.tenant.pk, widget_id=self.widget.pk)
        contact = Contact.objects.filter(public_id=public_id, widget=self.widget).first()
        if contact is None:
            raise VisitorTokenInvalid()
        rate_limit_enforce(
            request,
            "widget-visitor",
            limit=settings.WIDGET_RATE_LIMITS["visitor_per_minute"],
            period_s=60,
            key=str(contact.public_id),
        )
        self.contact = contact


class SessionInput(serializers.Serializer):
    page_url = serializers.URLField(max_length=2000, required=False, allow_blank=True)
    referrer = serializers.URLField(max_length=2000, required=False, allow_blank=True)
    locale = serializers.CharField(max_length=16, required=False, allow_blank=True)


def _session_body(tenant, widget, contact) -> dict:
    token, expires_at = visitor_token_issue(
        tenant_id=tenant.pk, widget_id=widget.pk, contact_public_id=contact.public_id
    )
    return {
        "token": token,
        "expires_at": expires_at.isoformat(),
        "visitor_id": str(contact.public_id),
        # What visitors see is the published form, never the draft.
        "prechat_required": bool((widget.published_config.get("prechat") or {}).get("enabled"))
        and contact.prechat_submitted_at is None,
    }


class SessionStartApi(WidgetPublicView):
    """Start a visitor session: a contact and its token (limited per IP per hour)."""

    def post(self, request, widget_key: str):
        rate_limit_enforce(
            request,
            "widget-session",
            limit=settings.WIDGET_RATE_LIMITS["sessions_per_ip_per_hour"],
            period_s=3600,
        )
        data = SessionInput(data=request.data)
        data.is_valid(raise_exception=True)
        contact = Contact.objects.create(
            widget=self.widget,
            user_agent=request.headers.get("User-Agent", "")[:400],
            **{k: v for k, v in data.validated_data.items() if v},
        )
        return Response(_session_body(self.tenant, self.widget, contact), status=status.HTTP_201_CREATED)


class SessionRenewApi(VisitorView):
    """A fresh token for the same visitor (the widget renews before expiry)."""

    def post(self, request, widget_key: str):
        Contact.objects.filter(pk=self.contact.pk).update(last_seen_at=timezone.now())
        return Response(_session_body(self.tenant, self.widget, self.contact))


class PrechatInput(serializers.Serializer):
    answers = serializers.DictField(required=False, default=dict)
    consent = serializers.BooleanField(required=False, default=False)
    website = serializers.CharField(required=False, allow_blank=True, default="")  # honeypot
    elapsed_ms = serializers.IntegerField(required=False, min_value=0, default=0)


class PrechatSubmitApi(VisitorView):
    """Validate the answers against the published form and store them on the contact.

    A filled honeypot or an impossibly fast submission is accepted like any other (no hint
    for the bot) but the contact is flagged, so no AI answer is ever spent on it.
    """

    def post(self, request, widget_key: str):
        prechat = self.widget.published_config.get("prechat") or {}
        if not prechat.get("enabled"):
            raise PrechatDisabled("Start chatting without a form.")
        data = PrechatInput(data=request.data)
        data.is_valid(raise_exception=True)
        answers = prechat_answers_clean(prechat.get("fields", []), data.validated_data["answers"])
        consent = prechat.get("consent")
        if consent and not data.validated_data["consent"]:
            raise ValidationFailed(
                errors={"consent": [{"code": "required", "message": "Please accept to continue."}]}
            )

        contact = self.contact
        fields = {f["key"]: f["kind"] for f in prechat.get("fields", [])}
        custom = {}
        for key, value in answers.items():
            if fields[key] in BUILTIN_COLUMNS:
                setattr(contact, fields[key], value)
            else:
                custom[key] = value
        contact.answers = custom
        now = timezone.now()
        contact.prechat_submitted_at = now
        if consent:
            contact.consent_given_at, contact.consent_text = now, consent["text"]
            contact.consent_version = consent["version"]
        contact.flagged_as_bot = bool(data.validated_data["website"]) or (
            data.validated_data["elapsed_ms"] < PRECHAT_MIN_FILL_MS
        )
        contact.save(
            update_fields=[
                *BUILTIN_COLUMNS,
                "answers",
                "prechat_submitted_at",
                "consent_given_at",
                "consent_text",
                "consent_version",
                "flagged_as_bot",
            ]
        )
        return Response(
            {"visitor_id": str(contact.public_id), "prechat_required": False}, status=status.HTTP_201_CREATED
        )


class IdentityInvalid(ProblemError):
    status = 401
    code = "identity_invalid"
    title = "The identity could not be verified"


class IdentifyInput(serializers.Serializer):
    id = serializers.CharField(max_length=200)
    email = serializers.EmailField(required=False, allow_blank=True)
    name = serializers.CharField(max_length=120, required=False, allow_blank=True)
    user_hash = serializers.CharField(max_length=128, required=False, allow_blank=True)


def identity_hash(secret: str, user_id: str) -> str:
    """What the customer's server computes: hex HMAC-SHA256 of the user id."""
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


class IdentifyApi(VisitorView):
    """Tell the widget who the visitor is on the customer's site.

    A correct ``user_hash`` verifies the identity: the visitor continues as the contact
    already known under that id (their history follows them across devices). When the
    widget enforces verification, a missing or wrong hash is refused and reveals nothing;
    when it does not, an unsigned identify only labels this visitor and never joins an
    existing contact (that would hand over someone else's history).
    """

    def post(self, request, widget_key: str):
        data = IdentifyInput(data=request.data)
        data.is_valid(raise_exception=True)
        user_id, user_hash = data.validated_data["id"], data.validated_data.get("user_hash", "")
        expected = identity_hash(self.widget.identity_secret, user_id)
        verified = bool(user_hash) and hmac.compare_digest(user_hash.lower().encode(), expected.encode())
        if (user_hash and not verified) or (self.widget.identity_enforced and not verified):
            raise IdentityInvalid("Sign the user id on your server with the widget's identity secret.")

        contact = self.contact
        if verified:
            known = (
                Contact.objects.filter(widget=self.widget, external_id=user_id, identity_verified=True)
                .exclude(pk=contact.pk)
                .order_by("created_at")
                .first()
            )
            contact = known or contact
        contact.external_id, contact.identity_verified = user_id, verified
        for field in ("email", "name"):
            if data.validated_data.get(field):
                setattr(
                    contact,
                    field,
                    data.validated_data[field].lower() if field == "email" else data.validated_data[field],
                )
        contact.last_seen_at = timezone.now()
        contact.save(update_fields=["external_id", "identity_verified", "email", "name", "last_seen_at"])
        return Response({**_session_body(self.tenant, self.widget, contact), "verified": verified})


class ConversationOutput(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class ConversationListApi(VisitorView):
    """The visitor's own conversations, newest first; POST starts one."""

    def get(self, request, widget_key: str):
        conversations = Conversation.objects.filter(widget=self.widget, contact=self.contact)[:50]
        return Response({"conversations": ConversationOutput(conversations, many=True).data})

    def post(self, request, widget_key: str):
        prechat = self.widget.published_config.get("prechat") or {}
        if prechat.get("enabled") and self.contact.prechat_submitted_at is None:
            raise PrechatRequired("Submit the prechat form first.")
        conversation = Conversation.objects.create(widget=self.widget, contact=self.contact)
        return Response(ConversationOutput(conversation).data, status=status.HTTP_201_CREATED)


class MessageOutput(serializers.Serializer):
    seq = serializers.IntegerField()
    role = serializers.CharField()
    text = serializers.CharField()
    citations = serializers.JSONField()
    created_at = serializers.DateTimeField()
    client_message_id = serializers.CharField(allow_blank=True)


class MessageInput(serializers.Serializer):
    text = serializers.CharField(max_length=20000, allow_blank=True, trim_whitespace=False)
    client_message_id = serializers.CharField(max_length=64, required=False, allow_blank=True)


class ConversationMessagesApi(VisitorView):
    """The visitor's messages in one of their conversations (``?after=<seq>`` for what is
    new), and sending one. Answers are added by the chat engine."""

    def _conversation(self, conversation_id: int) -> Conversation:
        conversation = Conversation.objects.filter(
            pk=conversation_id, widget=self.widget, contact=self.contact
        ).first()
        if conversation is None:
            raise NotFound("No such conversation.")
        return conversation

    def get(self, request, widget_key: str, conversation_id: int):
        conversation = self._conversation(conversation_id)
        after = request.query_params.get("after", "0")
        after = int(after) if after.isascii() and after.isdigit() and len(after) < 10 else 0
        messages = Message.objects.filter(conversation=conversation, seq__gt=after).order_by("seq")[:200]
        return Response(
            {"messages": MessageOutput(messages, many=True).data, "last_seq": conversation.last_seq}
        )

    def post(self, request, widget_key: str, conversation_id: int):
        conversation = self._conversation(conversation_id)
        data = MessageInput(data=request.data)
        data.is_valid(raise_exception=True)
        message, created = message_append(
            conversation=conversation,
            role=Message.Role.VISITOR,
            text=data.validated_data["text"],
            client_message_id=data.validated_data.get("client_message_id") or None,
        )
        return Response(
            MessageOutput(message).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )
