"""A contact's export and erasure (privacy.services.contacts, the dashboard and the API):
the archive holds everything about the person; an erasure leaves no trace of them in any
table of the workspace's schema, the storage or the cache; roles, scope and confirmation."""

from __future__ import annotations

import io
import json
import uuid
import zipfile

import pytest
from django.core.cache import cache, caches
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from actions.models import ActionCall
from audit.models import AuditEvent
from chat.models import Attachment, Contact, Conversation, Message
from chat.visitor_tokens import visitor_token_issue
from privacy.models import ErasureRecord
from quality.models import FlaggedQuestion
from saas.idempotency.models import IdempotencyRecord
from tests.chat.factories import ContactFactory, ConversationFactory, MessageFactory
from tests.hosts import PUBLIC_HOST
from tests.tenants.factories import ApiKeyFactory, MembershipFactory
from webhooks.models import Event
from widget_builder.models import Widget

from .leftovers import body, cache_holding, files_holding, tables_holding

pytestmark = pytest.mark.django_db


def _client(seeded, user=None, secret=None) -> Client:
    client = Client(HTTP_HOST=seeded.host)
    if user is not None:
        client.force_login(user)
    if secret is not None:
        client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    return client


def _member(seeded, role: str):
    return seeded.owner if role == "owner" else MembershipFactory(tenant=seeded.tenant, role=role).user


def _plant(seeded, marker: str) -> tuple[Contact, list[str]]:
    """A contact with ``marker`` in every place their data can live; returns it and the
    stored files' names."""
    with tenant_context(seeded.tenant):
        widget = Widget.objects.order_by("pk").first()
        contact = ContactFactory(
            widget=widget,
            name=f"Ada {marker}",
            email=f"{marker.lower()}@example.com",
            phone="+4412345",
            answers={"company": f"{marker} Ltd", "note": [marker]},
            consent_given_at=timezone.now(),
            consent_text=f"I agree {marker}",
            consent_version=3,
            page_url=f"https://shop.example/{marker}",
            referrer=f"https://ref.example/{marker}",
            user_agent=f"Browser {marker}",
            external_id=f"user-{marker}",
        )
        conversation = ConversationFactory(
            widget=widget,
            contact=contact,
            csat_score=2,
            csat_comment=f"slow {marker}",
            csat_at=timezone.now(),
            notify_email=f"notify-{marker.lower()}@example.com",
        )
        question = MessageFactory(conversation=conversation, text=f"Where is my order {marker}?")
        MessageFactory(
            conversation=conversation,
            role=Message.Role.BOT,
            text=f"Answer about {marker}",
            feedback_rating=-1,
            feedback_comment=f"wrong {marker}",
            feedback_at=timezone.now(),
        )
        MessageFactory(conversation=conversation, role=Message.Role.NOTE, text=f"note {marker}")
        ActionCall.objects.create(  # an AI action the bot called for them, with their input
            action_name="order_status",
            conversation=conversation,
            contact=contact,
            arguments={"order_id": marker},
            status=ActionCall.Status.SUCCEEDED,
            result=f'{{"status": "shipped to {marker}"}}',
            response_excerpt=f"shipped to {marker}",
        )
        FlaggedQuestion.objects.create(message=question)
        attachment = Attachment.objects.create(
            conversation=conversation,
            message=question,
            name=f"invoice-{marker}.txt",
            content_type="text/plain",
            size=20,
            file=ContentFile(f"bytes {marker}".encode(), name="upload"),
        )
        Event.objects.create(
            event_id=f"evt_{uuid.uuid4().hex[:20]}",
            type="message.created",
            body=json.dumps(
                {"data": {"id": question.pk, "conversation_id": conversation.pk, "text": marker}}
            ),
        )
        Event.objects.create(
            event_id=f"evt_{uuid.uuid4().hex[:20]}",
            type="contact.updated",
            body=json.dumps({"data": {"id": str(contact.public_id), "email": contact.email}}),
        )
        IdempotencyRecord.objects.create(
            caller="user:1", key=uuid.uuid4().hex, fingerprint="f", status=201,
            body={"id": 7, "conversation_id": conversation.pk, "text": f"reply to {marker}"},
        )  # fmt: skip
        cache.set(f"visitor:{contact.public_id}:snapshot", {"name": marker}, 600)
    caches["ratelimit"].set(f"widget-visitor:{contact.public_id}:1", 1, 600)
    return contact, [attachment.file.name]


