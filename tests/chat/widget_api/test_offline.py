"""chat.widget_api.offline: whether a person is available (no visitor token), the offline
form (an address for replies, a message, the team emailed) and the resume link exchanged
for a visitor session in the same conversation; refused for another widget, forged or
expired."""

from __future__ import annotations

import dataclasses
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from billing import plans
from chat.models import AgentProfile, Contact, Conversation, InboxSettings, Message
from chat.resume_tokens import resume_token_issue
from tests.chat.visitors import ORIGIN, make_visitor
from tests.hosts import PUBLIC_HOST
from widget_builder.models import Widget
from widget_builder.services import widget_create, widget_publish

pytestmark = pytest.mark.django_db


@pytest.fixture
def tasks_run_here(monkeypatch):
    """Queued tasks run in this thread, in the schema active when queued, after the commit."""
    from django.db import connection, transaction
    from django_tenants.utils import schema_context

    def enqueue(task, *args, **kwargs):
        schema = connection.schema_name

        def run():
            with schema_context(schema):
                task.apply(args=args, kwargs=kwargs)

        transaction.on_commit(run)

    monkeypatch.setattr("chat.services.notifications.enqueue_on_commit", enqueue)


def _availability(client, widget, **headers):
    return client.get(
        f"/api/widget/v1/{widget.key}/availability", HTTP_HOST=PUBLIC_HOST, HTTP_ORIGIN=ORIGIN, **headers
    )


def _resume(client, widget, token):
    return client.post(
        f"/api/widget/v1/{widget.key}/session/resume",
        {"resume": token},
        content_type="application/json",
        HTTP_HOST=PUBLIC_HOST,
        HTTP_ORIGIN=ORIGIN,
    )


def _token(visitor, *, widget=None, schema=None) -> str:
    return resume_token_issue(
        schema=schema or visitor.tenant.schema_name,
        widget_id=(widget or visitor.widget).pk,
        contact_public_id=str(visitor.contact.public_id),
        conversation_id=visitor.conversation.pk,
    )


# --- availability ---------------------------------------------------------------------------


def test_availability_needs_no_token_and_follows_agents_online(client, tenant_a):
    visitor = make_visitor(tenant_a)
    assert _availability(client, visitor.widget).json() == {"human": {"enabled": True, "available": False}}
    with tenant_context(tenant_a.tenant):
        AgentProfile.objects.create(user_id=tenant_a.owner.pk, last_heartbeat_at=timezone.now())
    assert _availability(client, visitor.widget).json() == {"human": {"enabled": True, "available": True}}
    with tenant_context(tenant_a.tenant):
        AgentProfile.objects.update(away=True)
    assert _availability(client, visitor.widget).json()["human"]["available"] is False
    with tenant_context(tenant_a.tenant):
        AgentProfile.objects.update(away=False, last_heartbeat_at=timezone.now() - timedelta(seconds=71))
    assert _availability(client, visitor.widget).json()["human"]["available"] is False


def test_availability_by_business_hours_and_with_human_support_off(client, tenant_a):
    visitor = make_visitor(tenant_a)
    with tenant_context(tenant_a.tenant):
        InboxSettings.objects.create(availability=InboxSettings.Availability.BUSINESS_HOURS)
        every_day = {day: [["00:00", "24:00"]] for day in ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]}
        widget = Widget.objects.get(pk=visitor.widget.pk)
        widget.published_config = {
            **widget.published_config,
            "business_hours": {"tz": "UTC", "days": every_day},
        }
        widget.save()
    assert _availability(client, visitor.widget).json()["human"] == {"enabled": True, "available": True}
    visitor.bot(human_support=False)
    assert _availability(client, visitor.widget).json()["human"] == {"enabled": False, "available": False}


def test_availability_is_rate_limited_like_the_config(client, tenant_a, settings):
    visitor = make_visitor(tenant_a)
    settings.WIDGET_RATE_LIMITS = {**settings.WIDGET_RATE_LIMITS, "ip_per_minute": 2}
    assert [_availability(client, visitor.widget).status_code for _ in range(3)] == [200, 200, 429]


# --- the offline form -----------------------------------------------------------------------


def test_offline_message_hands_off_stores_the_address_and_emails_the_team(
    client, tenant_a, mailoutbox, django_capture_on_commit_callbacks, tasks_run_here
):
    visitor = make_visitor(tenant_a)
    with django_capture_on_commit_callbacks(execute=True):
        response = visitor.post(
            client, "offline", {"email": " ada@example.org ", "message": "<b>Call</b> me"}
        )
    assert response.status_code == 201, response.content
    assert response.json()["email"] == "ada@example.org" and response.json()["status"] == "waiting"
    with tenant_context(tenant_a.tenant):
        conversation = Conversation.objects.get(pk=visitor.conversation.pk)
        roles = list(conversation.messages.order_by("seq").values_list("role", "text"))
    assert conversation.notify_email == "ada@example.org" and conversation.status == "waiting"
    assert roles[-2][0] == Message.Role.SYSTEM and roles[-1] == ("visitor", "<b>Call</b> me")
    (mail,) = mailoutbox
    assert mail.to == [tenant_a.owner.email] and "asked for a person" in mail.subject
    assert "<b>Call</b> me" in mail.body and f"/dashboard/conversations/{conversation.pk}/" in mail.body
    assert "ada@example.org" in mail.body
    html = mail.alternatives[0][0]
    assert "&lt;b&gt;Call&lt;/b&gt; me" in html and "<b>Call</b>" not in html


