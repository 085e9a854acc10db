"""chat.views, the chat dashboard: conversations and transcripts, and per widget the bot
settings, automations and playground. Roles, tenant isolation, the write-only API key, SSRF
on the server address, regex validation and the playground's passages. (The Markdown they
render: test_markdown.py.)"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context

from billing.quotas import tenant_plan
from chat.models import AutomationRule, BotSettings, Contact, Conversation, Message
from chat.views import time_ago
from knowledge.retrieval import Passage
from saas.crypto import secret_decrypt
from tests.billing.factories import QuotaNoticeFactory, UsageCounterFactory
from tests.chat.factories import (
    AttachmentFactory,
    AutomationFiringFactory,
    AutomationRuleFactory,
    ContactFactory,
    ConversationFactory,
    MessageFactory,
)
from tests.chat.inert_html import PAGE_TAGS, assert_inert
from tests.knowledge.factories import KnowledgeBaseFactory
from tests.widget_builder.factories import WidgetFactory
from widget_builder.models import Widget

pytestmark = pytest.mark.django_db

SECRET = "sk-live-SECRET-123456"
LINK_ATTRS = 'rel="noopener noreferrer nofollow" target="_blank"'
XSS = (
    '<script>window.__xss=1</script> <img src=x onerror="window.__xss=1"> '
    '[click](javascript:window.__xss=1) <svg onload="window.__xss=1"></svg> '
    '<a href="javascript:window.__xss=1">raw</a> ![pixel](https://evil.test/pixel.png) '
    "[data](data:text/html;base64,PHNjcmlwdD53aW5kb3cuX194c3M9MTwvc2NyaXB0Pg==)"
)


# --- fixtures and helpers ----------------------------------------------------------------


def _widget(seeded) -> Widget:
    with tenant_context(seeded.tenant):
        return Widget.objects.order_by("id").first()


def _conversation(seeded, *, text: str | None = None, **fields) -> Conversation:
    """A conversation with a contact, a visitor question, a cited bot answer with feedback,
    an agent reply and an attachment, all carrying the tenant's marker (or ``text``)."""
    marker = seeded.marker
    text = text or f"{marker} visitor question"
    with tenant_context(seeded.tenant):
        widget = Widget.objects.order_by("id").first()
        contact = ContactFactory(
            widget=widget,
            name=f"{marker} Ada",
            email="ada@example.com",
            phone="+49301234567",
            country="DE",
            answers={"plan": f"{marker} Pro"},
            page_url="https://customer.example/pricing",
            referrer="https://search.example/",
            user_agent="Mozilla/5.0 test",
            locale="de",
        )
        conversation = ConversationFactory(widget=widget, contact=contact, **fields)
        rule = AutomationRuleFactory(widget=widget, name=f"{marker} rule", pattern="", reply="x")
        question = MessageFactory(conversation=conversation, role="visitor", text=text)
        MessageFactory(
            conversation=conversation,
            role="bot",
            text=f"**{marker} answer** [1]",
            citations=[{"n": 1, "title": f"{marker} source", "url": "https://help.example/a"}],
            outcome="answered",
            provider="anthropic",
            model="claude-test",
            tokens_in=120,
            tokens_out=30,
            latency_ms=456,
            cost_usd=Decimal("0.001234"),
            feedback_rating=-1,
            feedback_comment=f"{marker} not helpful",
        )
        MessageFactory(
            conversation=conversation, role="bot", text="canned", outcome="automation", automation_rule=rule
        )
        MessageFactory(conversation=conversation, role="agent", text=f"{marker} _agent_ reply")
        conversation.attachment = AttachmentFactory(
            conversation=conversation, message=question, name=f"{marker}-notes.txt", content_type="text/plain"
        )
        return conversation


@pytest.fixture
def cleanup_files():
    made: list[tuple] = []
    yield made
    for tenant, attachment in made:
        with tenant_context(tenant):
            attachment.file.delete(save=False)


def _foreign(seeded_b, seeded_a, model, make):
    """An object of tenant B whose id does not exist in tenant A's schema."""
    for _ in range(20):
        with tenant_context(seeded_b.tenant):
            obj = make()
        with tenant_context(seeded_a.tenant):
            if not model.objects.filter(pk=obj.pk).exists():
                return obj
    raise AssertionError("could not find an id free in tenant A")