def test_erasure_leaves_no_trace_of_the_person(tenant_a, django_capture_on_commit_callbacks):
    marker = f"ERASE{uuid.uuid4().hex[:10].upper()}"
    contact, names = _plant(tenant_a, marker)
    other = _plant(tenant_a, f"KEEP{uuid.uuid4().hex[:8].upper()}")[0]  # another person stays
    schema = tenant_a.schema
    assert tables_holding(schema, marker) and files_holding(marker, under=f"tenants/{schema}")
    assert cache_holding(str(contact.public_id))
    token, _ = visitor_token_issue(
        tenant_id=tenant_a.tenant.pk, widget_id=contact.widget_id, contact_public_id=contact.public_id
    )

    admin = _client(tenant_a, _member(tenant_a, "admin"))
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(f"/dashboard/contacts/{contact.pk}/erase/", {"confirm": contact.email.upper()})
    assert response.status_code == 302, response.content

    assert tables_holding(schema, marker) == []
    assert files_holding(marker, under=f"tenants/{schema}") == []
    assert cache_holding(str(contact.public_id), marker) == []
    with tenant_context(tenant_a.tenant):
        assert not Contact.objects.filter(pk=contact.pk).exists()
        assert Contact.objects.filter(pk=other.pk).exists()
        record = ErasureRecord.objects.get(contact_public_id=contact.public_id)
        assert (record.conversations, record.messages, record.attachments, record.had_consent) == (
            1,
            3,
            1,
            True,
        )
        event = AuditEvent.objects.get(action="contact.erased")
        assert event.target_id == str(contact.public_id) and marker not in json.dumps(event.metadata)
        assert not default_storage.exists(names[0])
    # The visitor's token names nobody any more: the widget answers it 401.
    answer = Client(HTTP_HOST=PUBLIC_HOST).get(
        f"/api/widget/v1/{_widget_key(tenant_a, contact)}/conversations", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert answer.status_code == 401 and answer.json()["code"] == "visitor_token_invalid"


def _widget_key(seeded, contact) -> str:
    with tenant_context(seeded.tenant):
        return Widget.objects.get(pk=contact.widget_id).key


def test_export_holds_everything_about_the_person(tenant_a):
    marker = f"EXP{uuid.uuid4().hex[:10].upper()}"
    contact, _ = _plant(tenant_a, marker)
    admin = _client(tenant_a, _member(tenant_a, "admin"))
    response = admin.post(f"/dashboard/contacts/{contact.pk}/export")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(body(response)))
    data = json.loads(archive.read("contact.json"))
    assert data["contact"]["name"] == f"Ada {marker}"
    assert data["prechat_answers"]["company"] == f"{marker} Ltd"
    assert data["consent"]["text"] == f"I agree {marker}" and data["consent"]["version"] == 3
    [conversation] = data["conversations"]
    assert conversation["csat_comment"] == f"slow {marker}"
    assert [m["feedback_comment"] for m in conversation["messages"] if m["feedback_comment"]] == [
        f"wrong {marker}"
    ]
    [entry] = conversation["attachments"]
    assert archive.read(entry["archive_path"]) == f"bytes {marker}".encode()
    [call] = data["action_calls"]
    assert call["arguments"] == {"order_id": marker} and marker in call["result"]
    with tenant_context(tenant_a.tenant):
        event = AuditEvent.objects.get(action="contact.exported")
        assert event.target_id == str(contact.public_id) and event.metadata == {
            "conversations": 1,
            "attachments": 1,
            "action_calls": 1,
        }


