"""chat.contacts and the Contacts pages: search (name, email, phone, prechat answers), each
filter, who sees which contacts, a contact's page with their answers and conversations,
the empty states, and nothing of another workspace."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime

import pytest
from django_tenants.utils import tenant_context

from chat.contacts import ContactFilters, contact_conversation_counts, contacts_search
from chat.models import AgentProfile, Contact, InboxSettings, Message
from tests.chat.factories import ContactFactory, ConversationFactory, MessageFactory
from tests.tenants.factories import MembershipFactory
from tests.widget_builder.factories import WidgetFactory
from widget_builder.models import Widget

pytestmark = pytest.mark.django_db

UTC_ZONE = zoneinfo.ZoneInfo("UTC")
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


def _search(**filters) -> list[str]:
    tz = filters.pop("tz", UTC_ZONE)
    found = contacts_search(ContactFilters(**filters), user_id=0, role="owner", tz=tz)
    return sorted(c.name for c in found)


@pytest.fixture
def people(tenant_a):
    """Contacts of two widgets: leads with details, an identified one, and a silent visitor."""
    with tenant_context(tenant_a.tenant):
        main = Widget.objects.first()
        other = WidgetFactory(name="Docs widget")
        ada = ContactFactory(
            widget=main,
            name="Ada Lovelace",
            email="ada@example.com",
            phone="+441234567890",
            answers={"company": "Analytical Engines", "plan": "pro"},
            consent_given_at=datetime(2030, 3, 1, tzinfo=UTC),
            prechat_submitted_at=datetime(2030, 3, 1, tzinfo=UTC),
            created_at=datetime(2030, 3, 1, 12, tzinfo=UTC),
        )
        grace = ContactFactory(
            widget=other,
            name="Grace Hopper",
            external_id="user-42",
            identity_verified=True,
            created_at=datetime(2030, 3, 5, 23, 30, tzinfo=UTC),  # March 6 in Berlin
        )
        linus = ContactFactory(
            widget=main, name="Linus", external_id="user-7", created_at=datetime(2030, 3, 10, tzinfo=UTC)
        )
        silent = ContactFactory(widget=main, created_at=datetime(2030, 3, 2, tzinfo=UTC))
        for _ in range(2):
            ConversationFactory(widget=main, contact=ada)
        ConversationFactory(widget=other, contact=grace)
        yield {"main": main, "other": other, "ada": ada, "grace": grace, "linus": linus, "silent": silent}


def test_search_reads_names_emails_phones_and_prechat_answers(tenant_a, people):
    with tenant_context(tenant_a.tenant):
        assert _search(q="lovelace") == ["Ada Lovelace"]
        assert _search(q="ADA@EXAMPLE") == ["Ada Lovelace"]
        assert _search(q="1234 5678") == ["Ada Lovelace"]  # spaces typed in a phone number
        assert _search(q="analytical") == ["Ada Lovelace"]  # a prechat answer
        assert _search(q="user-42") == ["Grace Hopper"]  # the site's own user id
        assert _search(q="nobody like this") == []


def test_each_filter_narrows_the_list(tenant_a, people):
    with tenant_context(tenant_a.tenant):
        everyone = ["Ada Lovelace", "Grace Hopper", "Linus"]
        assert _search() == everyone  # the silent visitor is left out by default
        assert len(_search(everyone=True)) == 4
        assert _search(widget_id=people["other"].pk) == ["Grace Hopper"]
        assert _search(consent="given") == ["Ada Lovelace"]
        assert _search(consent="none") == ["Grace Hopper", "Linus"]
        assert _search(identified="yes") == ["Grace Hopper", "Linus"]
        assert _search(identified="verified") == ["Grace Hopper"]
        assert _search(identified="no") == ["Ada Lovelace"]
        assert _search(has_email="yes") == ["Ada Lovelace"]
        assert _search(has_email="no") == ["Grace Hopper", "Linus"]
        # first seen, by whole days of the workspace's time zone
        assert _search(date_from=date(2030, 3, 6), tz=BERLIN) == ["Grace Hopper", "Linus"]
        assert _search(date_from=date(2030, 3, 6)) == ["Linus"]
        assert _search(date_to=date(2030, 3, 5)) == ["Ada Lovelace", "Grace Hopper"]
        assert contact_conversation_counts([people["ada"].pk, people["linus"].pk]) == {people["ada"].pk: 2}


def test_agents_limited_to_their_widgets_see_only_those_contacts(tenant_a, people):
    agent = MembershipFactory(tenant=tenant_a.tenant, role="agent").user
    with tenant_context(tenant_a.tenant):
        InboxSettings.objects.create(visibility=InboxSettings.Visibility.WIDGETS)
        AgentProfile.objects.create(user_id=agent.pk).widgets.set([people["other"]])
        mine = contacts_search(ContactFilters(), user_id=agent.pk, role="agent", tz=UTC_ZONE)
        assert [c.name for c in mine] == ["Grace Hopper"]
        everything = contacts_search(ContactFilters(), user_id=agent.pk, role="admin", tz=UTC_ZONE)
        assert everything.count() == 3
    from django.test import Client

    client = Client(HTTP_HOST=tenant_a.host)
    client.force_login(agent)
    assert client.get(f"/dashboard/contacts/{people['ada'].pk}/").status_code == 404
    assert client.get(f"/dashboard/contacts/{people['grace'].pk}/").status_code == 200


@pytest.mark.parametrize("role", ["owner", "admin", "agent"])
def test_the_list_for_every_role_with_search_filters_and_pagination(as_role, tenant_a, people, role):
    client = as_role(role)
    response = client.get("/dashboard/contacts/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Ada Lovelace" in body and "Grace Hopper" in body and "ada@example.com" in body
    assert "no-store" in response["Cache-Control"]
    assert tenant_a.marker in body  # the widget's name
    filtered = client.get("/dashboard/contacts/", {"q": "hopper", "identified": "verified"}).content.decode()
    assert "Grace Hopper" in filtered and "Ada Lovelace" not in filtered
    # the export button carries the filters
    assert 'action="/dashboard/contacts/export?q=hopper&amp;identified=verified"' in filtered


def test_the_list_pages_fifty_at_a_time(as_role, tenant_a):
    with tenant_context(tenant_a.tenant):
        widget = Widget.objects.first()
        Contact.objects.bulk_create([Contact(widget=widget, name=f"Lead {i:03}") for i in range(55)])
    client = as_role("owner")
    first = client.get("/dashboard/contacts/")
    assert first.context["page"].paginator.count == 55 and len(first.context["rows"]) == 50
    assert "page 1 of 2" in first.content.decode()
    assert len(client.get("/dashboard/contacts/", {"page": 2}).context["rows"]) == 5


def test_a_contact_page_shows_details_answers_and_conversations(as_role, tenant_a, people):
    with tenant_context(tenant_a.tenant):
        conversation = people["ada"].conversations.first()
        MessageFactory(conversation=conversation, text="Hello")
        MessageFactory(conversation=conversation, role=Message.Role.BOT, text="Hi!")
        MessageFactory(conversation=conversation, role=Message.Role.NOTE, text="private")
    response = as_role("agent").get(f"/dashboard/contacts/{people['ada'].pk}/")
    assert response.status_code == 200
    body = response.content.decode()
    for expected in ("Ada Lovelace", "ada@example.com", "+441234567890", "Analytical Engines", "Company"):
        assert expected in body
    assert f'href="/dashboard/conversations/{conversation.pk}/"' in body
    assert body.count('data-conversation="') == 2
    assert "2 messages (1 from the visitor)" in body  # the private note is not a message
    assert "“Hello”" in body  # the first question


def test_empty_states_say_what_to_do(as_role, tenant_a):
    client = as_role("owner")
    with tenant_context(tenant_a.tenant):
        Contact.objects.all().delete()
    body = client.get("/dashboard/contacts/").content.decode()
    assert "No contacts yet" in body and "pre-chat form" in body
    searched = client.get("/dashboard/contacts/", {"q": "zzz"}).content.decode()
    assert "No contact matches" in searched and "Clear the search and filters" in searched


def test_nothing_of_another_workspace(as_role, tenant_a, tenant_b):
    with tenant_context(tenant_b.tenant):
        theirs = ContactFactory(widget=Widget.objects.first(), name=f"{tenant_b.marker} lead")
        ConversationFactory(widget=theirs.widget, contact=theirs)
    client = as_role("owner")
    assert tenant_b.marker not in client.get("/dashboard/contacts/", {"everyone": "on"}).content.decode()
    assert client.get(f"/dashboard/contacts/{theirs.pk}/").status_code in (200, 404)
    if client.get(f"/dashboard/contacts/{theirs.pk}/").status_code == 200:  # the same id in A's schema
        assert tenant_b.marker not in client.get(f"/dashboard/contacts/{theirs.pk}/").content.decode()
    assert as_role("stranger").get("/dashboard/contacts/").status_code == 404
    assert as_role(None).get("/dashboard/contacts/").status_code == 302


def test_the_list_costs_the_same_queries_for_few_or_many_contacts(as_role, tenant_a):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = as_role("agent")

    def queries_with(n: int) -> int:
        with tenant_context(tenant_a.tenant):
            widget = Widget.objects.first()
            for contact in Contact.objects.bulk_create(
                [Contact(widget=widget, name=f"P{i}") for i in range(n)]
            ):
                ConversationFactory(widget=widget, contact=contact)
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/dashboard/contacts/").status_code == 200
        return len(queries)

    client.get("/dashboard/contacts/")  # what a first request caches (session, plan) is not the list's
    assert queries_with(2) == queries_with(20)  # no query per row (widget, conversation counts)
