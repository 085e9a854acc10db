"""Factories for the chat engine (tenant schema: use them inside ``tenant_context``).

Messages are appended through ``chat.services.message_append``, so each one gets the
sequence number the service gives (and the conversation's ``last_seq`` follows), never one
a test made up.
"""

from __future__ import annotations

import factory
from factory.django import DjangoModelFactory

from chat.models import (
    Attachment,
    AutomationFiring,
    AutomationRule,
    BotSettings,
    Contact,
    Conversation,
    Message,
)
from chat.services import message_append
from tests.widget_builder.factories import WidgetFactory


class ContactFactory(DjangoModelFactory):
    """A visitor of a widget (anonymous unless given a name or an address)."""

    class Meta:
        model = Contact

    widget = factory.SubFactory(WidgetFactory)


class ConversationFactory(DjangoModelFactory):
    """A conversation with the bot, of a visitor (``contact``) or of nobody known."""

    class Meta:
        model = Conversation

    widget = factory.SubFactory(WidgetFactory)
    contact = None


class MessageFactory(DjangoModelFactory):
    """A message appended to ``conversation`` by ``message_append``; other fields (citations,
    outcome, feedback, cost...) are stored with it."""

    class Meta:
        model = Message

    conversation = factory.SubFactory(ConversationFactory)
    role = Message.Role.VISITOR
    text = factory.Sequence(lambda n: f"Message {n}")

    @classmethod
    def _create(cls, model_class, *args, conversation, role, text, **fields):
        message, _ = message_append(conversation=conversation, role=role, text=text, **fields)
        return message


class AutomationRuleFactory(DjangoModelFactory):
    """A keyword rule unless ``kind`` says otherwise (a greeting or an offline reply needs
    no pattern)."""

    class Meta:
        model = AutomationRule

    widget = factory.SubFactory(WidgetFactory)
    kind = AutomationRule.Kind.KEYWORD
    name = factory.Sequence(lambda n: f"Rule {n}")
    pattern = "hello"
    reply = "Hi there!"


class AutomationFiringFactory(DjangoModelFactory):
    class Meta:
        model = AutomationFiring

    rule = factory.SubFactory(AutomationRuleFactory)
    conversation = factory.SubFactory(ConversationFactory, widget=factory.SelfAttribute("..rule.widget"))


class BotSettingsFactory(DjangoModelFactory):
    """A stored bot settings row (a widget without one is read as the defaults)."""

    class Meta:
        model = BotSettings

    widget = factory.SubFactory(WidgetFactory)


class AttachmentFactory(DjangoModelFactory):
    """A visitor's file, stored under the tenant's prefix (delete ``file`` after the test:
    rows roll back, files stay)."""

    class Meta:
        model = Attachment

    message = factory.SubFactory(MessageFactory)
    conversation = factory.SelfAttribute("message.conversation")
    name = "notes.txt"
    content_type = "text/plain"
    file = factory.django.FileField(filename="upload", data=b"hello")
    size = factory.LazyAttribute(lambda o: o.file.size)
