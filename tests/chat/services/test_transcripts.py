"""chat.services.transcripts: the transcript goes to the contact's address, once asked,
and the conversation records when."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from chat.models import Conversation
from chat.services import conversation_transcript_send, message_append
from chat.tasks import transcript_send
from tests.chat.factories import ContactFactory, ConversationFactory
from tests.emails import assert_product_email
from widget_builder.models import Widget

pytestmark = pytest.mark.django_db


def test_the_transcript_is_sent_to_the_contact_and_recorded(tenant_a, mailoutbox):
    with tenant_context(tenant_a.tenant):
        widget = Widget.objects.order_by("id").first()
        nobody = ConversationFactory(widget=widget, contact=ContactFactory(widget=widget))
        assert conversation_transcript_send(conversation=nobody) is False
        assert mailoutbox == [] and Conversation.objects.get(pk=nobody.pk).transcript_sent_at is None

        ada = ContactFactory(widget=widget, name="Ada", email="ada@example.com")
        conversation = ConversationFactory(widget=widget, contact=ada)
        message_append(conversation=conversation, role="visitor", text="<b>Where is my order?</b>")
        updated_at = Conversation.objects.get(pk=conversation.pk).updated_at
        assert transcript_send(conversation.pk) is True  # the task: re-fetch, then the service
        (mail,) = mailoutbox
        assert mail.to == ["ada@example.com"] and "&lt;b&gt;Where is my order?" in mail.alternatives[0][0]
        assert_product_email(mail, "<b>Where is my order?</b>", widget.bot_name)
        stored = Conversation.objects.get(pk=conversation.pk)
        assert stored.transcript_sent_at is not None and stored.updated_at == updated_at
        assert transcript_send(10**9) is False  # gone: nothing to send
