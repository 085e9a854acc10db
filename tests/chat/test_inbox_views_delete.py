"""chat.views_inbox: deleting a conversation from its page, confirmed, owners and admins
only, through chat.services.conversation_delete (audited)."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from audit.models import AuditEvent
from chat.models import Conversation, Message
from tests.chat.factories import ContactFactory, ConversationFactory, MessageFactory
from widget_builder.models import Widget

pytestmark = pytest.mark.django_db


def _conversation(seeded) -> Conversation:
    with tenant_context(seeded.tenant):
        widget = Widget.objects.order_by("id").first()
        conversation = ConversationFactory(widget=widget, contact=ContactFactory(widget=widget, name="Ada"))
        MessageFactory(conversation=conversation, role=Message.Role.VISITOR, text="hello")
        return conversation


def test_an_owner_confirms_then_deletes(tenant_a, owner):
    conversation = _conversation(tenant_a)
    page = owner.get(f"/dashboard/conversations/{conversation.pk}/").content.decode()
    delete_url = f"/dashboard/conversations/{conversation.pk}/delete/"
    assert delete_url in page
    confirm = owner.get(delete_url)
    assert confirm.status_code == 200
    assert "This cannot be undone" in confirm.content.decode() and "1 message" in confirm.content.decode()
    with tenant_context(tenant_a.tenant):
        assert Conversation.objects.filter(pk=conversation.pk).exists()  # asking deletes nothing
    done = owner.post(delete_url, follow=True)
    assert done.redirect_chain[-1][0] == "/dashboard/conversations/"
    assert f"Conversation #{conversation.pk} deleted with its 1 message" in done.content.decode()
    with tenant_context(tenant_a.tenant):
        assert not Conversation.objects.filter(pk=conversation.pk).exists()
        event = AuditEvent.objects.get(action="conversation.deleted")
        assert event.actor_id == tenant_a.owner.pk and event.target_id == str(conversation.pk)
    assert owner.get(delete_url).status_code == 404


def test_agents_see_no_delete_and_are_refused(tenant_a, as_role):
    conversation = _conversation(tenant_a)
    agent = as_role("agent")
    delete_url = f"/dashboard/conversations/{conversation.pk}/delete/"
    assert delete_url not in agent.get(f"/dashboard/conversations/{conversation.pk}/").content.decode()
    assert agent.get(delete_url).status_code == 403
    assert agent.post(delete_url).status_code == 403
    with tenant_context(tenant_a.tenant):
        assert Conversation.objects.filter(pk=conversation.pk).exists()
    assert as_role("admin").post(delete_url).status_code == 302


def test_another_workspaces_conversation_is_404(tenant_b, owner):
    theirs = _conversation(tenant_b)
    assert owner.post(f"/dashboard/conversations/{theirs.pk}/delete/").status_code == 404
    with tenant_context(tenant_b.tenant):
        assert Conversation.objects.filter(pk=theirs.pk).exists()
