"""chat.selectors: reads never write. A widget whose bot was never saved is read as the
defaults, unsaved, by the dashboard, the answer pipeline and the widget API alike; the
dashboard's lists are narrowed and annotated by selectors."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from chat.models import BotSettings, Conversation
from chat.selectors import (
    bot_settings_for,
    bot_snapshot,
    conversation_last_messages,
)
from tests.chat.factories import BotSettingsFactory, ConversationFactory, MessageFactory
from tests.chat.visitors import make_visitor
from tests.knowledge.factories import KnowledgeBaseFactory
from tests.widget_builder.factories import WidgetFactory
from widget_builder.models import Widget

pytestmark = pytest.mark.django_db

WRITES = ("insert", "update", "delete")


def chat_writes(captured: CaptureQueriesContext) -> list[str]:
    """The statements that changed a chat table (sessions and rate-limit counters aside)."""
    return [
        q["sql"]
        for q in captured.captured_queries
        if q["sql"].lstrip().lower().startswith(WRITES) and '"chat_' in q["sql"]
    ]


def test_a_bot_never_saved_is_read_as_the_defaults_without_a_write(tenant_a):
    with tenant_context(tenant_a.tenant):
        widget = Widget.objects.order_by("id").first()
        assert not BotSettings.objects.filter(widget=widget).exists()
        with CaptureQueriesContext(connection) as captured:
            bot = bot_settings_for(widget)
            snapshot = bot_snapshot(widget)
        assert chat_writes(captured) == [] and len(captured) == 3  # the bot twice, the rules once
        assert bot.pk is None and bot.widget_id == widget.pk
        assert snapshot.bot.pk is None and snapshot.knowledge_base_ids == [] and snapshot.automations == []
        assert not BotSettings.objects.filter(widget=widget).exists()

        # The same defaults a stored row starts with.
        stored = BotSettingsFactory(widget=WidgetFactory(name="Second"))
        names = [f.attname for f in BotSettings._meta.concrete_fields if f.attname not in ("id", "widget_id")]
        names.remove("updated_at")
        assert {n: getattr(bot, n) for n in names} == {n: getattr(stored, n) for n in names}


def test_dashboard_pages_read_without_writing(owner, tenant_a):
    with tenant_context(tenant_a.tenant):
        widget = Widget.objects.order_by("id").first()
        conversation = Conversation.objects.order_by("id").first()
    for path in (
        f"/dashboard/widgets/{widget.pk}/bot/",
        f"/dashboard/widgets/{widget.pk}/automations/",
        "/dashboard/conversations/",
        f"/dashboard/conversations/{conversation.pk}/",
    ):
        with CaptureQueriesContext(connection) as captured:
            response = owner.get(path)
        assert response.status_code == 200, path
        assert chat_writes(captured) == [], path
    page = owner.get(f"/dashboard/widgets/{widget.pk}/bot/").content.decode()
    assert "No key stored." in page and BotSettings().persona in page  # the defaults, shown
    with tenant_context(tenant_a.tenant):
        assert not BotSettings.objects.filter(widget=widget).exists()


def test_answers_with_a_bot_never_saved_use_the_defaults_and_store_no_settings(tenant_a, fake_llm):
    visitor = make_visitor(tenant_a)
    answer = visitor.send(Client(), "Do you ship to Germany?").json()["answer"]
    assert answer["outcome"] in ("answered", "no_answer")
    request = fake_llm.requests[-1]
    assert BotSettings().persona in request.prompt_text  # the default persona opens the prompt
    with tenant_context(tenant_a.tenant):
        assert not BotSettings.objects.filter(widget=visitor.widget).exists()


def test_the_last_message_of_each_conversation_skips_system_events(tenant_a):
    with tenant_context(tenant_a.tenant):
        widget = Widget.objects.order_by("id").first()
        chatty = ConversationFactory(widget=widget)
        MessageFactory(conversation=chatty, role="visitor", text="Where is my parcel?")
        MessageFactory(
            conversation=chatty, role="bot", text="It left our warehouse\n\n  this morning. " + "x" * 300
        )
        MessageFactory(conversation=chatty, role="system", text="The visitor asked for a person.")
        quiet = ConversationFactory(widget=widget)
        with CaptureQueriesContext(connection) as captured:
            last = conversation_last_messages([chatty.pk, quiet.pk])
    assert len(captured) == 1
    role, text = last[chatty.pk]
    assert role == "bot" and text.startswith("It left our warehouse\n\n  this morning.") and len(text) == 160
    assert quiet.pk not in last


def test_a_bots_snapshot_forgets_a_deleted_knowledge_base(tenant_a):
    """Deleting a knowledge base removes its links to bots by cascade, without a signal per
    bot: every bot of the workspace is read again (one that searched only that base must
    not go on searching it from the cache)."""
    with tenant_context(tenant_a.tenant):
        widget = Widget.objects.order_by("id").first()
        kb = KnowledgeBaseFactory()
        BotSettingsFactory(widget=widget).knowledge_bases.set([kb])
        assert bot_snapshot(widget).knowledge_base_ids == [kb.pk]
        kb.delete()
        assert bot_snapshot(widget).knowledge_base_ids == []
