"""Visitor-facing widget API (public host, by widget key): sessions, the prechat form,
conversations, messages with streamed answers, feedback, handoff, transcripts, attachments.

Builds on ``widget_builder.public_api.WidgetPublicView`` (tenant by key, Origin, CORS,
availability, rate limits). Visitor calls carry ``Authorization: Bearer <visitor token>``.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid

from django.conf import settings
from django.http import FileResponse, StreamingHttpResponse
from django.utils import timezone
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from saas.celery import enqueue_on_commit
from saas.errors import Conflict, NotFound, PayloadTooLarge, ProblemError, ValidationFailed
from saas.ratelimit import rate_limit_enforce
from widget_builder.prechat import prechat_answers_clean
from widget_builder.public_api import WidgetPublicView

from . import answering
from .attachments import attachment_check, clean_name
from .models import Attachment, Contact, Conversation, Message
from .selectors import bot_settings_for, bot_snapshot, message_payload
from .services import (
    conversation_close,
    conversation_handoff,
    conversation_rate,
    message_append,
    message_feedback,
)
from .tasks import transcript_send
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
            if field == "email" and not verified and contact.prechat_submitted_at and contact.email:
                continue  # an unsigned call does not replace the address the visitor gave
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
    csat_score = serializers.IntegerField(allow_null=True)


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
        greeting = answering.conversation_greet(conversation)
        return Response(
            {
                **ConversationOutput(conversation).data,
                **_conversation_state(conversation),
                "messages": [message_payload(greeting)] if greeting else [],
            },
            status=status.HTTP_201_CREATED,
        )


# A message is at most 4,000 characters; a body far larger is refused before it is parsed.
MAX_MESSAGE_BODY = 64 * 1024


class MessageInput(serializers.Serializer):
    text = serializers.CharField(max_length=20000, allow_blank=True, trim_whitespace=False)
    client_message_id = serializers.CharField(max_length=64, required=False, allow_blank=True)


class ConversationView(VisitorView):
    """A call about one of the visitor's own conversations (anything else: 404)."""

    def conversation(self, conversation_id: int) -> Conversation:
        conversation = Conversation.objects.filter(
            pk=conversation_id, widget=self.widget, contact=self.contact
        ).first()
        if conversation is None:
            raise NotFound("No such conversation.")
        return conversation


def _conversation_state(conversation: Conversation) -> dict:
    bot = bot_snapshot(conversation.widget).bot
    return {
        "status": conversation.status,
        "last_seq": conversation.last_seq,
        "csat_score": conversation.csat_score,
        # What the visitor may attach here (empty kinds: no attachments).
        "attachments": {"kinds": bot.attachment_kinds, "max_mb": bot.attachment_max_mb},
    }


