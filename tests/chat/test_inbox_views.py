"""The agents' inbox pages (chat.views_inbox, chat.views_inbox_setup): the role matrix
(agents act, support reads only), the list's views, filters and badge, a conversation with
its contact panel, composer and actions (through the views, without JavaScript and with
htmx), the messages fragment, canned replies, inbox settings and preferences."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from django_tenants.utils import tenant_context

from chat.models import AgentProfile, CannedReply, Conversation, InboxSettings, Message
from tenants.selectors import tenant_routes_cache_forget
from tests.chat.factories import ContactFactory, ConversationFactory, MessageFactory
from tests.tenants.factories import MembershipFactory
from tests.widget_builder.factories import WidgetFactory
from widget_builder.models import Widget

pytestmark = pytest.mark.django_db

ROLES = ["owner", "admin", "agent"]


def _widget(seeded) -> Widget:
    with tenant_context(seeded.tenant):
        return Widget.objects.order_by("id").first()


def _conversation(seeded, *, name="Ada", text="Where is my order?", **fields) -> Conversation:
    with tenant_context(seeded.tenant):
        widget = Widget.objects.order_by("id").first()
        contact = ContactFactory(
            widget=widget,
            name=name,
            email=f"{name.lower()}@example.com",
            answers={"plan": "Pro"},
            consent_given_at=timezone.now(),
            consent_text="I agree to the privacy policy",
            consent_version=3,
            page_url="https://customer.example/pricing",
            referrer="https://search.example/",
            locale="de",
        )
        conversation = ConversationFactory(widget=widget, contact=contact, **fields)
        message = MessageFactory(conversation=conversation, role="visitor", text=text)
        Conversation.objects.filter(pk=conversation.pk).update(
            last_visitor_seq=message.seq, last_message_at=message.created_at
        )
        conversation.refresh_from_db()
        return conversation


def _reload(seeded, conversation) -> Conversation:
    with tenant_context(seeded.tenant):
        return Conversation.objects.get(pk=conversation.pk)


# --- roles -------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["owner", "admin", "agent", "stranger", None])
def test_role_matrix_of_the_inbox_pages(as_role, tenant_a, role):
    conversation = _conversation(tenant_a)
    everyone, managers = {"owner", "admin", "agent"}, {"owner", "admin"}
    pages = [
        ("/dashboard/conversations/", everyone),
        (f"/dashboard/conversations/{conversation.pk}/", everyone),
        (f"/dashboard/conversations/{conversation.pk}/messages?after=0", everyone),
        ("/dashboard/conversations/canned-replies/", everyone),
        ("/dashboard/conversations/preferences/", everyone),
        ("/dashboard/conversations/settings/", managers),
    ]
    client = as_role(role)
    for path, allowed in pages:
        response = client.get(path)
        if role is None:
            expected = 302
        elif role == "stranger":
            expected = 404
        else:
            expected = 200 if role in allowed else 403
        assert response.status_code == expected, (path, role, response.status_code)
    resolved = client.post(f"/dashboard/conversations/{conversation.pk}/resolve")
    expected = {None: 302, "stranger": 404}.get(role, 302)
    assert resolved.status_code == expected
    if role in everyone:
        assert _reload(tenant_a, conversation).status == Conversation.Status.CLOSED


def test_support_reads_every_inbox_page_and_changes_nothing(
    staff_client, tenant_a, django_capture_on_commit_callbacks
):
    from urllib.parse import urlparse

    from django.test import Client

    conversation = _conversation(tenant_a)
    with django_capture_on_commit_callbacks(execute=True):
        started = staff_client.post(
            f"/admin/tenants/tenant/{tenant_a.tenant.pk}/support/",
            {"reason": "Ticket 1: inbox", "minutes": "30"},
        )
    target = urlparse(started["Location"])
    support = Client(HTTP_HOST=tenant_a.host)
    support.get(f"{target.path}?{target.query}")
    for path in (
        "/dashboard/conversations/",
        f"/dashboard/conversations/{conversation.pk}/",
        "/dashboard/conversations/canned-replies/",
        "/dashboard/conversations/settings/",
        "/dashboard/conversations/preferences/",
    ):
        assert support.get(path).status_code == 200, path
    page = support.get(f"/dashboard/conversations/{conversation.pk}/").content.decode()
    assert 'id="composer"' in page and "your role does not reply" in page and "Take over" not in page
    for action in ("reply", "resolve", "take-over", "assign"):
        assert (
            support.post(f"/dashboard/conversations/{conversation.pk}/{action}", {"text": "x"}).status_code
            == 403
        )
    assert _reload(tenant_a, conversation).agent_read_seq == 0  # reading as support marks nothing read


# --- the list ----------------------------------------------------------------------------


def test_views_counts_rows_and_the_navigation_badge(as_role, tenant_a):
    agent_client = as_role("agent")
    agent = agent_client.get("/dashboard/").wsgi_request.user
    waiting = _conversation(tenant_a, name="Wanda", status=Conversation.Status.WAITING)
    mine = _conversation(tenant_a, name="Mia", status=Conversation.Status.AGENT, assignee_user_id=agent.pk)
    bot = _conversation(tenant_a, name="Bob")
    resolved = _conversation(tenant_a, name="Rey", status=Conversation.Status.CLOSED)
    snoozed = _conversation(
        tenant_a,
        name="Sam",
        status=Conversation.Status.AGENT,
        snoozed_until=timezone.now() + timedelta(hours=2),
    )

    def listed(**query) -> set[int]:
        return {
            r["conversation"].pk for r in agent_client.get("/dashboard/conversations/", query).context["rows"]
        }

    assert listed(view="unassigned") == {waiting.pk}
    assert listed(view="mine") == {mine.pk}
    assert listed(view="waiting") == {waiting.pk}
    assert listed(view="open") == {waiting.pk, mine.pk}  # people's conversations, not the bot's
    assert resolved.pk not in listed(view="open") and snoozed.pk not in listed(view="open")
    assert bot.pk in listed(view="bot") and waiting.pk not in listed(view="bot")
    assert listed(view="snoozed") == {snoozed.pk}
    assert listed(view="resolved") == {resolved.pk}
    assert listed() == listed(view="open")  # the default view

    response = agent_client.get("/dashboard/conversations/", {"view": "mine"})
    counts = response.context["counts"]
    assert (
        counts["unassigned"] == 1
        and counts["mine"] == 1
        and counts["waiting"] == 1
        and counts["snoozed"] == 1
    )
    assert counts["unread"] == 2  # theirs and the unassigned one
    page = response.content.decode()
    assert 'aria-current="page"><span class="truncate">Mine</span>' in page
    assert 'class="unread-dot"' in page and "You" in page
    assert 'data-nav-badge="conversations">' in page and '2<span class="visually-hidden"> unread' in page


def test_filters_and_full_text_search(owner, tenant_a):
    shipping = _conversation(tenant_a, name="Ada", text="My parcel never arrived in Berlin")
    refund = _conversation(tenant_a, name="Bea", text="I would like a refund please", csat_score=2)
    with tenant_context(tenant_a.tenant):
        MessageFactory(conversation=refund, role="bot", text="Sure", feedback_rating=-1)

    def listed(**query) -> set[int]:
        query.setdefault("view", "all")
        return {r["conversation"].pk for r in owner.get("/dashboard/conversations/", query).context["rows"]}

    assert listed(q="parcel") == {shipping.pk}  # a word of a message
    assert listed(q="PARCEL berlin") == {shipping.pk}  # every word, any case
    assert listed(q="bea@EXAMPLE") == {refund.pk}  # a part of the email
    assert listed(q="nothing-like-this") == set()
    assert listed(rating="bad") == {refund.pk} and listed(rating="thumbs_down") == {refund.pk}
    assert listed(status="bot", q="refund") == {refund.pk}
    assert shipping.pk in listed(widget=str(_widget(tenant_a).pk))
    today = timezone.localdate().isoformat()
    assert {shipping.pk, refund.pk} <= listed(date_from=today, date_to=today)
    assert listed(date_to="2000-01-01") == set()
    assert listed(assignee="none", q="parcel") == {shipping.pk} and listed(assignee="me", q="parcel") == set()
    assert owner.get("/dashboard/conversations/", {"view": "nonsense", "rating": "x"}).status_code == 200


def test_the_list_partial_for_htmx_and_empty_views(owner, tenant_a):
    _conversation(tenant_a)
    partial = owner.get(
        "/dashboard/conversations/", {"view": "open"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="inbox-list"
    )
    body = partial.content.decode()
    assert body.startswith('<div id="inbox-list"') and "<nav" not in body.split("inbox-rows")[0]
    empty = owner.get("/dashboard/conversations/", {"view": "unassigned"}).content.decode()
    assert "Nobody is waiting" in empty


@pytest.mark.parametrize("added", [1, 12])
def test_the_inbox_takes_a_fixed_number_of_queries(owner, tenant_a, added, django_assert_num_queries):
    for i in range(added):
        conversation = _conversation(tenant_a, name=f"c{i}", status=Conversation.Status.WAITING)
        with tenant_context(tenant_a.tenant):
            MessageFactory(conversation=conversation, role="bot", text="hello")
    assert owner.get("/dashboard/conversations/").status_code == 200  # the host's tenant is cached
    #  1  SET search_path          2  the session       3  the user      4  the membership
    #  5  the members (assignees and the assignee filter)
    #  6  the widgets, for the filter
    #  7  the paginator's count    8  the page          9  the previews
    # 10  the views' counts
    # 11-15  the AI answers used this month (managers): period, counter, plan, period, notice
    # 16  the shell's workspaces  17  the shell's plan  18  the navigation's unread badge
    # 19  the member's notification preferences (chat.templatetags.chat_notify)
    with django_assert_num_queries(19):
        response = owner.get("/dashboard/conversations/", {"view": "all"})
    assert len(response.context["rows"]) == tenant_a.conversation_count + added


# --- visibility --------------------------------------------------------------------------


def test_agents_see_only_their_widgets_when_the_inbox_says_so(as_role, tenant_a):
    agent_client = as_role("agent")
    agent = agent_client.get("/dashboard/").wsgi_request.user
    with tenant_context(tenant_a.tenant):
        widgets = [Widget.objects.order_by("id").first(), WidgetFactory(name="Second")]
        theirs = ConversationFactory(widget=widgets[0], status=Conversation.Status.WAITING)
        other = ConversationFactory(widget=widgets[1], status=Conversation.Status.WAITING)
        InboxSettings.objects.create(visibility=InboxSettings.Visibility.WIDGETS)
        profile = AgentProfile.objects.create(user_id=agent.pk)

    def seen(client) -> set[int]:
        return {
            r["conversation"].pk
            for r in client.get("/dashboard/conversations/", {"view": "all"}).context["rows"]
        }

    assert {theirs.pk, other.pk} <= seen(agent_client)  # no widgets listed: every widget
    with tenant_context(tenant_a.tenant):
        profile.widgets.set([widgets[0]])
    assert theirs.pk in seen(agent_client) and other.pk not in seen(agent_client)
    assert agent_client.get(f"/dashboard/conversations/{other.pk}/").status_code == 404
    assert agent_client.post(f"/dashboard/conversations/{other.pk}/resolve").status_code == 404
    assert {theirs.pk, other.pk} <= seen(as_role("admin"))  # managers see everything
    with tenant_context(tenant_a.tenant):
        InboxSettings.objects.update(visibility=InboxSettings.Visibility.ALL)
    assert other.pk in seen(agent_client)


# --- a conversation ----------------------------------------------------------------------


def test_the_conversation_page_shows_contact_history_notes_and_marks_read(as_role, tenant_a):
    agent_client = as_role("agent")
    conversation = _conversation(tenant_a, status=Conversation.Status.AGENT)
    with tenant_context(tenant_a.tenant):
        earlier = ConversationFactory(widget=conversation.widget, contact=conversation.contact)
        MessageFactory(conversation=conversation, role="note", text="VIP customer", author_name="Nora")
        reply = MessageFactory(conversation=conversation, role="agent", text="On its way", author_name="Ana")
        Conversation.objects.filter(pk=conversation.pk).update(visitor_read_seq=reply.seq)
        CannedReply.objects.create(
            shortcut="thanks", title="Thanks", text="Thanks {{contact.name}}, {{agent.name}}"
        )
    page = agent_client.get(f"/dashboard/conversations/{conversation.pk}/").content.decode()
    assert "I agree to the privacy policy" in page and "version 3" in page and "Pro" in page
    assert "https://search.example/" in page and "de" in page
    assert f'href="/dashboard/conversations/{earlier.pk}/"' in page
    assert "Only your team sees this".lower() in page.lower() and "msg-note" in page and "Nora" in page
    assert '<p class="seen" data-seen>' in page  # the visitor read Ana's reply
    assert 'data-text="Thanks Ada, ' in page  # variables filled for this conversation
    assert "Markdown supported" in page and 'name="attachments"' in page
    assert _reload(tenant_a, conversation).agent_read_seq == reply.seq


def test_the_conversation_page_shows_the_title_the_visitor_gave_it(owner, tenant_a):
    conversation = _conversation(tenant_a, title="<b>Returns</b> & refunds")
    page = owner.get(f"/dashboard/conversations/{conversation.pk}/").content.decode()
    assert "“&lt;b&gt;Returns&lt;/b&gt; &amp; refunds” · #" in page and "<b>Returns</b>" not in page
    untitled = owner.get(f"/dashboard/conversations/{_conversation(tenant_a).pk}/").content.decode()
    assert "“" not in untitled.split("<h1", 1)[1].split("</header>", 1)[0]


def test_messages_fragment_after_a_seq(owner, tenant_a):
    conversation = _conversation(tenant_a)
    with tenant_context(tenant_a.tenant):
        MessageFactory(conversation=conversation, role="agent", text="<b>bold</b> **md**", author_name="Ana")
    fragment = owner.get(f"/dashboard/conversations/{conversation.pk}/messages?after=1").content.decode()
    assert 'id="m2"' in fragment and 'id="m1"' not in fragment
    assert "<b>bold</b>" not in fragment and "<strong>md</strong>" in fragment
    assert owner.get(f"/dashboard/conversations/{conversation.pk}/messages?after=x").status_code == 200


@pytest.mark.parametrize("role", ROLES)
def test_reply_and_note_through_the_composer(as_role, tenant_a, role):
    client = as_role(role)
    conversation = _conversation(tenant_a, status=Conversation.Status.WAITING)
    url = f"/dashboard/conversations/{conversation.pk}/reply"
    response = client.post(url, {"kind": "reply", "text": "Hello **there**"})
    assert response.status_code == 302 and response["Location"].endswith(f"/{conversation.pk}/#composer")
    client.post(url, {"kind": "note", "text": "Check the order"})
    with tenant_context(tenant_a.tenant):
        messages = list(Message.objects.filter(conversation=conversation).order_by("seq"))
        assert [m.role for m in messages[-2:]] == ["agent", "note"]
        assert messages[-2].author_user_id is not None
    assert _reload(tenant_a, conversation).status == Conversation.Status.AGENT
    empty = client.post(url, {"kind": "reply", "text": "  "}, follow=True)
    assert "Write a message or attach a file." in empty.content.decode()


def test_htmx_reply_returns_a_fresh_composer_and_attachments_are_stored(owner, tenant_a):
    conversation = _conversation(tenant_a)
    url = f"/dashboard/conversations/{conversation.pk}/reply"
    upload = SimpleUploadedFile("notes.txt", b"hello there, plain text", content_type="text/plain")
    response = owner.post(
        url, {"kind": "reply", "text": "See the file", "attachments": upload}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200 and response["HX-Trigger"] == "inbox:sent"
    assert (
        'id="composer-fields"' in response.content.decode()
        and "See the file" not in response.content.decode()
    )
    with tenant_context(tenant_a.tenant):
        message = Message.objects.filter(conversation=conversation, role="agent").get()
        attachment = message.attachment_files.get()
        assert attachment.name == "notes.txt" and message.attachments[0]["name"] == "notes.txt"
        attachment.file.delete(save=False)
    bad = owner.post(url, {"kind": "reply", "text": ""}, HTTP_HX_REQUEST="true")
    assert "HX-Trigger" not in bad and "Write a message or attach a file." in bad.content.decode()


def test_actions_assign_take_over_hand_back_pending_snooze_resolve_reopen(as_role, tenant_a):
    client = as_role("agent")
    me = client.get("/dashboard/").wsgi_request.user
    colleague = MembershipFactory(tenant=tenant_a.tenant, role="agent").user
    conversation = _conversation(tenant_a)
    base = f"/dashboard/conversations/{conversation.pk}/"

    def post(action, data=None):
        response = client.post(base + action, data or {})
        assert response.status_code == 302 and response["Location"] == base
        return _reload(tenant_a, conversation)

    assert post("take-over").status == "agent" and _reload(tenant_a, conversation).assignee_user_id == me.pk
    assert post("assign", {"assignee": str(colleague.pk)}).assignee_user_id == colleague.pk
    assert post("assign", {"assignee": "me"}).assignee_user_id == me.pk
    assert post("assign", {"assignee": ""}).assignee_user_id is None
    assert post("assign", {"assignee": "999999"}).assignee_user_id is None  # not a member: refused
    assert post("pending").status == "pending"
    assert post("hand-back").status == "bot"
    snoozed = post("snooze", {"preset": "hour"})
    assert timedelta(minutes=55) < snoozed.snoozed_until - timezone.now() < timedelta(minutes=65)
    later = (timezone.now() + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    assert post("snooze", {"preset": "custom", "until": later}).snoozed_until > timezone.now() + timedelta(
        days=2
    )
    before = _reload(tenant_a, conversation).snoozed_until
    assert (
        post("snooze", {"preset": "custom", "until": "2000-01-01T10:00"}).snoozed_until == before
    )  # refused
    assert post("resolve").status == "closed"
    assert post("reopen").status != "closed"
    assert client.get(base + "resolve").status_code == 405


# --- canned replies, settings, preferences ----------------------------------------------


def test_canned_replies_managers_write_agents_read(as_role, tenant_a):
    admin = as_role("admin")
    url = "/dashboard/conversations/canned-replies/"
    response = admin.post(url, {"shortcut": "hello", "title": "Greeting", "text": "Hi {{contact.name}}"})
    assert response.status_code == 302
    with tenant_context(tenant_a.tenant):
        reply = CannedReply.objects.get(shortcut="hello")
    assert (
        admin.post(f"{url}?edit={reply.pk}", {"shortcut": "hello", "title": "Hi", "text": "Hey"}).status_code
        == 302
    )
    duplicate = admin.post(url, {"shortcut": "hello", "title": "Again", "text": "x"})
    assert duplicate.status_code == 200 and "already exists" in duplicate.content.decode()
    agent = as_role("agent")
    page = agent.get(url).content.decode()
    assert "/hello" in page and "Add a canned reply" not in page
    assert agent.post(url, {"shortcut": "x", "title": "x", "text": "x"}).status_code == 403
    assert agent.post(f"/dashboard/conversations/canned-replies/{reply.pk}/delete").status_code == 403
    assert admin.post(f"/dashboard/conversations/canned-replies/{reply.pk}/delete").status_code == 302
    with tenant_context(tenant_a.tenant):
        assert not CannedReply.objects.exists()


def test_inbox_settings_with_each_members_widgets_and_capacity(as_role, tenant_a):
    admin = as_role("admin")
    page = admin.get("/dashboard/conversations/settings/")
    rows = page.context["rows"]
    widget = _widget(tenant_a)
    data = {
        "visibility": "widgets",
        "auto_assign": "",
        "offline_policy": "unassign",
        "availability": "either",
    }
    for row in rows:
        prefix = f"m{row['member'].user_id}"
        data[f"{prefix}-user_id"] = str(row["member"].user_id)
        data[f"{prefix}-capacity"] = "3"
        data[f"{prefix}-widgets"] = [str(widget.pk)]
    assert admin.post("/dashboard/conversations/settings/", data).status_code == 302
    with tenant_context(tenant_a.tenant):
        saved = InboxSettings.objects.get()
        assert (saved.visibility, saved.auto_assign, saved.offline_policy) == ("widgets", False, "unassign")
        profiles = AgentProfile.objects.all()
        assert {p.capacity for p in profiles} == {3} and profiles.count() == len(rows)
        assert all(list(p.widgets.all()) == [widget] for p in profiles)
    data[f"m{rows[0]['member'].user_id}-capacity"] = "0"
    assert admin.post("/dashboard/conversations/settings/", data).status_code == 200  # refused, shown


def test_my_preferences(as_role, tenant_a):
    agent = as_role("agent")
    user = agent.get("/dashboard/").wsgi_request.user
    data = {
        "away": "on",
        "capacity": "7",
        "accepts_auto_assign": "",
        "notify_sound": "on",
        "email_on_assigned": "on",
    }
    assert agent.post("/dashboard/conversations/preferences/", data).status_code == 302
    with tenant_context(tenant_a.tenant):
        profile = AgentProfile.objects.get(user_id=user.pk)
    assert (
        profile.away
        and profile.capacity == 7
        and not profile.accepts_auto_assign
        and not profile.notify_browser
    )
    assert agent.get("/dashboard/conversations/preferences/").context["form"]["capacity"].value() == 7


def test_a_custom_snooze_time_is_read_in_the_workspaces_time_zone(owner, tenant_a):
    conversation = _conversation(tenant_a, status=Conversation.Status.AGENT)
    tenant = tenant_a.tenant
    before = tenant.time_zone
    type(tenant).objects.filter(pk=tenant.pk).update(time_zone="America/New_York")
    tenant_routes_cache_forget(tenant)  # the host's tenant is cached
    try:
        day = (timezone.now() + timedelta(days=2)).date().isoformat()
        owner.post(
            f"/dashboard/conversations/{conversation.pk}/snooze",
            {"preset": "custom", "until": f"{day}T09:00"},
        )
        until = _reload(tenant_a, conversation).snoozed_until
        local = timezone.localtime(until, ZoneInfo("America/New_York"))
        assert (local.date().isoformat(), local.hour, local.minute) == (day, 9, 0)
    finally:
        type(tenant).objects.filter(pk=tenant.pk).update(time_zone=before)
        tenant_routes_cache_forget(tenant)
