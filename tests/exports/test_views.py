"""exports.views (with exports.datasets): the CSV exports of the Contacts page and of the
inbox, with the page's filters, streamed with a BOM and inert cells; who may export; what an
agent limited to some widgets gets."""

from __future__ import annotations

import csv
import io

import pytest
from asgiref.sync import async_to_sync
from django.test import Client
from django_tenants.utils import tenant_context

from chat.models import AgentProfile, Conversation, InboxSettings, Message
from saas.csv_stream import BOM
from tests.billing.scenarios import restricted
from tests.chat.factories import ContactFactory, ConversationFactory, MessageFactory
from tests.tenants.factories import MembershipFactory
from tests.widget_builder.factories import WidgetFactory
from widget_builder.models import Widget

pytestmark = pytest.mark.django_db


def body(response) -> bytes:
    """A streamed response's bytes, read as the ASGI server reads them (async)."""

    async def read() -> bytes:
        return b"".join([piece async for piece in response.streaming_content])

    return async_to_sync(read)()


def rows(response) -> list[list[str]]:
    raw = body(response)
    assert raw.startswith(BOM.encode())
    return list(csv.reader(io.StringIO(raw.decode("utf-8")[1:])))


@pytest.fixture
def leads(tenant_a):
    with tenant_context(tenant_a.tenant):
        widget = Widget.objects.first()
        other = WidgetFactory(name="Docs widget")
        evil = ContactFactory(
            widget=widget,
            name='=HYPERLINK("http://evil.example","click")',
            email="evil@example.com",
            answers={"company": "+1-2", "role": "@admin"},
        )
        plain = ContactFactory(widget=widget, name="Ada Lovelace", email="ada@example.com", phone="+4412345")
        docs = ContactFactory(widget=other, name="Grace Hopper", answers={"team": "Navy"})
        ConversationFactory(widget=widget, contact=plain)
        yield {"widget": widget, "other": other, "evil": evil, "plain": plain, "docs": docs}


def test_the_contacts_export_is_the_filtered_list_streamed_with_a_bom_and_inert_cells(as_role, leads):
    response = as_role("owner").post("/dashboard/contacts/export?has_email=yes&page=3")
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="contacts-')
    assert response["X-Content-Type-Options"] == "nosniff"
    header, *lines = rows(response)
    assert header[:3] == ["Contact ID", "Name", "Email"]
    assert header[-2:] == ["Answer: company", "Answer: role"]  # the keys among the exported rows only
    by_email = {line[2]: dict(zip(header, line, strict=True)) for line in lines}
    assert set(by_email) == {"evil@example.com", "ada@example.com"}  # Grace has no email
    evil = by_email["evil@example.com"]
    assert evil["Name"] == '\'=HYPERLINK("http://evil.example","click")'
    assert evil["Answer: company"] == "'+1-2" and evil["Answer: role"] == "'@admin"
    ada = by_email["ada@example.com"]
    assert (
        ada["Phone"] == "'+4412345" and ada["Conversations"] == "1" and ada["Widget"] == leads["widget"].name
    )


def test_a_read_only_workspace_still_exports(as_role, tenant_a, leads):
    """Unpaid past its grace, a workspace refuses changes; an export only reads."""
    restricted(tenant_a.tenant)
    owner = as_role("owner")
    refused = owner.post("/dashboard/widgets/new", {"name": "X"})
    assert refused.status_code == 302 and refused["Location"] == "/dashboard/billing/"
    response = owner.post("/dashboard/contacts/export?has_email=yes")
    assert response.status_code == 200 and response.streaming
    assert {line[2] for line in rows(response)[1:]} == {"evil@example.com", "ada@example.com"}
    conversations = owner.post("/dashboard/conversations/export?view=all", HTTP_ACCEPT="application/json")
    assert conversations.status_code == 200
    assert len(rows(conversations)) == 1 + tenant_a.conversation_count + 1  # the header, Ada's


