"""Writes for contacts (the visitors of a widget): starting and renewing a visitor session,
the prechat form, and identity (the customer's site telling us who the visitor is).
Preconditions: the tenant's schema is active."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from saas.errors import Conflict, ProblemError, ValidationFailed
from widget_builder.models import Widget
from widget_builder.prechat import prechat_answers_clean

from ..models import Contact, chat_event_send

# Humans take longer than this to read and fill a form; bots do not.
PRECHAT_MIN_FILL_MS = 1500
BUILTIN_COLUMNS = ("name", "email", "phone", "country")


class PrechatDisabled(Conflict):
    code = "prechat_disabled"
    title = "This widget has no prechat form"


class IdentityInvalid(ProblemError):
    status = 401
    code = "identity_invalid"
    title = "The identity could not be verified"


def published_prechat(widget: Widget) -> dict[str, Any]:
    """The prechat form visitors see: the published one, never the draft."""
    return widget.published_config.get("prechat") or {}


def contact_prechat_required(*, widget: Widget, contact: Contact) -> bool:
    return bool(published_prechat(widget).get("enabled")) and contact.prechat_submitted_at is None


def contact_start(
    *, widget: Widget, user_agent: str = "", page_url: str = "", referrer: str = "", locale: str = ""
) -> Contact:
    """A new visitor of ``widget`` (the widget starts a session)."""
    with transaction.atomic():
        contact = Contact.objects.create(
            widget=widget, user_agent=user_agent[:400], page_url=page_url, referrer=referrer, locale=locale
        )
        chat_event_send("contact.created", contact_id=contact.pk)
    return contact


def contact_renew(*, contact: Contact) -> Contact:
    """The visitor is still there (the widget renews its token)."""
    contact.last_seen_at = timezone.now()
    with transaction.atomic():
        contact.save(update_fields=["last_seen_at"])
    return contact


def contact_prechat_submit(
    *,
    contact: Contact,
    widget: Widget,
    answers: dict[str, Any],
    consent: bool = False,
    honeypot: str = "",
    elapsed_ms: int = 0,
) -> Contact:
    """Validate the answers against the widget's published form and store them on the
    contact, with the consent text and version when the form asks for consent.

    A filled honeypot or a form filled faster than a person can (``PRECHAT_MIN_FILL_MS``)
    is stored like any other, but the contact is flagged as a bot: no AI answer is spent
    on it, and nothing tells the bot it was noticed.
    """
    prechat = published_prechat(widget)
    if not prechat.get("enabled"):
        raise PrechatDisabled("Start chatting without a form.")
    fields = prechat.get("fields", [])
    cleaned = prechat_answers_clean(fields, answers)
    consent_given = prechat.get("consent")
    if consent_given and not consent:
        raise ValidationFailed(
            errors={"consent": [{"code": "required", "message": "Please accept to continue."}]}
        )

    kinds = {f["key"]: f["kind"] for f in fields}
    custom: dict[str, Any] = {}
    for key, value in cleaned.items():
        if kinds[key] in BUILTIN_COLUMNS:
            setattr(contact, kinds[key], value)
            if kinds[key] == "email":
                contact.email_source = Contact.EmailSource.PRECHAT
        else:
            custom[key] = value
    now = timezone.now()
    contact.answers, contact.prechat_submitted_at = custom, now
    if consent_given:
        contact.consent_given_at, contact.consent_text = now, consent_given["text"]
        contact.consent_version = consent_given["version"]
    contact.flagged_as_bot = bool(honeypot) or elapsed_ms < PRECHAT_MIN_FILL_MS
    with transaction.atomic():
        contact.save(
            update_fields=[
                *BUILTIN_COLUMNS,
                "email_source",
                "answers",
                "prechat_submitted_at",
                "consent_given_at",
                "consent_text",
                "consent_version",
                "flagged_as_bot",
            ]
        )
        chat_event_send("contact.updated", contact_id=contact.pk)
    return contact


def identity_hash(secret: str, user_id: str) -> str:
    """What the customer's server computes: hex HMAC-SHA256 of the user id."""
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Identified:
    contact: Contact  # the visitor from now on: the known contact when the identity is verified
    verified: bool


