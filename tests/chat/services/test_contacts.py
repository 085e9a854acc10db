"""chat.services.contacts: visitor sessions, the prechat form (with bot flagging) and
identity, called directly in the tenant's schema."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from chat.models import Contact
from chat.services.contacts import (
    PRECHAT_MIN_FILL_MS,
    IdentityInvalid,
    PrechatDisabled,
    contact_identify,
    contact_prechat_required,
    contact_prechat_submit,
    contact_renew,
    contact_start,
    contact_transcript_address,
    identity_hash,
)
from saas.errors import ValidationFailed
from widget_builder.models import Widget
from widget_builder.services import widget_prechat_set, widget_publish

pytestmark = pytest.mark.django_db

FIELDS = [
    {"kind": "name", "label": "Name", "required": True},
    {"kind": "email", "label": "Email", "required": True},
    {"key": "plan", "kind": "select", "label": "Plan", "options": ["Free", "Pro"]},
]
ANSWERS = {"name": "Ada", "email": "Ada@Example.com", "plan": "Pro"}


@pytest.fixture
def widget(tenant_a):
    """Tenant A's widget with a published prechat form asking for consent; the tenant's
    schema stays active for the test."""
    with tenant_context(tenant_a.tenant):
        widget = Widget.objects.order_by("id").first()
        widget_prechat_set(widget=widget, enabled=True, fields=FIELDS, consent_text="I agree.")
        yield widget_publish(widget=widget)


def _contact(widget, **fields) -> Contact:
    return contact_start(widget=widget, user_agent="UA", **fields)


def test_a_session_starts_a_contact_with_what_the_page_told(widget):
    contact = contact_start(
        widget=widget, user_agent="x" * 500, page_url="https://customer.example/a", locale="fr"
    )
    stored = Contact.objects.get(pk=contact.pk)
    assert stored.widget_id == widget.pk and len(stored.user_agent) == 400
    assert (stored.page_url, stored.referrer, stored.locale) == ("https://customer.example/a", "", "fr")
    assert contact_prechat_required(widget=widget, contact=stored) is True


def test_renewing_records_that_the_visitor_was_seen(widget):
    contact = _contact(widget)
    Contact.objects.filter(pk=contact.pk).update(last_seen_at=timezone.now() - timedelta(days=3))
    contact.refresh_from_db()
    contact_renew(contact=contact)
    assert timezone.now() - Contact.objects.get(pk=contact.pk).last_seen_at < timedelta(minutes=1)


def test_prechat_answers_go_to_columns_and_answers_with_the_consent(widget):
    contact = contact_prechat_submit(
        contact=_contact(widget), widget=widget, answers=ANSWERS, consent=True, elapsed_ms=5000
    )
    stored = Contact.objects.get(pk=contact.pk)
    assert (stored.name, stored.email, stored.answers) == ("Ada", "ada@example.com", {"plan": "Pro"})
    assert stored.prechat_submitted_at and stored.consent_given_at and stored.consent_text == "I agree."
    assert stored.consent_version == widget.consent_version and stored.flagged_as_bot is False
    assert contact_prechat_required(widget=widget, contact=stored) is False


@pytest.mark.parametrize(
    ("honeypot", "elapsed_ms", "flagged"),
    [
        ("", PRECHAT_MIN_FILL_MS, False),
        ("", PRECHAT_MIN_FILL_MS - 1, True),
        ("http://spam.example", 60_000, True),
    ],
)
def test_a_filled_honeypot_or_a_form_filled_too_fast_flags_a_bot(widget, honeypot, elapsed_ms, flagged):
    contact = contact_prechat_submit(
        contact=_contact(widget),
        widget=widget,
        answers=ANSWERS,
        consent=True,
        honeypot=honeypot,
        elapsed_ms=elapsed_ms,
    )
    stored = Contact.objects.get(pk=contact.pk)
    assert stored.flagged_as_bot is flagged and stored.prechat_submitted_at is not None


def test_bad_prechat_answers_or_missing_consent_store_nothing(widget):
    contact = _contact(widget)
    with pytest.raises(ValidationFailed) as bad:
        contact_prechat_submit(
            contact=contact,
            widget=widget,
            answers={**ANSWERS, "email": "nope"},
            consent=True,
            elapsed_ms=5000,
        )
    assert bad.value.errors["email"][0]["code"] == "invalid_email"
    with pytest.raises(ValidationFailed) as no_consent:
        contact_prechat_submit(contact=contact, widget=widget, answers=ANSWERS, elapsed_ms=5000)
    assert list(no_consent.value.errors) == ["consent"]
    stored = Contact.objects.get(pk=contact.pk)
    assert stored.prechat_submitted_at is None and stored.email == "" and stored.answers == {}


def test_prechat_follows_the_published_form(widget):
    widget_prechat_set(widget=widget, enabled=False, fields=FIELDS)  # draft only: still published on
    assert contact_prechat_submit(
        contact=_contact(widget), widget=widget, answers=ANSWERS, consent=True, elapsed_ms=5000
    ).prechat_submitted_at
    widget_publish(widget=widget)
    with pytest.raises(PrechatDisabled):
        contact_prechat_submit(contact=_contact(widget), widget=widget, answers=ANSWERS, consent=True)


def _signed(widget, user_id: str) -> str:
    return identity_hash(widget.identity_secret, user_id)


def test_a_verified_identity_continues_as_the_contact_known_under_it(widget):
    known = _contact(widget)
    first = contact_identify(
        contact=known, widget=widget, user_id="u-1", user_hash=_signed(widget, "u-1"), email="K@Example.com"
    )
    assert first.verified and first.contact.pk == known.pk
    other_device = _contact(widget)
    again = contact_identify(
        contact=other_device,
        widget=widget,
        user_id="u-1",
        user_hash=_signed(widget, "u-1").upper(),
        name="Kim",
    )
    assert again.verified and again.contact.pk == known.pk
    merged = Contact.objects.get(pk=known.pk)
    assert (merged.external_id, merged.identity_verified, merged.email, merged.name) == (
        "u-1",
        True,
        "k@example.com",
        "Kim",
    )
    untouched = Contact.objects.get(pk=other_device.pk)
    assert (untouched.external_id, untouched.identity_verified) == ("", False)


def test_an_unsigned_identity_only_labels_this_visitor(widget):
    known = _contact(widget)
    contact_identify(contact=known, widget=widget, user_id="u-1", user_hash=_signed(widget, "u-1"))
    visitor = contact_prechat_submit(
        contact=_contact(widget), widget=widget, answers=ANSWERS, consent=True, elapsed_ms=5000
    )
    labelled = contact_identify(
        contact=visitor, widget=widget, user_id="u-1", email="victim@example.org", name="Mallory"
    )
    assert labelled.verified is False and labelled.contact.pk == visitor.pk
    stored = Contact.objects.get(pk=visitor.pk)
    # The address from the form stays; the name is only a label.
    assert (stored.external_id, stored.identity_verified, stored.email, stored.name) == (
        "u-1",
        False,
        "ada@example.com",
        "Mallory",
    )
    assert Contact.objects.get(pk=known.pk).name == ""


def test_a_wrong_hash_or_a_missing_one_when_enforced_is_refused_and_changes_nothing(widget):
    known = _contact(widget)
    contact_identify(contact=known, widget=widget, user_id="u-1", user_hash=_signed(widget, "u-1"))
    visitor = _contact(widget)
    for user_hash in ("0" * 64, "é" * 64, _signed(widget, "u-2")):
        with pytest.raises(IdentityInvalid):
            contact_identify(
                contact=visitor, widget=widget, user_id="u-1", user_hash=user_hash, email="x@y.z"
            )
    Widget.objects.filter(pk=widget.pk).update(identity_enforced=True)
    widget.refresh_from_db()
    with pytest.raises(IdentityInvalid):
        contact_identify(contact=visitor, widget=widget, user_id="u-1", email="x@y.z")
    stored = Contact.objects.get(pk=visitor.pk)
    assert (stored.external_id, stored.email) == ("", "")


def test_transcripts_go_only_to_a_form_address_or_a_verified_identity(widget):
    assert contact_transcript_address(_contact(widget)) == ""
    unsigned = contact_identify(contact=_contact(widget), widget=widget, user_id="u-9", email="v@example.org")
    assert contact_transcript_address(unsigned.contact) == ""
    verified = contact_identify(
        contact=_contact(widget),
        widget=widget,
        user_id="u-9",
        user_hash=_signed(widget, "u-9"),
        email="v@x.org",
    )
    assert contact_transcript_address(verified.contact) == "v@x.org"
    submitted = contact_prechat_submit(
        contact=_contact(widget), widget=widget, answers=ANSWERS, consent=True, elapsed_ms=5000
    )
    assert contact_transcript_address(submitted) == "ada@example.com"


@pytest.mark.parametrize(
    "fields, answers",
    [
        ([{"kind": "name", "label": "Name", "required": True}], {"name": "Ada"}),  # no email asked
        (
            [{"kind": "name", "label": "Name", "required": True}, {"kind": "email", "label": "Email"}],
            {"name": "Ada"},  # an optional email left blank
        ),
    ],
)
def test_an_unsigned_address_does_not_become_a_transcript_address_through_the_form(widget, fields, answers):
    """An unsigned identify before the form, then a form that does not ask for (or gets no)
    address: the unsigned address stays a label, never somewhere to mail a transcript."""
    widget_prechat_set(widget=widget, enabled=True, fields=fields)
    widget_publish(widget=widget)
    contact = contact_identify(
        contact=_contact(widget), widget=widget, user_id="u-1", email="victim@example.org"
    )
    submitted = contact_prechat_submit(
        contact=contact.contact, widget=widget, answers=answers, elapsed_ms=5000
    )
    assert submitted.email == "victim@example.org"  # kept as the label it was
    assert contact_transcript_address(submitted) == ""
