"""A visitor asking for a person in words (chat.answering.prepare with chat.handoff_phrases):
handed off before automations and the provider, no credit taken; the bot page's human
support switch and phrase lists."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from billing.selectors import usage_value
from chat.models import BotSettings, Conversation, Message
from chat.services import HANDOFF_NOTE
from tests.chat.factories import AutomationRuleFactory
from tests.chat.visitors import asgi_post
from widget_builder.models import Widget

pytestmark = pytest.mark.django_db

REQUESTS = {
    "en": "I want to talk to a human agent, please.",
    "es": "Quiero hablar con un agente humano, por favor.",
    "fr": "Je veux parler à un agent humain, s'il vous plaît.",
    "de": "Ich möchte bitte mit einem menschlichen Mitarbeiter sprechen.",
}


def _state(visitor):
    with tenant_context(visitor.tenant):
        conversation = Conversation.objects.get(pk=visitor.conversation.pk)
        messages = list(Message.objects.filter(conversation=conversation).order_by("seq"))
        credits = usage_value(tenant_id=visitor.tenant.pk, metric="ai_answers")
    return conversation, messages, credits


@pytest.mark.parametrize("lang", sorted(REQUESTS))
def test_asking_for_a_person_in_words_hands_off_without_the_llm(client, visitor, fake_llm, lang):
    with tenant_context(visitor.tenant):
        visitor.contact.locale = lang
        visitor.contact.save()
        # Automations come after: a keyword rule matching the request does not fire.
        AutomationRuleFactory(
            widget=visitor.widget, kind="keyword", pattern="agent,mitarbeiter", reply="Canned"
        )
    response = visitor.send(client, REQUESTS[lang], client_message_id="ask-1")
    assert response.status_code == 201, response.content
    answer = response.json()["answer"]
    assert answer["outcome"] == "handoff" and answer["status"] == "waiting"
    assert answer["handoff"] is False  # nothing to offer: the conversation waits for a person already
    assert answer["message"]["role"] == "system" and answer["message"]["text"] == HANDOFF_NOTE

    conversation, messages, credits = _state(visitor)
    assert conversation.status == "waiting" and conversation.handoff_requested_at is not None
    assert [(m.role, m.outcome) for m in messages] == [("visitor", ""), ("system", "handoff")]
    assert messages[1].reply_to_id == messages[0].pk  # recorded as the answer to the request
    assert fake_llm.requests == [] and credits == 0

    # The same send again gets the same note; a later message finds a person's conversation.
    again = visitor.send(client, REQUESTS[lang], client_message_id="ask-1")
    assert again.json()["answer"]["message"]["seq"] == answer["message"]["seq"]
    later = visitor.send(client, "Hello?").json()["answer"]
    assert later["outcome"] == "with_agent" and fake_llm.requests == []


def test_the_stream_ends_with_done_saying_the_conversation_waits(visitor, fake_llm):
    result = asgi_post(
        visitor.messages_path,
        {"text": "Can I speak to a real person?", "client_message_id": "m-1"},
        {
            "host": "saas.test",
            "origin": "https://customer.example",
            "authorization": f"Bearer {visitor.token}",
            "accept": "text/event-stream",
        },
    )
    events = result.events()
    assert [kind for kind, _ in events] == ["message", "done"]
    done = events[-1][1]
    assert done["outcome"] == "handoff" and done["status"] == "waiting" and done["handoff"] is False
    assert done["message"]["text"] == HANDOFF_NOTE and fake_llm.requests == []


def test_without_human_support_the_bot_answers(client, visitor, fake_llm):
    visitor.bot(human_support=False)
    answer = visitor.send(client, REQUESTS["en"]).json()["answer"]
    assert answer["outcome"] == "answered" and "status" not in answer
    conversation, _, credits = _state(visitor)
    assert conversation.status == "bot" and len(fake_llm.requests) == 1 and credits == 1


def test_a_person_merely_mentioned_is_answered_by_the_bot(client, visitor, fake_llm):
    answer = visitor.send(client, "Is this a human-readable format?").json()["answer"]
    assert answer["outcome"] == "answered"
    assert _state(visitor)[0].status == "bot" and len(fake_llm.requests) == 1


def test_a_widget_own_phrases_replace_the_shipped_list_of_their_language(client, visitor, fake_llm):
    visitor.bot(handoff_phrases={"en": ["beam me up"]})
    assert visitor.send(client, "Can I talk to a human?").json()["answer"]["outcome"] == "answered"
    answer = visitor.send(client, "Beam me up, please!").json()["answer"]
    assert answer["outcome"] == "handoff" and _state(visitor)[0].status == "waiting"
    assert len(fake_llm.requests) == 1  # only the first message reached the provider


def test_a_contact_flagged_as_a_bot_is_not_handed_off(client, visitor, fake_llm):
    with tenant_context(visitor.tenant):
        visitor.contact.flagged_as_bot = True
        visitor.contact.save()
    assert visitor.send(client, REQUESTS["en"]).json()["answer"]["outcome"] == "skipped"
    assert _state(visitor)[0].status == "bot"


# --- the bot page ----------------------------------------------------------------------


def _bot_form(**changes) -> dict:
    data = {
        "provider": "platform",
        "key_source": "platform",
        "temperature": "0.3",
        "max_answer_tokens": "600",
        "persona": "You are helpful.",
        "language": "visitor",
        "knowledge_only": "True",
        "no_answer_text": "No idea yet.",
        "unavailable_text": "Try again later.",
        "offer_handoff": "on",
        "human_support": "on",
        "attachment_max_mb": "5",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_the_bot_page_sets_human_support_and_phrase_lists(owner, tenant_a):
    with tenant_context(tenant_a.tenant):
        widget = Widget.objects.order_by("id").first()
    url = f"/dashboard/widgets/{widget.pk}/bot/"
    page = owner.get(url).content.decode()
    assert "People answer on this widget" in page and "German phrases" in page
    assert "talk to a human" in page  # the shipped list, as the placeholder

    response = owner.post(
        url,
        _bot_form(
            human_support=None,
            handoff_phrases_en="Beam me up\n\n  beam me up!  \nScotty",
            handoff_phrases_fr="",
        ),
    )
    assert response.status_code == 302, response.context["form"].errors
    with tenant_context(tenant_a.tenant):
        bot = BotSettings.objects.get(widget=widget)
    assert bot.human_support is False and bot.handoff_phrases == {"en": ["Beam me up", "Scotty"]}
    page = owner.get(url).content.decode()
    assert "Beam me up\nScotty</textarea>" in page

    refused = owner.post(url, _bot_form(handoff_phrases_de="x" * 101))
    assert refused.status_code == 200
    assert refused.context["form"].errors["handoff_phrases_de"] == ["Keep each phrase under 100 characters."]