def test_the_conversations_export_has_the_inbox_filters_and_the_figures(as_role, tenant_a, leads):
    with tenant_context(tenant_a.tenant):
        conversation = ConversationFactory(widget=leads["widget"], contact=leads["plain"], csat_score=4)
        visitor, bot = Message.Role.VISITOR, Message.Role.BOT
        MessageFactory(conversation=conversation, role=visitor, text="Hi")
        MessageFactory(
            conversation=conversation, role=bot, text="Hello", outcome="answered", feedback_rating=1
        )
        MessageFactory(conversation=conversation, role=visitor, text="And prices?")
        MessageFactory(
            conversation=conversation, role=bot, text="Sorry", outcome="no_answer", feedback_rating=-1
        )
        MessageFactory(conversation=conversation, role=Message.Role.AGENT, text="I can help")
        MessageFactory(conversation=conversation, role=Message.Role.NOTE, text="=private note")
        Conversation.objects.filter(pk=conversation.pk).update(
            status=Conversation.Status.AGENT,
            handoff_requested_at=conversation.created_at,
            csat_comment="-great",
        )
        ConversationFactory(widget=leads["other"])  # another widget: filtered out
    response = as_role("admin").post(f"/dashboard/conversations/export?view=all&widget={leads['widget'].pk}")
    assert response.status_code == 200
    header, *lines = rows(response)
    found = {line[0]: dict(zip(header, line, strict=True)) for line in lines}
    assert str(conversation.pk) in found
    assert all(line["Widget"] == leads["widget"].name for line in found.values())
    row = found[str(conversation.pk)]
    assert row["Contact name"] == "Ada Lovelace" and row["Contact email"] == "ada@example.com"
    assert row["Status"] == "With an agent"
    expected = {
        "Messages": "5",
        "Visitor messages": "2",
        "Bot messages": "2",
        "Agent replies": "1",
        "AI answers": "1",
        "No answer": "1",
        "Thumbs up": "1",
        "Thumbs down": "1",
        "Handed off to a person": "yes",
        "CSAT (1-5)": "4",
        "CSAT comment": "'-great",
    }
    assert {key: row[key] for key in expected} == expected
    assert (
        "private note" not in body(as_role("owner").post("/dashboard/conversations/export?view=all")).decode()
    )


def test_an_agent_limited_to_some_widgets_exports_only_theirs(tenant_a, leads):
    agent = MembershipFactory(tenant=tenant_a.tenant, role="agent").user
    with tenant_context(tenant_a.tenant):
        InboxSettings.objects.create(visibility=InboxSettings.Visibility.WIDGETS)
        AgentProfile.objects.create(user_id=agent.pk).widgets.set([leads["other"]])
        ConversationFactory(widget=leads["other"], contact=leads["docs"])
    client = Client(HTTP_HOST=tenant_a.host)
    client.force_login(agent)
    _, *contacts = rows(client.post("/dashboard/contacts/export"))
    assert [line[1] for line in contacts] == ["Grace Hopper"]
    _, *conversations = rows(client.post("/dashboard/conversations/export?view=all"))
    assert {line[5] for line in conversations} == {"Docs widget"}


def test_who_may_export(as_role, leads):
    assert as_role("agent").post("/dashboard/contacts/export").status_code == 200
    assert (
        as_role("owner").get("/dashboard/contacts/export").status_code == 405
    )  # a download is asked by a form
    assert as_role("stranger").post("/dashboard/contacts/export").status_code == 404
    assert as_role("other").post("/dashboard/conversations/export").status_code == 404
    anonymous = as_role(None).post("/dashboard/contacts/export")
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]


def test_the_pages_carry_the_export_buttons_with_their_filters(as_role, leads):
    client = as_role("agent")
    inbox = client.get("/dashboard/conversations/?view=all&q=prices").content.decode()
    assert 'action="/dashboard/conversations/export?view=all&amp;q=prices"' in inbox
    contacts = client.get("/dashboard/contacts/?consent=given").content.decode()
    assert 'action="/dashboard/contacts/export?consent=given"' in contacts
