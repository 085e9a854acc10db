"""Low relevance means no answer (chat.answering with knowledge.relevance), against a real
knowledge base (the shop FAQ: real chunks, local embeddings): an off-topic question gets
the no-answer text and the handoff offer without any provider call, for the offline
provider and the LLM providers (the fake server receives nothing); on-topic questions are
still answered with citations."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from billing.selectors import usage_value
from chat.answering import answer_preview
from chat.models import Message
from knowledge.models import KnowledgeBase
from tests.fakes.llm_server import Behaviour
from tests.knowledge.shop_faq import shop_faq_ingest

pytestmark = pytest.mark.django_db

OFF_TOPIC = "What are the opening hours of your Paris store?"
ON_TOPIC = "How can I track my order?"
NO_ANSWER = "I'm sorry, I don't have a good answer to that yet."


@pytest.fixture
def shop(visitor, monkeypatch) -> KnowledgeBase:
    monkeypatch.setattr("knowledge.services.enqueue_on_commit", lambda *a, **k: None)
    with tenant_context(visitor.tenant):
        return shop_faq_ingest(visitor.tenant)


def _credits(visitor) -> int:
    with tenant_context(visitor.tenant):
        return usage_value(tenant_id=visitor.tenant.pk, metric="ai_answers")


def _reply(visitor) -> Message:
    with tenant_context(visitor.tenant):
        return Message.objects.filter(conversation=visitor.conversation, role="bot").order_by("-seq").first()


def test_offline_an_off_topic_question_gets_the_no_answer_text_and_a_person(
    client, visitor, fake_llm, settings, shop
):
    settings.LLM_PROVIDER = "offline"
    answer = visitor.send(client, OFF_TOPIC).json()["answer"]
    assert answer["outcome"] == "no_answer" and answer["handoff"] is True
    assert answer["message"]["text"] == NO_ANSWER and answer["message"]["citations"] == []
    reply = _reply(visitor)
    assert reply.outcome == "no_answer" and reply.provider == "" and _credits(visitor) == 0

    answer = visitor.send(client, ON_TOPIC).json()["answer"]
    assert answer["outcome"] == "answered" and answer["handoff"] is False
    assert "follow every order under My account" in answer["message"]["text"]
    assert answer["message"]["citations"][0]["title"] == "Shop FAQ"
    assert fake_llm.requests == [] and _credits(visitor) == 1


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_an_llm_is_not_called_for_an_off_topic_question(client, visitor, fake_llm, settings, shop, provider):
    settings.LLM_PROVIDER = provider
    answer = visitor.send(client, OFF_TOPIC).json()["answer"]
    assert answer["outcome"] == "no_answer" and answer["handoff"] is True
    assert answer["message"]["text"] == NO_ANSWER
    assert fake_llm.requests == [] and _credits(visitor) == 0

    fake_llm.enqueue(Behaviour(text="You get a tracking link by email as soon as it ships [1]."))
    answer = visitor.send(client, ON_TOPIC).json()["answer"]
    assert answer["outcome"] == "answered"
    assert answer["message"]["citations"][0]["title"] == "Shop FAQ"
    (sent,) = fake_llm.requests
    assert sent.api == provider and "tracking link" in sent.prompt_text
    assert "Payment methods" not in sent.prompt_text  # unrelated passages are not given
    assert _credits(visitor) == 1


def test_with_general_knowledge_unrelated_passages_are_left_out(client, visitor, fake_llm, shop):
    visitor.bot(knowledge_only=False)
    fake_llm.enqueue(Behaviour(text="I don't know our Paris store's hours, sorry."))
    answer = visitor.send(client, OFF_TOPIC).json()["answer"]
    assert answer["outcome"] == "answered"
    (sent,) = fake_llm.requests
    assert "(none: the knowledge base has nothing on this)" in sent.prompt_text
    assert "Shop FAQ" not in sent.prompt_text and "Shipping times" not in sent.prompt_text


def test_the_knowledge_base_threshold_changes_the_answer(client, visitor, fake_llm, settings, shop):
    settings.LLM_PROVIDER = "offline"
    with tenant_context(visitor.tenant):
        KnowledgeBase.objects.filter(pk=shop.pk).update(min_relevance=0.3)
    assert visitor.send(client, OFF_TOPIC).json()["answer"]["outcome"] == "answered"  # quotes shipping
    with tenant_context(visitor.tenant):
        KnowledgeBase.objects.filter(pk=shop.pk).update(min_relevance=0.95)
    answer = visitor.send(client, "Where is my parcel?").json()["answer"]
    assert answer["outcome"] == "no_answer" and answer["handoff"] is True


def test_the_playground_shows_the_same_no_answer_without_a_provider_call(visitor, fake_llm, shop):
    with tenant_context(visitor.tenant):
        result = answer_preview(tenant=visitor.tenant, widget=visitor.widget, question=OFF_TOPIC)
        usage = usage_value(tenant_id=visitor.tenant.pk, metric="ai_answers")
    assert result["outcome"] == "no_answer" and result["text"] == NO_ANSWER
    assert result["passages"] and not any(p["relevant"] for p in result["passages"])
    assert all(p["similarity"] < 0.4 for p in result["passages"] if p["similarity"] is not None)
    assert fake_llm.requests == [] and usage == 0


def test_the_playground_page_marks_passages_not_relevant_enough(owner, visitor, fake_llm, shop):
    url = f"/dashboard/widgets/{visitor.widget.pk}/playground/"
    page = owner.post(url, {"question": OFF_TOPIC}).content.decode()
    assert NO_ANSWER.replace("'", "&#x27;") in page and "Not relevant enough" in page
    assert fake_llm.requests == []
    page = owner.post(url, {"question": ON_TOPIC}).content.decode()
    assert "My account" in page  # the passage given, shown with its similarity
    (sent,) = fake_llm.requests
    assert "tracking link" in sent.prompt_text and "Payment methods" not in sent.prompt_text
