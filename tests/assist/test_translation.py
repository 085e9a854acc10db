"""Two-way translation: visitors' messages in the agent's language (the original kept), the
agent's reply sent in the visitor's language (what they wrote kept), never when the
languages match, off without a provider, failures falling back to the original text."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from assist.models import AssistSettings, MessageTranslation
from assist.tasks import message_translation_make
from audit.models import AuditEvent
from chat.models import Message
from tests.assist.conftest import conversation_only_in, conversation_with
from tests.fakes.llm_server import Behaviour

pytestmark = pytest.mark.django_db

SPANISH = [("visitor", "¿Dónde está mi pedido?")]


def _url(conversation, what: str) -> str:
    return f"/dashboard/conversations/{conversation.pk}/assist/{what}"


def _translation_on(seeded) -> None:
    with tenant_context(seeded.tenant):
        AssistSettings.objects.create(translation_enabled=True)


def _reply(client, conversation, text: str, **extra):
    return client.post(
        _url(conversation, "reply"), {"kind": "reply", "text": text, "client_message_id": "c-1"}, **extra
    )


def test_translation_round_trip(tenant_a, as_role, fake_llm, assist_tasks_here):
    _translation_on(tenant_a)
    conversation = conversation_with(tenant_a, locale="es-ES", texts=SPANISH)
    agent = as_role("agent")
    english = {"HTTP_ACCEPT_LANGUAGE": "en-GB,en;q=0.8"}

    # visitor -> agent: queued when the agent opens the conversation, then shown in English
    fake_llm.enqueue(Behaviour(text='{"language": "es", "text": "Where is my order?"}'))
    first = agent.get(_url(conversation, "translations"), **english).json()
    assert first["enabled"] and first["language"] == "en" and first["visitor_language"] == "es"
    assert first["pending"] == [1] and first["translates_replies"] is True
    assert "Translate the text into English" in fake_llm.requests[-1].prompt_text
    shown = agent.get(_url(conversation, "translations"), **english).json()
    assert shown["pending"] == []
    assert shown["messages"]["1"] == {
        "kind": "visitor",
        "state": "done",
        "text": "Where is my order?",
        "error": "",
    }
    with tenant_context(tenant_a.tenant):
        assert Message.objects.get(conversation=conversation, seq=1).text == "¿Dónde está mi pedido?"  # kept

    # agent -> visitor: sent in Spanish, what the agent wrote kept beside it
    fake_llm.enqueue(Behaviour(text='{"language": "en", "text": "Se envía mañana."}'))
    response = _reply(agent, conversation, "It ships tomorrow.", **english)
    assert response.status_code == 302
    assert "Translate the text into Spanish" in fake_llm.requests[-1].prompt_text
    with tenant_context(tenant_a.tenant):
        sent = Message.objects.get(conversation=conversation, role="agent")
        original = MessageTranslation.objects.get(message=sent)
    assert sent.text == "Se envía mañana."  # what the visitor gets
    assert (original.text, original.language, original.source_language) == ("It ships tomorrow.", "en", "es")
    shown = agent.get(_url(conversation, "translations"), **english).json()
    assert shown["messages"][str(sent.seq)]["text"] == "It ships tomorrow."
    # the same send again (a retried post) neither translates nor stores again
    calls = len(fake_llm.requests)
    _reply(agent, conversation, "It ships tomorrow.", **english)
    assert len(fake_llm.requests) == calls
    with tenant_context(tenant_a.tenant):
        assert Message.objects.filter(conversation=conversation, role="agent").count() == 1


def test_a_failed_translation_sends_the_reply_as_written_and_says_so(tenant_a, as_role, fake_llm, settings):
    _translation_on(tenant_a)
    conversation = conversation_with(tenant_a, locale="de", texts=[("visitor", "Hallo")])
    fake_llm.enqueue(*[Behaviour(status=500)] * 3)
    response = _reply(as_role("agent"), conversation, "Hello there", HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and response["HX-Trigger"] == "inbox:sent"
    with tenant_context(tenant_a.tenant):
        sent = Message.objects.get(conversation=conversation, role="agent")
        marker = MessageTranslation.objects.get(message=sent)
    assert sent.text == "Hello there"  # never lost or blocked
    assert marker.state == "failed" and "did not answer" in marker.error


def test_a_visitor_message_whose_translation_failed_shows_the_marker_and_is_tried_again(
    tenant_a, as_role, fake_llm, assist_tasks_here
):
    _translation_on(tenant_a)
    conversation = conversation_with(tenant_a, locale="fr", texts=[("visitor", "Bonjour")])
    agent = as_role("agent")
    fake_llm.enqueue(*[Behaviour(status=500)] * 3)
    agent.get(_url(conversation, "translations"))
    shown = agent.get(_url(conversation, "translations")).json()
    assert shown["messages"]["1"]["state"] == "failed"
    fake_llm.enqueue(Behaviour(text='{"language": "fr", "text": "Hello"}'))
    with tenant_context(tenant_a.tenant):
        message_translation_make.apply(args=(Message.objects.get(conversation=conversation).pk, "en"))
    assert agent.get(_url(conversation, "translations")).json()["messages"]["1"]["text"] == "Hello"


def test_nothing_is_translated_when_the_languages_match(tenant_a, as_role, fake_llm, assist_tasks_here):
    _translation_on(tenant_a)
    conversation = conversation_with(tenant_a, locale="en-US", texts=[("visitor", "Where is my order?")])
    agent = as_role("agent")
    body = agent.get(_url(conversation, "translations"), HTTP_ACCEPT_LANGUAGE="en").json()
    assert body["pending"] == [] and body["translates_replies"] is False
    _reply(agent, conversation, "Tomorrow.", HTTP_ACCEPT_LANGUAGE="en")
    with tenant_context(tenant_a.tenant):
        assert Message.objects.get(conversation=conversation, role="agent").text == "Tomorrow."
        assert not MessageTranslation.objects.exists()
    assert fake_llm.requests == []


def test_the_visitor_language_is_detected_from_their_messages_when_unknown(
    tenant_a, as_role, fake_llm, assist_tasks_here
):
    _translation_on(tenant_a)
    conversation = conversation_with(tenant_a, locale="", texts=[("visitor", "Wo ist meine Bestellung?")])
    agent = as_role("agent")
    fake_llm.enqueue(Behaviour(text='{"language": "de", "text": "Where is my order?"}'))
    agent.get(_url(conversation, "translations"), HTTP_ACCEPT_LANGUAGE="en")
    body = agent.get(_url(conversation, "translations"), HTTP_ACCEPT_LANGUAGE="en").json()
    assert body["visitor_language"] == "de" and body["translates_replies"] is True


def test_translation_is_off_without_a_provider(tenant_a, as_role, fake_llm, settings, assist_tasks_here):
    settings.LLM_PROVIDER = ""
    settings.ANTHROPIC_API_KEY = settings.OPENAI_API_KEY = ""
    owner = as_role("owner")
    page = owner.get("/dashboard/conversations/assist/")
    assert page.status_code == 200 and b"Translation needs an AI provider" in page.content
    refused = owner.post(
        "/dashboard/conversations/assist/", {"form": "translation", "translation_enabled": "on"}
    )
    assert refused.status_code == 200 and b"needs an AI provider" in refused.content
    _translation_on(tenant_a)  # switched on while a provider was configured, then removed
    conversation = conversation_with(tenant_a, locale="es", texts=SPANISH)
    assert owner.get(_url(conversation, "translations")).json()["enabled"] is False
    _reply(owner, conversation, "It ships tomorrow.")
    with tenant_context(tenant_a.tenant):
        assert Message.objects.get(conversation=conversation, role="agent").text == "It ships tomorrow."
    assert fake_llm.requests == []


def test_owners_switch_translation_on_and_it_is_audited_agents_cannot(tenant_a, as_role, fake_llm):
    agent = as_role("agent")
    assert (
        agent.post(
            "/dashboard/conversations/assist/", {"form": "translation", "translation_enabled": "on"}
        ).status_code
        == 403
    )
    # every member sets their own language
    assert (
        agent.post("/dashboard/conversations/assist/", {"form": "language", "language": "de"}).status_code
        == 302
    )
    owner = as_role("owner")
    response = owner.post(
        "/dashboard/conversations/assist/", {"form": "translation", "translation_enabled": "on"}
    )
    assert response.status_code == 302
    with tenant_context(tenant_a.tenant):
        assert AssistSettings.objects.get().translation_enabled is True
        event = AuditEvent.objects.filter(action="assist.settings_changed").get()
    assert event.metadata["translation_enabled"] == {"from": False, "to": True}


def test_another_tenant_s_conversation_is_not_found(tenant_a, tenant_b, as_role, fake_llm):
    theirs = conversation_only_in(tenant_b, tenant_a)
    owner = as_role("owner")
    assert owner.get(_url(theirs, "translations")).status_code == 404
    assert _reply(owner, theirs, "Hello").status_code == 404


def test_a_page_asking_again_does_not_translate_a_message_twice(tenant_a, as_role, fake_llm, monkeypatch):
    _translation_on(tenant_a)
    conversation = conversation_with(tenant_a, locale="es", texts=SPANISH)
    queued = []
    monkeypatch.setattr("assist.tasks.enqueue_on_commit", lambda task, *args: queued.append(args))
    agent, admin = as_role("agent"), as_role("admin")
    for client in (agent, agent, admin):  # a polling page, and a second agent opening it
        assert client.get(_url(conversation, "translations")).json()["pending"] == [1]
    assert len(queued) == 1
