"""quality.services: the questions' vectors are kept (each question embedded once), a group
is dismissed or answered with a Q&A pair, and the answered question then gets that answer
through the real answer path (offline provider, real retrieval and embeddings)."""

from __future__ import annotations

import zoneinfo
from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from chat.models import Conversation, Message
from knowledge import ingestion
from knowledge.embeddings import embedder_for
from knowledge.models import KnowledgeBase, Source
from quality import services
from quality.grouping import questions_group
from quality.models import FlaggedQuestion
from quality.selectors import flagged_questions, window_of
from saas.errors import ValidationFailed
from tests.chat.factories import MessageFactory
from tests.chat.visitors import make_visitor
from tests.quality.conftest import flag
from widget_builder.models import Widget

pytestmark = pytest.mark.django_db
UTC = zoneinfo.ZoneInfo("UTC")
MARS_ANSWER = "Yes: Mars deliveries leave every Friday and take nine months."


def _listed():
    return flagged_questions(window=window_of(7, UTC))


def test_only_questions_answered_badly_are_listed_newest_first(tenant_a):
    with tenant_context(tenant_a.tenant):
        widget = Widget.objects.first()
        flag(widget, "Fine question", "fine")
        no_answer = flag(widget, "Do you ship to Mars?", "no_answer")
        handoff = flag(widget, "I want a human", "handoff")
        rated_down = flag(widget, "Why is it so expensive?", "thumbs_down")
        MessageFactory(conversation=rated_down.conversation, role="visitor", text="No reply yet")
        listed = _listed()
    assert [(q.message_id, q.reason) for q in listed] == [
        (rated_down.pk, "thumbs_down"),
        (handoff.pk, "handoff"),
        (no_answer.pk, "no_answer"),
    ]


def test_the_last_question_before_asking_for_a_person_is_listed(tenant_a):
    with tenant_context(tenant_a.tenant):
        widget = Widget.objects.first()
        earlier = flag(widget, "Hello", "fine")
        unsettled = flag(widget, "Where is my parcel?", "fine", conversation=earlier.conversation)
        asked_at = timezone.now()
        Conversation.objects.filter(pk=earlier.conversation_id).update(handoff_requested_at=asked_at)
        later = MessageFactory(conversation=earlier.conversation, role="visitor", text="Hello? Anyone?")
        Message.objects.filter(pk=later.pk).update(created_at=asked_at + timedelta(seconds=5))
        flag(widget, "Fine elsewhere", "fine")
        assert [(q.message_id, q.reason) for q in _listed()] == [(unsettled.pk, "handoff")]
        assert services.questions_dismiss(message_ids=[unsettled.pk, earlier.pk], user_id=None) == 1


def test_each_question_is_embedded_once(tenant_a, monkeypatch):
    real = embedder_for("local")
    embedded: list[str] = []

    class Counting:
        model_id = real.model_id

        def embed_documents(self, texts):
            embedded.extend(texts)
            return real.embed_documents(texts)

    monkeypatch.setattr(services, "embedder_for", lambda provider: Counting())
    with tenant_context(tenant_a.tenant):
        widget = Widget.objects.first()
        flag(widget, "Do you ship to Mars?")
        first = services.question_vectors(questions=_listed())
        flag(widget, "Can you deliver to Mars?")
        second = services.question_vectors(questions=_listed())
        assert FlaggedQuestion.objects.filter(embedding_model_id=real.model_id).count() == 2
    assert embedded == ["Do you ship to Mars?", "Can you deliver to Mars?"]  # the first only once
    assert len(first) == 1 and len(second) == 2
    assert second == {**first, **second}  # the stored vector is the one made the first time

    # a burst of new questions: the newest are embedded now, the rest on a later load
    monkeypatch.setattr(services, "MAX_EMBEDDED_PER_CALL", 2)
    with tenant_context(tenant_a.tenant):
        for text in ("One?", "Two?", "Three?"):
            flag(widget, text)
        assert len(services.question_vectors(questions=_listed())) == 4
        assert len(services.question_vectors(questions=_listed())) == 5
    assert embedded[2:] == ["Three?", "Two?", "One?"]


def test_a_dismissed_group_leaves_the_list_with_its_questions(tenant_a):
    with tenant_context(tenant_a.tenant):
        widget = Widget.objects.first()
        mars = [flag(widget, "Do you ship to Mars?"), flag(widget, "Can you deliver to Mars?")]
        other = flag(widget, "What is your refund policy?")
        fine = flag(widget, "Fine question", "fine")
        assert services.questions_dismiss(message_ids=[m.pk for m in mars] + [fine.pk], user_id=1) == 2
        assert [q.message_id for q in _listed()] == [other.pk]
        assert FlaggedQuestion.objects.filter(state="dismissed").count() == 2
        assert not FlaggedQuestion.objects.filter(message=fine).exists()  # not flagged: untouched
        with pytest.raises(ValidationFailed):
            services.questions_dismiss(message_ids=[fine.pk, 999999], user_id=1)


def test_an_answered_group_is_how_the_bot_answers_that_question_next(client, tenant_a, offline, ingest_here):
    first = make_visitor(tenant_a).send(client, "Do you ship to Mars?").json()["answer"]
    assert first["outcome"] == "no_answer"
    with tenant_context(tenant_a.tenant):
        found = _listed()
        [group] = [g for g in questions_group(found, services.question_vectors(questions=found))]
        assert group.title == "Do you ship to Mars?"
        kb = KnowledgeBase.objects.order_by("id").first()
        source = services.questions_answer(
            tenant=tenant_a.tenant,
            kb=kb,
            message_ids=group.message_ids,
            question=group.title,
            answer=MARS_ANSWER,
            user_id=tenant_a.owner.pk,
        )
        assert (source.kind, source.qa_pairs) == (
            Source.Kind.QA,
            [{"question": "Do you ship to Mars?", "answer": MARS_ANSWER}],
        )
        ingestion.source_ingest(source.pk)  # as the queued task does
        assert _listed() == []
        assert FlaggedQuestion.objects.get(message_id=group.message_ids[0]).source == source
    again = make_visitor(tenant_a).send(client, "Do you ship to Mars?").json()["answer"]
    assert again["outcome"] == "answered"
    assert "Mars deliveries leave every Friday" in again["message"]["text"]
    assert again["message"]["citations"][0]["title"] == "Do you ship to Mars?"  # the Q&A source


def test_an_answer_needs_its_words(tenant_a):
    with tenant_context(tenant_a.tenant):
        question = flag(Widget.objects.first(), "Do you ship to Mars?")
        kb = KnowledgeBase.objects.first()
        with pytest.raises(ValidationFailed) as refused:
            services.questions_answer(
                tenant=tenant_a.tenant,
                kb=kb,
                message_ids=[question.pk],
                question=" ",
                answer="",
                user_id=None,
            )
        assert set(refused.value.errors) == {"question", "answer"}
        assert not Source.objects.exists() and len(_listed()) == 1


def test_a_page_load_with_nothing_new_is_two_queries(tenant_a, django_assert_num_queries):
    with tenant_context(tenant_a.tenant):
        widget = Widget.objects.first()
        for text in ("Do you ship to Mars?", "Can you deliver to Mars?", "What is your refund policy?"):
            flag(widget, text)
        services.question_vectors(questions=_listed())
        with django_assert_num_queries(2):  # the questions, their stored vectors
            found = _listed()
            vectors = services.question_vectors(questions=found)
        assert [g.count for g in questions_group(found, vectors)] == [2, 1]
