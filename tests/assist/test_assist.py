"""Agent assist in the inbox: a suggested reply with citations, rewrites, the summary on
handoff and assignment, through the fake Anthropic/OpenAI server and the offline provider;
failures as problem details, the rate limit, who may use it."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from assist.models import AssistSettings, ConversationSummary, MessageTranslation
from assist.offline import offline_rewrite, offline_summary
from billing.selectors import usage_value
from chat.models import Message
from chat.services.conversations import conversation_handoff
from chat.services.inbox import conversation_assign
from tests.assist.conftest import conversation_only_in, conversation_with
from tests.billing.factories import UsageCounterFactory
from tests.fakes.llm_server import Behaviour

pytestmark = pytest.mark.django_db


def _url(conversation, what: str) -> str:
    return f"/dashboard/conversations/{conversation.pk}/assist/{what}"


def _answers(seeded) -> int:
    return usage_value(tenant_id=seeded.tenant.pk, metric="ai_answers")


def _messages(seeded, conversation) -> list[Message]:
    with tenant_context(seeded.tenant):
        return list(Message.objects.filter(conversation=conversation).order_by("seq"))


def _offline(settings) -> None:
    settings.LLM_PROVIDER = ""
    settings.ANTHROPIC_API_KEY = settings.OPENAI_API_KEY = ""


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_suggest_reply_drafts_from_the_knowledge_base_with_citations_and_sends_nothing(
    tenant_a, as_role, fake_llm, passages, settings, provider
):
    settings.LLM_PROVIDER = provider
    conversation = conversation_with(tenant_a)
    before, answers = _messages(tenant_a, conversation), _answers(tenant_a)
    fake_llm.enqueue(Behaviour(text="Orders to Spain arrive in 3 to 5 days [1]."))
    response = as_role("agent").post(_url(conversation, "suggest"))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["text"] == "Orders to Spain arrive in 3 to 5 days [1]."
    assert body["offline"] is False and body["provider"] == provider
    assert [c["title"] for c in body["citations"]] == ["Shipping policy"]
    sent = fake_llm.requests[-1]
    assert sent.api == provider
    assert "Shipping to Spain takes 3 to 5 days" in sent.prompt_text  # the passages
    assert "How long does shipping to Spain take?" in sent.prompt_text  # the visitor's question
    assert _messages(tenant_a, conversation) == before  # never sent by itself
    assert _answers(tenant_a) == answers + 1  # counted as an AI answer, as the bot's are
    assert {schema for schema, _ in passages} == {tenant_a.schema}  # retrieval in A's schema only


def test_offline_suggestion_quotes_the_best_passages_without_a_model(
    tenant_a, as_role, fake_llm, passages, settings
):
    _offline(settings)
    conversation = conversation_with(tenant_a)
    body = as_role("agent").post(_url(conversation, "suggest")).json()
    assert body["offline"] is True and "3 to 5 days" in body["text"] and "[1]" in body["text"]
    assert body["citations"][0]["title"] == "Shipping policy"
    assert fake_llm.requests == []


def test_rewrite_replaces_the_draft_through_the_provider(tenant_a, as_role, fake_llm, settings):
    conversation = conversation_with(tenant_a)
    fake_llm.enqueue(Behaviour(text="It ships tomorrow."))
    response = as_role("agent").post(
        _url(conversation, "rewrite"),
        {"text": "Well, basically it will ship tomorrow I think.", "style": "shorter"},
    )
    assert response.status_code == 200, response.content
    assert response.json()["text"] == "It ships tomorrow."
    prompt = fake_llm.requests[-1].prompt_text
    assert "Make it shorter" in prompt and "basically it will ship tomorrow" in prompt


def test_offline_rewrites_follow_simple_rules():
    assert offline_rewrite("i dont know , it ships tomorrow", "grammar") == "I don't know, it ships tomorrow."
    friendly = offline_rewrite("Your order ships tomorrow.", "friendlier")
    assert friendly.startswith("Hi there! Your order ships tomorrow.") and "anything else" in friendly
    short = offline_rewrite(
        "I just really think it basically ships tomorrow. Sorry. More words here.", "shorter"
    )
    assert short == "It ships tomorrow. Sorry."


def test_rewrite_refuses_an_unknown_style_or_an_empty_draft(tenant_a, as_role, fake_llm):
    conversation = conversation_with(tenant_a)
    agent = as_role("agent")
    bad = agent.post(_url(conversation, "rewrite"), {"text": "Hello", "style": "pirate"})
    assert bad.status_code == 422 and bad["Content-Type"] == "application/problem+json"
    assert "style" in bad.json()["errors"]
    empty = agent.post(_url(conversation, "rewrite"), {"text": "  ", "style": "grammar"})
    assert empty.status_code == 422 and "text" in empty.json()["errors"]
    assert fake_llm.requests == []


def test_a_provider_that_fails_gives_a_clear_problem_and_the_credit_back(
    tenant_a, as_role, fake_llm, passages
):
    conversation = conversation_with(tenant_a)
    answers = _answers(tenant_a)
    fake_llm.enqueue(*[Behaviour(status=500)] * 3)
    response = as_role("agent").post(_url(conversation, "suggest"))
    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json" and response["Retry-After"]
    assert response.json()["code"] == "assist_unavailable"
    assert _answers(tenant_a) == answers


def test_assist_is_rate_limited_per_member(tenant_a, as_role, fake_llm, settings):
    _offline(settings)
    settings.ASSIST_RATE_PER_MINUTE = 2
    conversation = conversation_with(tenant_a)
    agent = as_role("agent")
    for _ in range(2):
        assert (
            agent.post(_url(conversation, "rewrite"), {"text": "hi", "style": "grammar"}).status_code == 200
        )
    limited = agent.post(_url(conversation, "rewrite"), {"text": "hi", "style": "grammar"})
    assert limited.status_code == 429 and limited["Retry-After"]
    # another member has their own budget
    assert (
        as_role("admin").post(_url(conversation, "rewrite"), {"text": "hi", "style": "grammar"}).status_code
        == 200
    )


def test_only_members_of_the_workspace_reach_a_conversation_s_assist(tenant_a, tenant_b, as_role, fake_llm):
    conversation = conversation_with(tenant_a)
    theirs = conversation_only_in(tenant_b, tenant_a)
    for role in ("stranger", "other"):
        assert as_role(role).post(_url(conversation, "suggest")).status_code == 404
    assert as_role(None).post(_url(conversation, "suggest")).status_code == 302  # sign in
    # tenant B's conversation id on tenant A's host: not found, like a random id
    assert as_role("owner").post(_url(theirs, "suggest")).status_code == 404
    assert as_role("owner").get(_url(theirs, "summary/")).status_code == 404
    assert fake_llm.requests == []


def test_a_summary_is_made_when_a_conversation_is_assigned(
    tenant_a, as_role, fake_llm, settings, assist_tasks_here, django_capture_on_commit_callbacks
):
    conversation = conversation_with(
        tenant_a,
        texts=[("visitor", "My parcel MARKER-A-PARCEL never arrived"), ("bot", "Sorry to hear that.")],
    )
    fake_llm.enqueue(Behaviour(text="The visitor's parcel never arrived; nothing is resolved yet."))
    with django_capture_on_commit_callbacks(execute=True):
        response = as_role("owner").post(
            f"/dashboard/conversations/{conversation.pk}/assign", {"assignee": "me"}
        )
    assert response.status_code == 302
    assert [name for name, _, _ in assist_tasks_here] == ["assist.tasks.conversation_summary_make"]
    assert assist_tasks_here[0][2] == tenant_a.schema  # in the tenant's schema
    with tenant_context(tenant_a.tenant):
        summary = ConversationSummary.objects.get(conversation=conversation)
    assert summary.reason == "assigned" and summary.text.startswith("The visitor's parcel never arrived")
    assert "MARKER-A-PARCEL" in fake_llm.requests[-1].prompt_text
    # shown on the conversation page's card
    card = as_role("owner").get(_url(conversation, "summary/"), HTTP_HX_REQUEST="true")
    assert b"nothing is resolved yet" in card.content


def test_a_handoff_and_the_assignment_it_leads_to_make_one_summary(
    tenant_a, fake_llm, settings, assist_tasks_here, django_capture_on_commit_callbacks
):
    _offline(settings)
    conversation = conversation_with(tenant_a)
    with tenant_context(tenant_a.tenant), django_capture_on_commit_callbacks(execute=True):
        conversation_handoff(conversation=conversation)
        conversation_assign(conversation=conversation, assignee_user_id=tenant_a.owner.pk, by=None)
    assert [name for name, _, _ in assist_tasks_here] == ["assist.tasks.conversation_summary_make"]


def test_no_summary_is_asked_for_before_the_visitor_wrote(
    tenant_a, as_role, fake_llm, assist_tasks_here, django_capture_on_commit_callbacks
):
    conversation = conversation_with(tenant_a, texts=[])
    with django_capture_on_commit_callbacks(execute=True):
        as_role("owner").post(f"/dashboard/conversations/{conversation.pk}/assign", {"assignee": "me"})
    assert len(assist_tasks_here) == 1 and fake_llm.requests == []
    with tenant_context(tenant_a.tenant):
        assert not ConversationSummary.objects.exists()


def test_a_summary_is_made_offline_when_a_visitor_asks_for_a_person(
    tenant_a, fake_llm, settings, assist_tasks_here, django_capture_on_commit_callbacks
):
    _offline(settings)
    conversation = conversation_with(
        tenant_a, texts=[("visitor", "Where is order 1234?"), ("bot", "Let me check.")]
    )
    with tenant_context(tenant_a.tenant), django_capture_on_commit_callbacks(execute=True):
        conversation_handoff(conversation=conversation)
    with tenant_context(tenant_a.tenant):
        summary = ConversationSummary.objects.get(conversation=conversation)
    assert summary.reason == "handoff"
    assert "Where is order 1234?" in summary.text and "asked for a person" in summary.text
    assert fake_llm.requests == []


def test_summarise_on_click_and_a_failure_keeps_the_summary_it_had(tenant_a, as_role, fake_llm):
    conversation = conversation_with(tenant_a)
    agent = as_role("agent")
    fake_llm.enqueue(Behaviour(text="The visitor asks about shipping times."))
    card = agent.post(_url(conversation, "summary/"), HTTP_HX_REQUEST="true")
    assert card.status_code == 200 and b"The visitor asks about shipping times." in card.content
    fake_llm.enqueue(*[Behaviour(status=529)] * 3)
    card = agent.post(_url(conversation, "summary/"), HTTP_HX_REQUEST="true")
    assert b"The visitor asks about shipping times." in card.content
    assert b"did not answer" in card.content  # the failure, said


def test_offline_summary_from_the_messages():
    messages = [
        Message(role="visitor", text="Hi, where is my order?"),
        Message(role="bot", text="It ships soon."),
    ]
    text = offline_summary(messages, handed_off=False)
    assert text.startswith("The visitor asked: “Hi, where is my order?”.")
    assert "1 from the visitor, 1 from the bot, 0 from agents" in text


def test_over_the_plan_s_ai_answers_assist_calls_nothing_and_a_reply_goes_as_written(
    tenant_a, as_role, fake_llm, passages
):
    UsageCounterFactory(tenant=tenant_a.tenant, metric="ai_answers", value=100)  # Free: 100 answers
    conversation = conversation_with(tenant_a, locale="es")
    agent = as_role("agent")
    refused = agent.post(_url(conversation, "suggest"))
    assert refused.status_code == 403 and refused.json()["code"] == "quota_exceeded"
    with tenant_context(tenant_a.tenant):
        AssistSettings.objects.create(translation_enabled=True)
    agent.post(_url(conversation, "reply"), {"kind": "reply", "text": "It ships tomorrow."})
    with tenant_context(tenant_a.tenant):
        sent = Message.objects.get(conversation=conversation, role="agent")
        assert sent.text == "It ships tomorrow."
        assert MessageTranslation.objects.get(message=sent).state == "failed"
    assert fake_llm.requests == []