def _bot_form(**changes) -> dict:
    data = {
        "provider": "platform",
        "model": "",
        "base_url": "",
        "key_source": "platform",
        "api_key": "",
        "temperature": "0.3",
        "max_answer_tokens": "600",
        "persona": "You are helpful.",
        "language": "visitor",
        "knowledge_only": "True",
        "no_answer_text": "No idea yet.",
        "unavailable_text": "Try again later.",
        "offer_handoff": "on",
        "attachment_kinds": ["image", "text"],
        "attachment_max_mb": "5",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


# --- role matrix -------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["owner", "admin", "agent", "stranger", "other", None])
def test_role_matrix_for_every_new_page(as_role, tenant_a, cleanup_files, role):
    conversation = _conversation(tenant_a)
    cleanup_files.append((tenant_a.tenant, conversation.attachment))
    widget = _widget(tenant_a)
    with tenant_context(tenant_a.tenant):
        rule = AutomationRuleFactory(widget=widget, name="r", pattern="x", reply="y")
    everyone, managers = {"owner", "admin", "agent"}, {"owner", "admin"}
    pages = [
        ("/dashboard/conversations/", everyone),
        (f"/dashboard/conversations/{conversation.pk}/", everyone),
        (f"/dashboard/conversations/attachments/{conversation.attachment.public_id}", everyone),
        (f"/dashboard/widgets/{widget.pk}/bot/", managers),
        (f"/dashboard/widgets/{widget.pk}/automations/", managers),
        (f"/dashboard/widgets/{widget.pk}/automations/{rule.pk}/", managers),
        (f"/dashboard/widgets/{widget.pk}/automations/{rule.pk}/delete/", managers),
        (f"/dashboard/widgets/{widget.pk}/playground/", managers),
    ]
    client = as_role(role)
    for path, allowed in pages:
        response = client.get(path)
        if role is None:
            expected = 302
        elif role in ("stranger", "other"):
            expected = 404
        else:
            expected = 200 if role in allowed else 403
        assert response.status_code == expected, (path, role, response.status_code)
        if role is None:
            assert "/login/" in response["Location"]
    toggle = client.post(f"/dashboard/widgets/{widget.pk}/automations/{rule.pk}/toggle")
    expected = {None: 302, "stranger": 404, "other": 404, "agent": 403}.get(role, 302)
    assert toggle.status_code == expected
    if role is None:
        assert "/login/" in toggle["Location"]


def test_conversations_section_is_in_the_navigation_for_agents(as_role):
    page = as_role("agent").get("/dashboard/").content.decode()
    assert 'href="/dashboard/conversations/"' in page


def test_widget_pages_are_linked_from_the_builder_and_the_list(owner, as_role, tenant_a):
    widget = _widget(tenant_a)
    for path in ("/dashboard/widgets/", f"/dashboard/widgets/{widget.pk}/"):
        page = owner.get(path).content.decode()
        for target in ("bot", "automations", "playground"):
            assert f'href="/dashboard/widgets/{widget.pk}/{target}/"' in page, (path, target)
    agent_list = as_role("agent").get("/dashboard/widgets/").content.decode()
    assert f"/dashboard/widgets/{widget.pk}/bot/" not in agent_list


# --- tenant isolation --------------------------------------------------------------------


def test_other_tenants_ids_are_not_found(owner, tenant_a, tenant_b, cleanup_files):
    mine = _conversation(tenant_a)
    foreign = _foreign(tenant_b, tenant_a, Conversation, lambda: _conversation(tenant_b))
    cleanup_files += [(tenant_a.tenant, mine.attachment), (tenant_b.tenant, foreign.attachment)]
    foreign_widget = _foreign(tenant_b, tenant_a, Widget, lambda: WidgetFactory(name="MARKER-B-x"))
    with tenant_context(tenant_b.tenant):
        foreign_rule = AutomationRuleFactory(
            widget=foreign_widget, kind="greeting", name="g", pattern="", reply="hi"
        )
    paths = [
        f"/dashboard/conversations/{foreign.pk}/",
        f"/dashboard/conversations/attachments/{foreign.attachment.public_id}",
        "/dashboard/conversations/attachments/00000000-0000-4000-8000-000000000000",
        "/dashboard/conversations/attachments/not-a-uuid",
        f"/dashboard/widgets/{foreign_widget.pk}/bot/",
        f"/dashboard/widgets/{foreign_widget.pk}/automations/",
        f"/dashboard/widgets/{foreign_widget.pk}/playground/",
        f"/dashboard/widgets/{_widget(tenant_a).pk}/automations/{foreign_rule.pk}/",
    ]
    for path in paths:
        assert owner.get(path).status_code == 404, path
    assert (
        owner.post(f"/dashboard/widgets/{foreign_widget.pk}/playground/", {"question": "hi"}).status_code
        == 404
    )
    with tenant_context(tenant_b.tenant):
        assert BotSettings.objects.filter(widget=foreign_widget).count() == 0

    page = owner.get(f"/dashboard/conversations/{mine.pk}/").content.decode()
    assert "MARKER-A visitor question" in page and "MARKER-A Ada" in page
    assert "MARKER-B" not in page
    listing = owner.get("/dashboard/conversations/", {"view": "all"}).content.decode()
    assert "MARKER-A Ada" in listing and "MARKER-B" not in listing


# --- conversations -----------------------------------------------------------------------


def test_list_rows_and_usage(owner, tenant_a, cleanup_files):
    """The inbox's rows (views, filters and search: test_inbox_views.py) and the AI usage."""
    rated = _conversation(tenant_a, status=Conversation.Status.CLOSED, csat_score=4)
    cleanup_files.append((tenant_a.tenant, rated.attachment))
    with tenant_context(tenant_a.tenant):
        widget = Widget.objects.order_by("id").first()
        quiet = ConversationFactory(
            widget=widget, contact=ContactFactory(widget=widget, name="Bob", email="bob@example.com")
        )
    response = owner.get("/dashboard/conversations/", {"view": "all"})
    rows = {r["conversation"].pk: r for r in response.context["rows"]}
    row = rows[rated.pk]
    assert row["contact"] == "MARKER-A Ada · ada@example.com" and row["last_role"] == "agent"
    assert row["preview"] == "MARKER-A _agent_ reply"
    page = response.content.decode()
    assert "4/5" in page and "Visitor" in page and "Resolved" in page  # seeded conversations have no contact
    assert next(iter(rows)) == quiet.pk  # the latest activity first

    limit = tenant_plan(tenant_a.tenant).ai_answers
    UsageCounterFactory(tenant=tenant_a.tenant, metric="ai_answers", value=37)
    page = owner.get("/dashboard/conversations/").content.decode()
    assert f"<strong>37</strong> of {limit}" in page and "AI answers used up" not in page
    QuotaNoticeFactory(tenant=tenant_a.tenant, metric="ai_answers", level=100)
    page = owner.get("/dashboard/conversations/").content.decode()
    assert "AI answers used up: visitors get your fallback text and a handoff offer." in page


def test_list_queries_do_not_grow_with_rows_and_pages_hold_fifty(owner, tenant_a):
    def make(count: int) -> None:
        with tenant_context(tenant_a.tenant):
            widget = Widget.objects.order_by("id").first()
            for i in range(count):
                contact = ContactFactory(widget=widget, name=f"c{i}")
                conversation = ConversationFactory(widget=widget, contact=contact)
                MessageFactory(conversation=conversation, role="visitor", text="hi")

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert owner.get("/dashboard/conversations/", {"view": "all"}).status_code == 200
        return len(captured)

    make(2)
    queries()  # warm the caches (host, plan)
    few = queries()
    make(20)
    assert queries() == few
    make(40)
    first = owner.get("/dashboard/conversations/", {"view": "all"})
    assert len(first.context["rows"]) == 50 and first.context["page"].has_next()
    assert 'href="?view=all&amp;page=2"' in first.content.decode()
    second = owner.get("/dashboard/conversations/", {"view": "all", "page": 2, "status": "bot"})
    assert second.status_code == 200 and len(second.context["rows"]) == 64 - 50
    assert "page=1" in second.content.decode() and "status=bot" in second.content.decode()


# The inbox's query count: tests/chat/test_inbox_views.py.


def test_times_read_as_people_say_them_with_the_full_date_in_the_title(owner, tenant_a):
    now = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
    ago = {
        timedelta(seconds=20): "just now",
        timedelta(minutes=3): "3 min ago",
        timedelta(hours=5): "5 h ago",
        timedelta(days=1, hours=2): "yesterday",
        timedelta(days=4): "4 days ago",
        timedelta(days=20): "May 26",
        timedelta(days=400): "May 11, 2025",
    }
    assert {delta: time_ago(now - delta, now) for delta in ago} == ago
    assert time_ago(None, now) == ""

    with tenant_context(tenant_a.tenant):
        widget = Widget.objects.order_by("id").first()
        conversation = ConversationFactory(widget=widget)
        MessageFactory(conversation=conversation, role="visitor", text="hi")
        Message.objects.filter(conversation=conversation).update(
            created_at=timezone.now() - timedelta(minutes=3)
        )
        Conversation.objects.filter(pk=conversation.pk).update(
            last_message_at=timezone.now() - timedelta(minutes=3)
        )
    page = owner.get("/dashboard/conversations/", {"view": "all"}).content.decode()
    assert re.search(
        r'<time datetime="[^"]+" title="[A-Z][a-z]+day, [A-Z][a-z]+ \d+, \d{4}, \d\d:\d\d">3 min ago</time>',
        page,
    )


def test_transcript_shows_everything_a_manager_needs(as_role, tenant_a, cleanup_files):
    conversation = _conversation(tenant_a, csat_score=2, csat_comment="MARKER-A slow")
    cleanup_files.append((tenant_a.tenant, conversation.attachment))
    response = as_role("agent").get(f"/dashboard/conversations/{conversation.pk}/")
    page = response.content.decode()
    for expected in (
        "MARKER-A Ada",
        "ada@example.com",
        "+49301234567",
        "MARKER-A Pro",
        "https://customer.example/pricing",
        "Mozilla/5.0 test",
        "<strong>MARKER-A answer</strong> [1]",
        "<em>agent</em>",
        f'href="https://help.example/a" {LINK_ATTRS}><span class="chip-n">1</span>MARKER-A source</a>',
        "Rated not helpful",
        "MARKER-A not helpful",
        "anthropic/claude-test",
        "120/30",
        "456 ms",
        "$0.001234",
        "MARKER-A rule",
        "2/5",
        "MARKER-A slow",
        f'href="/dashboard/conversations/attachments/{conversation.attachment.public_id}"',
        "MARKER-A-notes.txt",
    ):
        assert expected in page, expected
    download = as_role("agent").get(
        f"/dashboard/conversations/attachments/{conversation.attachment.public_id}"
    )
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"hello"
    assert download["Content-Type"] == "application/octet-stream"
    assert download["X-Content-Type-Options"] == "nosniff" and "attachment" in download["Content-Disposition"]


def test_payloads_in_messages_stay_inert(owner, tenant_a, cleanup_files):
    conversation = _conversation(tenant_a, text=XSS)
    cleanup_files.append((tenant_a.tenant, conversation.attachment))
    with tenant_context(tenant_a.tenant):
        Message.objects.filter(conversation=conversation, role__in=["bot", "agent"]).update(text=XSS)
        Message.objects.filter(conversation=conversation, seq=2).update(
            citations=[
                {"n": 1, "title": '<img src=x onerror="window.__xss=1">', "url": "javascript:window.__xss=1"},
                {"n": 2, "title": "data", "url": "data:text/html,<script>window.__xss=1</script>"},
            ],
            feedback_comment="<script>window.__xss=1</script>",
        )
        Contact.objects.filter(pk=conversation.contact_id).update(
            name="<script>window.__xss=1</script>",
            page_url="javascript:window.__xss=1",
            answers={"<b>k</b>": '<img src=x onerror="window.__xss=1">'},
        )
    page = owner.get(f"/dashboard/conversations/{conversation.pk}/").content.decode()
    assert "<script>window" not in page and 'href="javascript' not in page.lower()
    assert_inert(page, allowed=PAGE_TAGS, design_system=True)
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in page  # the visitor's text, escaped
    listing = owner.get("/dashboard/conversations/", {"view": "all"}).content.decode()
    assert "<script>window" not in listing
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in listing  # the contact's name, escaped
    assert_inert(listing, allowed=PAGE_TAGS, design_system=True)


# --- bot settings ------------------------------------------------------------------------


@pytest.mark.usefixtures("own_keys_allowed")
def test_api_key_is_write_only_encrypted_and_never_logged(owner, tenant_a, caplog):
    caplog.set_level(logging.DEBUG)
    widget = _widget(tenant_a)
    url = f"/dashboard/widgets/{widget.pk}/bot/"
    with tenant_context(tenant_a.tenant):
        kb = KnowledgeBaseFactory(name="MARKER-A handbook")

    response = owner.post(
        url,
        _bot_form(provider="anthropic", key_source="own", api_key=SECRET, knowledge_bases=[str(kb.pk)]),
    )
    assert response.status_code == 302 and response["Location"] == url
    with tenant_context(tenant_a.tenant):
        bot = BotSettings.objects.get(widget=widget)
        assert SECRET not in bot.api_key_encrypted and secret_decrypt(bot.api_key_encrypted) == SECRET
        assert bot.api_key_hint == "…3456" and bot.attachment_kinds == ["image", "text"]
        assert list(bot.knowledge_bases.all()) == [kb] and bot.knowledge_only is True

    page = owner.get(url).content.decode()
    assert "Stored key …3456" in page and SECRET not in page and "Bot settings saved." in page
    assert "MARKER-A handbook" in page

    # Blank keeps the key; an invalid form never echoes a typed key.
    assert (
        owner.post(url, _bot_form(provider="anthropic", key_source="own", knowledge_only="False")).status_code
        == 302
    )
    invalid = owner.post(
        url, _bot_form(provider="anthropic", key_source="own", api_key=SECRET, temperature="3")
    )
    assert invalid.status_code == 200 and "temperature" in invalid.context["form"].errors
    assert SECRET not in invalid.content.decode()
    with tenant_context(tenant_a.tenant):
        bot = BotSettings.objects.get(widget=widget)
        assert secret_decrypt(bot.api_key_encrypted) == SECRET and bot.knowledge_only is False

    # Removing the key while still asking for one's own key is refused on the field.
    refused = owner.post(url, _bot_form(provider="openai", key_source="own", remove_key="on"))
    assert refused.status_code == 200 and "api_key" in refused.context["form"].errors
    assert owner.post(url, _bot_form(remove_key="on")).status_code == 302
    with tenant_context(tenant_a.tenant):
        bot = BotSettings.objects.get(widget=widget)
        assert bot.api_key_encrypted == "" and bot.api_key_hint == ""

    for record in caplog.records:
        assert SECRET not in record.getMessage() and SECRET not in repr(record.args), record.name


def test_own_key_is_required_when_none_is_stored(owner, tenant_a):
    url = f"/dashboard/widgets/{_widget(tenant_a).pk}/bot/"
    response = owner.post(url, _bot_form(provider="anthropic", key_source="own"))
    assert response.status_code == 200 and "api_key" in response.context["form"].errors
    for values in ({"temperature": "-0.1"}, {"max_answer_tokens": "40"}, {"attachment_max_mb": "21"}):
        response = owner.post(url, _bot_form(**values))
        assert response.status_code == 200 and set(values) <= set(response.context["form"].errors), values


@pytest.mark.usefixtures("own_keys_allowed")
def test_server_address_must_be_public(owner, tenant_a, settings):
    settings.LLM_ALLOW_PRIVATE_BASE_URLS = False
    url = f"/dashboard/widgets/{_widget(tenant_a).pk}/bot/"
    response = owner.post(
        url, _bot_form(provider="openai_compatible", base_url="http://169.254.169.254/latest")
    )
    assert response.status_code == 200
    assert response.context["form"].errors["base_url"] == ["This address is not on the public internet."]
    assert 'id="id_base_url_errors"' in response.content.decode()
    missing = owner.post(url, _bot_form(provider="openai_compatible"))
    assert "base_url" in missing.context["form"].errors

    settings.LLM_ALLOW_PRIVATE_BASE_URLS = True  # development against a local server
    ok = owner.post(url, _bot_form(provider="openai_compatible", base_url="http://127.0.0.1:11434/v1"))
    assert ok.status_code == 302
    with tenant_context(tenant_a.tenant):
        assert BotSettings.objects.get(widget=_widget(tenant_a)).base_url == "http://127.0.0.1:11434/v1"


# --- automations -------------------------------------------------------------------------


def test_automations_add_edit_toggle_delete(owner, tenant_a):
    widget = _widget(tenant_a)
    url = f"/dashboard/widgets/{widget.pk}/automations"
    rule_form = {"kind": "regex", "name": "Refunds", "reply": "See our refund policy.", "position": "2"}
    bad = owner.post(f"{url}/", {**rule_form, "pattern": "(refund"})
    assert (
        bad.status_code == 200
        and "not a valid regular expression" in bad.context["form"].errors["pattern"][0]
    )
    backreference = owner.post(
        f"{url}/", {**rule_form, "pattern": r"(a)\1"}
    )  # not in RE2's linear-time syntax
    assert "pattern" in backreference.context["form"].errors
    with tenant_context(tenant_a.tenant):
        assert not AutomationRule.objects.filter(widget=widget).exists()

    ok = owner.post(
        f"{url}/", {**rule_form, "pattern": r"\brefunds?\b", "replaces_answer": "on", "is_enabled": "on"}
    )
    assert ok.status_code == 302
    with tenant_context(tenant_a.tenant):
        rule = AutomationRule.objects.get(widget=widget)
        assert rule.pattern == r"\brefunds?\b" and rule.is_enabled and rule.replaces_answer
        conversation = ConversationFactory(widget=widget)
        AutomationFiringFactory.create_batch(2, rule=rule, conversation=conversation)
    page = owner.get(f"{url}/")
    listed = list(page.context["rules"])
    assert listed[0].fire_count == 2 and listed[0].last_fired is not None
    assert "greeting when a conversation opens" in page.content.decode().lower()

    edited = owner.post(
        f"{url}/{rule.pk}/",
        {**rule_form, "kind": "keyword", "pattern": "refund, money back", "is_enabled": "on"},
    )
    assert edited.status_code == 302
    assert owner.post(f"{url}/{rule.pk}/toggle").status_code == 302
    with tenant_context(tenant_a.tenant):
        rule.refresh_from_db()
        assert rule.kind == "keyword" and rule.pattern == "refund, money back" and not rule.is_enabled
    assert owner.get(f"{url}/{rule.pk}/toggle").status_code == 405

    confirm = owner.get(f"{url}/{rule.pk}/delete/")
    assert confirm.status_code == 200 and "Delete the rule" in confirm.content.decode()
    with tenant_context(tenant_a.tenant):
        assert AutomationRule.objects.filter(pk=rule.pk).exists()  # asking is not deleting
    assert owner.post(f"{url}/{rule.pk}/delete/").status_code == 302
    with tenant_context(tenant_a.tenant):
        assert not AutomationRule.objects.filter(pk=rule.pk).exists()


# --- playground --------------------------------------------------------------------------


def test_playground_shows_the_answer_and_the_ranked_passages(owner, tenant_a, monkeypatch, settings):
    settings.LLM_PROVIDER = "offline"
    passages = [
        Passage(
            text="Refunds are possible within 30 days of purchase.",
            title="Refund policy",
            url="https://help.example/refunds",
            rank=1,
            ranks={"vector": 2, "text": 1},
        ),
        Passage(
            text="Shipping takes 3 days.",
            title="Shipping",
            file="shipping.pdf",
            page=4,
            rank=2,
            ranks={"vector": 1},
        ),
    ]
    monkeypatch.setattr("knowledge.retrieval.retrieve", lambda **kwargs: passages)
    url = f"/dashboard/widgets/{_widget(tenant_a).pk}/playground/"
    page = owner.get(url).content.decode()
    assert "use AI credits like your visitors" in page and "csrfmiddlewaretoken" in page

    response = owner.post(url, {"question": "Can I get a refund?"})
    page = response.content.decode()
    assert response.status_code == 200
    assert "<blockquote>" in page and "Refunds are possible within 30 days of purchase. [1]" in page
    assert f'href="https://help.example/refunds" {LINK_ATTRS}>Refund policy</a>' in page
    assert "meaning #2" in page and "words #1" in page and "meaning #1" in page
    assert "shipping.pdf" in page and "page 4" in page
    result = response.context["result"]
    assert result["outcome"] == "answered" and result["provider"] == "offline"
    assert [c["n"] for c in result["citation_rows"]] == [1, 2]
    assert "knowledge-base-quotes" in page


def test_playground_says_when_the_knowledge_base_is_empty(owner, tenant_a, monkeypatch, settings):
    settings.LLM_PROVIDER = "offline"
    monkeypatch.setattr("knowledge.retrieval.retrieve", lambda **kwargs: [])
    url = f"/dashboard/widgets/{_widget(tenant_a).pk}/playground/"
    page = owner.post(url, {"question": "Anything?"}).content.decode()
    assert "The knowledge base returned nothing for this question yet" in page
    assert owner.post(url, {"question": ""}).context["form"].errors["question"]


def test_widget_tab_pages_share_the_tabs_with_the_current_one_marked(owner, tenant_a):
    widget = _widget(tenant_a)
    for tab in ("bot", "automations", "playground"):
        page = owner.get(f"/dashboard/widgets/{widget.pk}/{tab}/").content.decode()
        assert f'href="/dashboard/widgets/{widget.pk}/{tab}/" aria-current="page"' in page, tab
        assert f'href="/dashboard/widgets/{widget.pk}/">Appearance &amp; embed</a>' in page, tab
        assert "widget_builder/builder.css" in page and "<style" not in page, tab