class ConversationMessagesApi(ConversationView):
    """The visitor's messages in one of their conversations (``?after=<seq>`` for what is
    new), and sending one.

    Sending with ``Accept: text/event-stream`` answers with server-sent events: the stored
    visitor message (``message``), ``typing``, the answer's ``delta`` events as the provider
    sends them, then ``done`` with the stored answer (or ``pending`` when the same message is
    already being answered: poll with ``?after``). A JSON send answers when the answer is
    complete, with the visitor message and ``answer``.
    """

    def perform_content_negotiation(self, request, force=False):
        # Problem details and lists are JSON even when the client accepts an event stream.
        return (JSONRenderer(), JSONRenderer.media_type)

    def get(self, request, widget_key: str, conversation_id: int):
        conversation = self.conversation(conversation_id)
        after = request.query_params.get("after", "0")
        after = int(after) if after.isascii() and after.isdigit() and len(after) < 10 else 0
        messages = Message.objects.filter(conversation=conversation, seq__gt=after).order_by("seq")[:200]
        pending = (
            Message.objects.filter(conversation=conversation, role=Message.Role.VISITOR, reply__isnull=True)
            .order_by("-seq")
            .values_list("pk", "seq")
            .first()
        )
        return Response(
            {
                "messages": [message_payload(m) for m in messages],
                **_conversation_state(conversation),
                # The visitor message whose answer is being written right now (a reconnecting
                # widget shows typing and polls); null when nothing is under way.
                "awaiting_answer_after": pending[1]
                if pending is not None and answering.answer_in_progress(pending[0])
                else None,
            }
        )

    def post(self, request, widget_key: str, conversation_id: int):
        if int(request.headers.get("Content-Length") or 0) > MAX_MESSAGE_BODY:
            raise PayloadTooLarge("Keep messages under 4,000 characters.")
        conversation = self.conversation(conversation_id)
        data = MessageInput(data=request.data)
        data.is_valid(raise_exception=True)
        if conversation.status == Conversation.Status.CLOSED:
            raise ConversationClosed("Start a new conversation.")
        limits = settings.CHAT_RATE_LIMITS
        rate_limit_enforce(
            request,
            "chat-visitor-messages",
            limit=limits["visitor_messages_per_minute"],
            period_s=60,
            key=str(self.contact.public_id),
        )
        rate_limit_enforce(request, "chat-ip-messages", limit=limits["ip_messages_per_minute"], period_s=60)
        rate_limit_enforce(
            request,
            "chat-widget-messages",
            limit=limits["widget_messages_per_minute"],
            period_s=60,
            key=self.widget.key,
        )
        message, created = message_append(
            conversation=conversation,
            role=Message.Role.VISITOR,
            text=data.validated_data["text"],
            client_message_id=data.validated_data.get("client_message_id") or None,
        )
        if not created:
            conversation.refresh_from_db(fields=["status", "last_seq"])
        prepared = answering.answer_prepare(
            tenant=self.tenant,
            conversation=conversation,
            visitor_message=message,
            contact=self.contact,
            just_stored=created,
        )
        first = [("message", message_payload(message))]
        if "text/event-stream" in request.headers.get("Accept", ""):
            return event_stream(answering.answer_stream_bytes(prepared, first=first))
        result = answering.answer_collect(prepared)
        return Response(
            {**message_payload(message), "answer": result["final"]},
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


def event_stream(body) -> StreamingHttpResponse:
    """Server-sent events, flushed as produced (no buffering by proxies or compression)."""
    response = StreamingHttpResponse(body, content_type="text/event-stream; charset=utf-8")
    response["Cache-Control"] = "no-cache, no-store"
    response["X-Accel-Buffering"] = "no"
    return response


class ConversationClosed(Conflict):
    code = "conversation_closed"
    title = "This conversation is closed"


class FeedbackInput(serializers.Serializer):
    rating = serializers.ChoiceField(choices=["up", "down"])
    comment = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class MessageFeedbackApi(ConversationView):
    """Thumbs up or down (with an optional comment) on one bot answer; sent again, it
    replaces the previous feedback."""

    def post(self, request, widget_key: str, conversation_id: int, seq: int):
        conversation = self.conversation(conversation_id)
        data = FeedbackInput(data=request.data)
        data.is_valid(raise_exception=True)
        message = Message.objects.filter(conversation=conversation, seq=seq, role=Message.Role.BOT).first()
        if message is None:
            raise NotFound("No such answer.")
        message_feedback(
            message=message,
            rating=1 if data.validated_data["rating"] == "up" else -1,
            comment=data.validated_data["comment"],
        )
        return Response({"seq": message.seq, "feedback": message.feedback_rating})


class ConversationCloseApi(ConversationView):
    """The visitor ends the conversation; the widget then asks for a rating."""

    def post(self, request, widget_key: str, conversation_id: int):
        conversation = conversation_close(conversation=self.conversation(conversation_id))
        return Response(_conversation_state(conversation))


class RatingInput(serializers.Serializer):
    score = serializers.IntegerField(min_value=1, max_value=5)
    comment = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class ConversationRatingApi(ConversationView):
    """CSAT: 1 to 5 with an optional comment, once the conversation is closed."""

    def post(self, request, widget_key: str, conversation_id: int):
        data = RatingInput(data=request.data)
        data.is_valid(raise_exception=True)
        conversation = self.conversation(conversation_id)
        if conversation.status != Conversation.Status.CLOSED:
            raise Conflict("Close the conversation before rating it.")
        conversation_rate(conversation=conversation, **data.validated_data)
        return Response(_conversation_state(conversation))


class ConversationHandoffApi(ConversationView):
    """The visitor asks for a person: the conversation waits for an agent."""

    def post(self, request, widget_key: str, conversation_id: int):
        conversation = self.conversation(conversation_id)
        note = conversation_handoff(conversation=conversation)
        return Response(
            {**_conversation_state(conversation), "messages": [message_payload(note)] if note else []}
        )


class EmailUnknown(Conflict):
    code = "email_unknown"
    title = "We do not know an email address for this visitor"


class ConversationTranscriptApi(ConversationView):
    """Email the transcript to the address the visitor gave in the prechat form."""

    def post(self, request, widget_key: str, conversation_id: int):
        conversation = self.conversation(conversation_id)
        contact = self.contact
        # Only an address the visitor gave in the prechat form or a verified identity: never
        # one an unsigned identify call set, so the endpoint cannot mail arbitrary people.
        if not contact.email or not (contact.prechat_submitted_at or contact.identity_verified):
            raise EmailUnknown("Give your email address in the form first.")
        rate_limit_enforce(
            request,
            "chat-transcripts-recipient",
            limit=settings.CHAT_RATE_LIMITS["transcripts_per_recipient_per_day"],
            period_s=86400,
            key=hashlib.sha256(contact.email.lower().encode()).hexdigest(),
        )
        rate_limit_enforce(
            request,
            "chat-transcripts",
            limit=settings.CHAT_RATE_LIMITS["transcripts_per_hour"],
            period_s=3600,
            key=str(self.contact.public_id),
        )
        enqueue_on_commit(transcript_send, conversation.pk)
        return Response({"sent_to": _mask_email(self.contact.email)}, status=status.HTTP_202_ACCEPTED)


def _mask_email(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local[:1]}…@{domain}"


class AttachmentUploadApi(ConversationView):
    """A visitor attaches a file (multipart ``file`` plus an optional ``text``)."""

    parser_classes = [MultiPartParser, FormParser, JSONParser]

    def post(self, request, widget_key: str, conversation_id: int):
        bot = bot_settings_for(self.widget)
        limit = bot.attachment_max_mb * 1024 * 1024
        if int(request.headers.get("Content-Length") or 0) > limit + 64 * 1024:
            raise PayloadTooLarge(f"Attach files of at most {bot.attachment_max_mb} MB.")
        conversation = self.conversation(conversation_id)
        if conversation.status == Conversation.Status.CLOSED:
            raise ConversationClosed("Start a new conversation.")
        upload = request.FILES.get("file")
        if upload is None:
            raise ValidationFailed(errors={"file": [{"code": "required", "message": "Choose a file."}]})
        content_type = attachment_check(upload, kinds=bot.attachment_kinds, max_mb=bot.attachment_max_mb)
        rate_limit_enforce(
            request,
            "chat-attachments",
            limit=settings.CHAT_RATE_LIMITS["attachments_per_hour"],
            period_s=3600,
            key=str(self.contact.public_id),
        )
        text = str(request.data.get("text") or "")[:4000]
        attachment = Attachment(
            conversation=conversation,
            name=clean_name(upload.name),
            content_type=content_type,
            size=upload.size,
        )
        attachment.file.save("upload", upload, save=False)
        attachment.save()
        message, _ = message_append(
            conversation=conversation,
            role=Message.Role.VISITOR,
            text=text,
            attachments=[
                {
                    "id": str(attachment.public_id),
                    "name": attachment.name,
                    "content_type": content_type,
                    "size": attachment.size,
                }
            ],
        )
        Attachment.objects.filter(pk=attachment.pk).update(message=message)
        return Response(message_payload(message), status=status.HTTP_201_CREATED)


def attachment_response(attachment: Attachment) -> FileResponse:
    """Always a download, never rendered by the browser."""
    response = FileResponse(
        attachment.file.open("rb"),
        as_attachment=True,
        filename=attachment.name,
        content_type="application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


class AttachmentDownloadApi(ConversationView):
    def get(self, request, widget_key: str, conversation_id: int, attachment_id: str):
        conversation = self.conversation(conversation_id)
        attachment = Attachment.objects.filter(
            conversation=conversation, public_id=_uuid(attachment_id)
        ).first()
        if attachment is None:
            raise NotFound("No such attachment.")
        return attachment_response(attachment)


def _uuid(value: str):
    try:
        return uuid.UUID(value)
    except ValueError:
        return None