def test_a_handoff_then_the_offline_form_emails_the_team_once_each(
    client, tenant_a, mailoutbox, django_capture_on_commit_callbacks, tasks_run_here
):
    visitor = make_visitor(tenant_a)
    with django_capture_on_commit_callbacks(execute=True):
        assert visitor.post(client, "handoff").status_code == 200  # nobody online: the team is told
    assert len(mailoutbox) == 1 and "ada@example.org" not in mailoutbox[0].body
    with django_capture_on_commit_callbacks(execute=True):
        response = visitor.post(client, "offline", {"email": "ada@example.org"})
    assert response.status_code == 201 and response.json()["status"] == "waiting"
    assert len(mailoutbox) == 2 and "ada@example.org" in mailoutbox[1].body  # now with the address
    with tenant_context(tenant_a.tenant):
        AgentProfile.objects.create(user_id=tenant_a.owner.pk, last_heartbeat_at=timezone.now())
    someone_there = make_visitor(tenant_a)
    with django_capture_on_commit_callbacks(execute=True):
        assert someone_there.post(client, "handoff").status_code == 200
    assert len(mailoutbox) == 2  # an agent is online: no email
    flagged = make_visitor(tenant_a)
    with tenant_context(tenant_a.tenant):
        AgentProfile.objects.all().delete()
        Contact.objects.filter(pk=flagged.contact.pk).update(flagged_as_bot=True)
        Conversation.objects.filter(pk=flagged.conversation.pk).update(status="waiting")
    with django_capture_on_commit_callbacks(execute=True):
        assert flagged.post(client, "offline", {"email": "bot@example.org"}).status_code == 201
    assert len(mailoutbox) == 2  # a contact flagged as a bot emails nobody


def test_offline_message_refuses_bad_addresses_closed_conversations_and_floods(client, tenant_a, settings):
    visitor = make_visitor(tenant_a)
    bad = visitor.post(client, "offline", {"email": "not an address"})
    assert bad.status_code == 422 and bad.json()["code"] == "validation_error"
    assert set(bad.json()["errors"]) == {"email"}
    assert visitor.post(client, "offline", {}).json()["errors"]["email"]
    settings.CHAT_RATE_LIMITS = {**settings.CHAT_RATE_LIMITS, "offline_messages_per_hour": 1}
    flooding = make_visitor(tenant_a)
    assert flooding.post(client, "offline", {"email": "ada@example.org"}).status_code == 201
    limited = flooding.post(client, "offline", {"email": "ada@example.org"})
    assert limited.status_code == 429 and int(limited["Retry-After"]) >= 1
    closed = make_visitor(tenant_a)
    with tenant_context(tenant_a.tenant):
        Conversation.objects.filter(pk=closed.conversation.pk).update(status="closed")
    assert (
        closed.post(client, "offline", {"email": "ada@example.org"}).json()["code"] == "conversation_closed"
    )
    other = make_visitor(tenant_a)
    assert other.post(client, "offline", {"email": "a@example.org"}, HTTP_AUTHORIZATION="").status_code == 401


# --- the resume link --------------------------------------------------------------------------


def test_a_resume_token_gives_a_session_in_the_same_conversation(client, tenant_a, fake_llm):
    visitor = make_visitor(tenant_a)
    response = _resume(client, visitor.widget, _token(visitor))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["conversation_id"] == visitor.conversation.pk
    assert body["visitor_id"] == str(visitor.contact.public_id) and body["prechat_required"] is False
    listed = client.get(
        visitor.messages_path,
        HTTP_HOST=PUBLIC_HOST,
        HTTP_ORIGIN=ORIGIN,
        HTTP_AUTHORIZATION=f"Bearer {body['token']}",
    )
    assert listed.status_code == 200


def test_a_resume_token_for_another_widget_or_workspace_is_refused(client, tenant_a, tenant_b, monkeypatch):
    free = dataclasses.replace(plans.FREE, widgets=2)
    monkeypatch.setitem(plans.BY_CODE, "free", free)
    monkeypatch.setattr(plans, "FREE", free)
    visitor = make_visitor(tenant_a)
    with tenant_context(tenant_a.tenant):
        other = widget_publish(widget=widget_create(tenant=tenant_a.tenant, name="Second"))
    refused = _resume(client, other, _token(visitor))
    assert refused.status_code == 403 and refused.json()["code"] == "resume_token_other_widget"
    foreign = make_visitor(tenant_b)
    refused = _resume(client, foreign.widget, _token(visitor, widget=foreign.widget))
    assert refused.status_code == 403 and refused.json()["code"] == "resume_token_other_widget"
    # Signed for widget B's key but naming a conversation of A's: still only B's own.
    stranger = _resume(client, foreign.widget, _token(visitor, widget=foreign.widget, schema=tenant_b.schema))
    assert stranger.status_code == 404


def test_forged_and_expired_resume_tokens_are_refused(client, tenant_a, monkeypatch):
    visitor = make_visitor(tenant_a)
    forged = _resume(client, visitor.widget, _token(visitor)[:-3] + "xyz")
    assert forged.status_code == 401 and forged.json()["code"] == "resume_token_invalid"
    assert _resume(client, visitor.widget, "nonsense").json()["code"] == "resume_token_invalid"
    visitor_token = _resume(client, visitor.widget, visitor.token)  # a visitor token is no resume token
    assert visitor_token.json()["code"] == "resume_token_invalid"
    month_ago = time.time() - 31 * 86400
    monkeypatch.setattr("django.core.signing.time.time", lambda: month_ago)
    old = _token(visitor)
    monkeypatch.undo()
    expired = _resume(client, visitor.widget, old)
    assert expired.status_code == 401 and expired.json()["code"] == "resume_token_expired"
