"""chat.apis: DELETE /api/v1/conversations/{id}, through chat.services.conversation_delete:
204 then 404, another workspace's id 404, agents 403 (people and keys), audited, files gone."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django_tenants.utils import tenant_context

from audit.models import AuditEvent
from chat.models import Attachment, Conversation, Message
from chat.services.attachments import attachment_add
from tests.chat.factories import ContactFactory, ConversationFactory, MessageFactory
from tests.tenants.factories import ApiKeyFactory
from widget_builder.models import Widget

pytestmark = pytest.mark.django_db
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _conversation(seeded, *, attachment=False) -> Conversation:
    with tenant_context(seeded.tenant):
        widget = Widget.objects.order_by("id").first()
        conversation = ConversationFactory(widget=widget, contact=ContactFactory(widget=widget))
        MessageFactory(conversation=conversation, role=Message.Role.VISITOR, text="hello")
        if attachment:
            attachment_add(
                conversation=conversation,
                upload=SimpleUploadedFile("shot.png", PNG),
                kinds=["image"],
                max_mb=1,
            )
        return conversation


def _exists(seeded, pk) -> bool:
    with tenant_context(seeded.tenant):
        return Conversation.objects.filter(pk=pk).exists()


def test_delete_204_then_404(tenant_a, owner, django_capture_on_commit_callbacks):
    conversation = _conversation(tenant_a, attachment=True)
    with tenant_context(tenant_a.tenant):
        name = Attachment.objects.get(conversation=conversation).file.name
    with django_capture_on_commit_callbacks(execute=True):
        response = owner.delete(f"/api/v1/conversations/{conversation.pk}")
    assert response.status_code == 204 and response.content == b""
    assert not _exists(tenant_a, conversation.pk)
    assert not default_storage.exists(name)
    with tenant_context(tenant_a.tenant):
        assert not Message.objects.filter(conversation_id=conversation.pk).exists()
        event = AuditEvent.objects.get(action="conversation.deleted")
        assert event.target_id == str(conversation.pk) and event.actor_id == tenant_a.owner.pk
        assert event.metadata == {"conversations": 1, "messages": 2, "attachments": 1}
    again = owner.delete(f"/api/v1/conversations/{conversation.pk}")
    assert again.status_code == 404 and again.json()["code"] == "not_found"


def test_another_workspaces_id_is_404(tenant_a, tenant_b, owner):
    theirs = _conversation(tenant_b)
    response = owner.delete(f"/api/v1/conversations/{theirs.pk}")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert _exists(tenant_b, theirs.pk)


def test_agents_may_not_delete(tenant_a, as_role):
    conversation = _conversation(tenant_a)
    response = as_role("agent").delete(f"/api/v1/conversations/{conversation.pk}")
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    agent_key = ApiKeyFactory(tenant=tenant_a.tenant, role="agent")
    client = Client(HTTP_HOST=tenant_a.host, HTTP_AUTHORIZATION=f"Bearer {agent_key.secret}")
    assert client.delete(f"/api/v1/conversations/{conversation.pk}").status_code == 403
    assert _exists(tenant_a, conversation.pk)
    admin_key = ApiKeyFactory(tenant=tenant_a.tenant, role="admin")
    client = Client(HTTP_HOST=tenant_a.host, HTTP_AUTHORIZATION=f"Bearer {admin_key.secret}")
    assert client.delete(f"/api/v1/conversations/{conversation.pk}").status_code == 204
    with tenant_context(tenant_a.tenant):
        event = AuditEvent.objects.get(action="conversation.deleted")
        assert event.actor_kind == AuditEvent.ActorKind.API_KEY
    assert as_role("admin").delete(f"/api/v1/conversations/{conversation.pk}").status_code == 404