def contact_identify(
    *, contact: Contact, widget: Widget, user_id: str, user_hash: str = "", email: str = "", name: str = ""
) -> Identified:
    """The customer's site says who the visitor is.

    A correct ``user_hash`` verifies the identity: the visitor continues as the contact
    already known under that id (their history follows them across devices), and the
    caller must issue its token from now on. A wrong hash, or none when the widget
    enforces verification, is refused and reveals nothing. An unsigned identify only
    labels this visitor: it never joins an existing contact (that would hand over someone
    else's history) and never replaces the address the visitor gave in the prechat form.
    """
    expected = identity_hash(widget.identity_secret, user_id)
    verified = bool(user_hash) and hmac.compare_digest(user_hash.lower().encode(), expected.encode())
    if (user_hash and not verified) or (widget.identity_enforced and not verified):
        raise IdentityInvalid("Sign the user id on your server with the widget's identity secret.")

    with transaction.atomic():
        if verified:
            known = (
                Contact.objects.select_for_update()
                .filter(widget=widget, external_id=user_id, identity_verified=True)
                .exclude(pk=contact.pk)
                .order_by("created_at")
                .first()
            )
            contact = known or contact
        contact.external_id, contact.identity_verified = user_id, verified
        keeps_form_address = not verified and contact.prechat_submitted_at and contact.email
        if email and not keeps_form_address:
            contact.email = email.lower()
            contact.email_source = Contact.EmailSource.VERIFIED if verified else Contact.EmailSource.UNSIGNED
        if name:
            contact.name = name
        contact.last_seen_at = timezone.now()
        contact.save(
            update_fields=[
                "external_id",
                "identity_verified",
                "email",
                "email_source",
                "name",
                "last_seen_at",
            ]
        )
        chat_event_send("contact.updated", contact_id=contact.pk)
    return Identified(contact=contact, verified=verified)


def contact_transcript_address(contact: Contact) -> str:
    """Where a transcript may be sent: an address the visitor gave in the prechat form or
    one a verified identity carries; never one an unsigned identify set, so nobody can
    have transcripts mailed to arbitrary people (an unsigned address kept through a form
    without an email field included). Empty when there is none."""
    if not contact.email:
        return ""
    if contact.email_source == Contact.EmailSource.UNKNOWN:  # stored before sources were recorded
        return str(contact.email) if contact.prechat_submitted_at or contact.identity_verified else ""
    sources = (Contact.EmailSource.PRECHAT, Contact.EmailSource.VERIFIED)
    return str(contact.email) if contact.email_source in sources else ""


CONTACT_EDITABLE = ("name", "email", "phone", "country")


def contact_update(*, contact: Contact, changes: dict[str, str]) -> Contact:
    """The workspace corrects what it knows of a contact: ``changes`` maps some of
    ``CONTACT_EDITABLE`` to their new values (cleaned by the caller). A new email is
    recorded as unsigned: transcripts never go to an address typed in by the workspace
    (``contact_transcript_address``), only to one the visitor gave or a verified identity."""
    unknown = set(changes) - set(CONTACT_EDITABLE)
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    fields = [name for name, value in changes.items() if getattr(contact, name) != value]
    for name in fields:
        setattr(contact, name, changes[name])
    if "email" in fields:
        contact.email = contact.email.lower()
        contact.email_source = Contact.EmailSource.UNSIGNED if contact.email else Contact.EmailSource.UNKNOWN
        fields.append("email_source")
    if fields:
        with transaction.atomic():
            contact.save(update_fields=fields)
    return contact


def contact_for_external_id(*, widget: Widget, external_id: str, name: str = "", email: str = "") -> Contact:
    """The contact a tenant's own server names by its user id on ``widget`` (the server
    API's key vouches for the identity, so it is verified): the one known under that id,
    or a new one. ``name`` and ``email``, when given, are stored as a verified identity's.
    Two calls at once for the same new user make one contact: a lock on (widget, user id),
    held to the end of the transaction, makes the second wait for the first."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [widget.pk, external_id])
        contact = (
            Contact.objects.select_for_update()
            .filter(widget=widget, external_id=external_id, identity_verified=True)
            .order_by("created_at", "id")
            .first()
        )
        if contact is None:
            contact = Contact(widget=widget, external_id=external_id, identity_verified=True)
        if name:
            contact.name = name
        if email:
            contact.email, contact.email_source = email.lower(), Contact.EmailSource.VERIFIED
        contact.last_seen_at = timezone.now()
        contact.save()
    return contact
