"""chat.inbox, the inbox's reads: the views' counts in one query, full-text search on the
'simple' configuration the GIN index is built on, the visibility rule, canned replies'
variables, the snooze presets in the workspace's time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context

from chat import inbox
from chat.inbox import InboxFilters
from chat.models import AgentProfile, Conversation, InboxSettings
from tests.chat.factories import ContactFactory, ConversationFactory, MessageFactory
from tests.widget_builder.factories import WidgetFactory
from widget_builder.models import Widget

pytestmark = pytest.mark.django_db


def test_canned_variables_are_filled_and_unknown_ones_vanish():
    text = "Hi {{contact.name}}, {{ agent.name }} here ({{workspace.name}}). {{contact.phone}}{{ nope }}"
    filled = inbox.canned_fill(text, {"contact.name": "Ada", "agent.name": "Lena", "workspace.name": "Fjord"})
    assert filled == "Hi Ada, Lena here (Fjord). {{ nope }}"


def test_snooze_presets_in_the_workspace_time_zone():
    now = datetime(2026, 3, 4, 22, 30, tzinfo=UTC)  # a Wednesday; 23:30 in Berlin
    presets = {key: until for key, _, until in inbox.snooze_presets(now, ZoneInfo("Europe/Berlin"))}
    assert presets["hour"] == now + timedelta(hours=1)
    assert (
        presets["tomorrow"].astimezone(ZoneInfo("Europe/Berlin")).isoformat() == "2026-03-05T09:00:00+01:00"
    )
    monday = presets["week"].astimezone(ZoneInfo("Europe/Berlin"))
    assert monday.weekday() == 0 and monday.hour == 9 and monday.date().isoformat() == "2026-03-09"


def test_counts_take_one_query_and_search_uses_the_simple_configuration(tenant_a, owner):
    user_id = tenant_a.owner.pk
    with tenant_context(tenant_a.tenant):
        widget = Widget.objects.order_by("id").first()
        for i in range(3):
            conversation = ConversationFactory(
                widget=widget, status=Conversation.Status.WAITING, contact=ContactFactory(widget=widget)
            )
            MessageFactory(conversation=conversation, role="visitor", text=f"Les vélos numéro {i} grincent")
        with CaptureQueriesContext(connection) as captured:
            counts = inbox.inbox_counts(user_id=user_id, role="owner")
        assert len(captured) == 1 and counts["waiting"] == 3 and counts["unassigned"] == 3
        assert inbox.unread_badge(user_id=user_id, role="owner") == counts["unread"]
        found = inbox.inbox_conversations(
            InboxFilters(view="all", q="VÉLOS grincent"), user_id=user_id, role="owner"
        )
        with CaptureQueriesContext(connection) as captured:
            assert found.count() == 3
        sql = captured[0]["sql"]
        assert "to_tsvector('simple'::regconfig" in sql or "to_tsvector(simple" in sql.replace("'", "")
        assert "plainto_tsquery" in sql


def test_the_unread_badge_counts_open_unread_conversations_in_one_query_on_its_index(tenant_a):
    """The badge is on every dashboard page: one query, read from the partial index that
    holds only the rows it counts (so it costs the same however many conversations were
    read or closed)."""
    user_id, S = tenant_a.owner.pk, Conversation.Status
    with tenant_context(tenant_a.tenant):
        widget = Widget.objects.order_by("id").first()
        before = inbox.unread_badge(user_id=user_id, role="owner")
        later = timezone.now() + timedelta(hours=1)
        for status, read, snoozed in [
            (S.WAITING, 0, None),  # counted
            (S.AGENT, 2, timezone.now() - timedelta(minutes=1)),  # counted: the snooze is over
            (S.PENDING, 0, later),  # snoozed
            (S.AGENT, 3, None),  # read
            (S.BOT, 0, None),  # the bot's
            (S.CLOSED, 0, None),  # resolved
        ]:
            ConversationFactory(
                widget=widget, status=status, last_visitor_seq=3, agent_read_seq=read, snoozed_until=snoozed
            )
        with CaptureQueriesContext(connection) as captured:
            assert inbox.unread_badge(user_id=user_id, role="owner") == before + 2
        assert len(captured) == 1
        assert inbox.inbox_counts(user_id=user_id, role="owner")["unread"] == before + 2
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")  # the table is small here
            cursor.execute("EXPLAIN " + captured[0]["sql"])
            plan = "\n".join(row[0] for row in cursor.fetchall())
            cursor.execute("SET LOCAL enable_seqscan = on")
        assert "conversation_unread_idx" in plan, plan


def test_an_agent_restricted_to_widgets_sees_only_theirs(tenant_a):
    with tenant_context(tenant_a.tenant):
        first, second = Widget.objects.order_by("id").first(), WidgetFactory(name="Shop")
        theirs, other = ConversationFactory(widget=first), ConversationFactory(widget=second)
        InboxSettings.objects.create(visibility=InboxSettings.Visibility.WIDGETS)
        AgentProfile.objects.create(user_id=4242).widgets.set([first])

        def seen(role: str, user_id: int = 4242) -> set[int]:
            return set(inbox.visible_conversations(user_id=user_id, role=role).values_list("pk", flat=True))

        assert theirs.pk in seen("agent") and other.pk not in seen("agent")
        assert {theirs.pk, other.pk} <= seen("admin") and {theirs.pk, other.pk} <= seen("support")
        assert {theirs.pk, other.pk} <= seen("agent", user_id=4343)  # no widgets listed: all of them
        assert inbox.conversation_visible(conversation_id=other.pk, user_id=4242, role="agent") is None


def test_snoozed_conversations_leave_the_open_views_until_they_wake(tenant_a):
    user_id = tenant_a.owner.pk
    with tenant_context(tenant_a.tenant):
        widget = Widget.objects.order_by("id").first()
        later = ConversationFactory(
            widget=widget, status=Conversation.Status.AGENT, snoozed_until=timezone.now() + timedelta(hours=1)
        )
        woke = ConversationFactory(
            widget=widget,
            status=Conversation.Status.AGENT,
            snoozed_until=timezone.now() - timedelta(minutes=1),
        )

        def ids(view: str) -> set[int]:
            rows = inbox.inbox_conversations(InboxFilters(view=view), user_id=user_id, role="owner")
            return set(rows.values_list("pk", flat=True))

        assert later.pk in ids("snoozed") and later.pk not in ids("open") | ids("unassigned")
        assert woke.pk in ids("open") and woke.pk in ids("unassigned") and woke.pk not in ids("snoozed")