def test_api_export_and_erase(tenant_a):
    marker = f"API{uuid.uuid4().hex[:10].upper()}"
    contact, _ = _plant(tenant_a, marker)
    key = _client(tenant_a, secret=ApiKeyFactory(tenant=tenant_a.tenant, role="admin").secret)
    exported = key.get(f"/api/v1/contacts/{contact.public_id}/export")
    assert exported.status_code == 200 and exported["Content-Type"] == "application/zip"
    assert marker in zipfile.ZipFile(io.BytesIO(body(exported))).read("contact.json").decode()

    refused = key.post(
        f"/api/v1/contacts/{contact.public_id}/erase", {"confirm": "yes"}, content_type="application/json"
    )
    assert refused.status_code == 422 and refused["Content-Type"] == "application/problem+json"
    assert "confirm" in refused.json()["errors"]
    with tenant_context(tenant_a.tenant):
        assert Contact.objects.filter(pk=contact.pk).exists()

    erased = key.post(
        f"/api/v1/contacts/{contact.public_id}/erase", {"confirm": "erase"}, content_type="application/json"
    )
    assert erased.status_code == 200, erased.content
    assert erased.json()["contact_id"] == str(contact.public_id) and erased.json()["messages"] == 3
    with tenant_context(tenant_a.tenant):
        assert not Contact.objects.filter(pk=contact.pk).exists()
        assert AuditEvent.objects.filter(action="contact.erased", actor_kind="api_key").exists()
    again = key.post(
        f"/api/v1/contacts/{contact.public_id}/erase", {"confirm": "erase"}, content_type="application/json"
    )
    assert again.status_code == 404


@pytest.mark.parametrize("role", ["agent", "agent-key"])
def test_agents_cannot_export_or_erase(tenant_a, role):
    contact, _ = _plant(tenant_a, f"AG{uuid.uuid4().hex[:8]}")
    if role == "agent":
        client = _client(tenant_a, _member(tenant_a, "agent"))
        assert client.post(f"/dashboard/contacts/{contact.pk}/export").status_code == 403
        assert client.get(f"/dashboard/contacts/{contact.pk}/erase/").status_code == 403
        assert (
            client.post(f"/dashboard/contacts/{contact.pk}/erase/", {"confirm": contact.email}).status_code
            == 403
        )
        page = client.get(f"/dashboard/contacts/{contact.pk}/")
        assert page.status_code == 200 and b"Erase this contact" not in page.content
    client = (
        _client(tenant_a, _member(tenant_a, "agent"))
        if role == "agent"
        else _client(tenant_a, secret=ApiKeyFactory(tenant=tenant_a.tenant, role="agent").secret)
    )
    assert client.get(f"/api/v1/contacts/{contact.public_id}/export").status_code == 403
    answer = client.post(
        f"/api/v1/contacts/{contact.public_id}/erase", {"confirm": "erase"}, content_type="application/json"
    )
    assert answer.status_code == 403
    with tenant_context(tenant_a.tenant):
        assert Contact.objects.filter(pk=contact.pk).exists()


def test_another_workspaces_contact_is_404(tenant_a, tenant_b):
    theirs, _ = _plant(tenant_b, f"B{uuid.uuid4().hex[:8]}")
    owner = _client(tenant_a, tenant_a.owner)
    assert owner.post(f"/dashboard/contacts/{theirs.pk}/export").status_code == 404
    assert owner.post(f"/dashboard/contacts/{theirs.pk}/erase/", {"confirm": theirs.email}).status_code == 404
    assert owner.get(f"/api/v1/contacts/{theirs.public_id}/export").status_code == 404
    answer = owner.post(
        f"/api/v1/contacts/{theirs.public_id}/erase", {"confirm": "erase"}, content_type="application/json"
    )
    assert answer.status_code == 404 and answer.json()["code"] == "not_found"
    with tenant_context(tenant_b.tenant):
        assert Contact.objects.filter(pk=theirs.pk).exists()


def test_erasure_page_asks_for_the_email(tenant_a):
    contact, _ = _plant(tenant_a, f"PG{uuid.uuid4().hex[:8]}")
    owner = _client(tenant_a, tenant_a.owner)
    page = owner.get(f"/dashboard/contacts/{contact.pk}/erase/")
    assert page.status_code == 200 and contact.email.encode() in page.content
    wrong = owner.post(f"/dashboard/contacts/{contact.pk}/erase/", {"confirm": "erase"})
    assert wrong.status_code == 400 and b"Nothing was erased" in wrong.content
    with tenant_context(tenant_a.tenant):
        assert Contact.objects.filter(pk=contact.pk).exists()
        assert Conversation.objects.filter(contact=contact).exists()
    # Without an email, the word "erase" confirms.
    with tenant_context(tenant_a.tenant):
        anonymous = ContactFactory(widget=Widget.objects.order_by("pk").first())
    assert owner.post(f"/dashboard/contacts/{anonymous.pk}/erase/", {"confirm": "erase"}).status_code == 302
