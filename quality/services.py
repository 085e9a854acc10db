"""Writes of the quality app: the vectors of flagged questions (kept, so each question is
embedded once), dismissing a group of questions or answering it with a Q&A pair in a
knowledge base, the bot tests and the requests to run them (by hand, or after a knowledge
change, debounced). Preconditions of every service: the tenant's schema is active."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from django.db import transaction
from django.utils import timezone

from audit.services import Caller
from knowledge.embeddings import EmbeddingError, embedder_for
from knowledge.models import KnowledgeBase, Source
from knowledge.services import source_set_qa
from saas.celery import app as celery_app
from saas.celery import enqueue_on_commit, publish
from saas.errors import ValidationFailed
from saas.tenant_connection import connection
from tenants.models import Tenant
from widget_builder.models import Widget

from . import tasks
from .grouping import Question
from .models import BotTest, BotTestRun, FlaggedQuestion
from .selectors import (
    MAX_BOT_TESTS,
    RUN_QUEUED_STALE,
    bot_test_run_pending,
    flagged_message_ids,
    question_vectors_stored,
)

logger = logging.getLogger(__name__)

# After a knowledge change the run waits this long, so a batch of changes (an upload of
# many files, a crawl's sources) gives one run.
DEBOUNCE_SECONDS = 60.0
MAX_PHRASES = 10
# The most questions one page load embeds (the newest first): a page stays quick after a
# burst of new questions; the rest are grouped by wording until a later load embeds them.
MAX_EMBEDDED_PER_CALL = 200


def _invalid(field: str, message: str, code: str = "invalid") -> ValidationFailed:
    return ValidationFailed(errors={field: [{"code": code, "message": message}]})


# --- flagged questions ---------------------------------------------------------------------


def question_vectors(*, questions: Sequence[Question]) -> dict[int, list[float]]:
    """The vector of each question, embedding (in one batch) and storing only those not
    stored yet by the built-in model. Questions are embedded with the built-in model whatever
    the knowledge bases use: grouping needs one vector space, and a workspace's own embedding
    key is not spent on it. At most ``MAX_EMBEDDED_PER_CALL`` are embedded per call; those
    left, or all of them when the model fails, are left out (the page groups them by
    wording, and a later call embeds them)."""
    embedder = embedder_for("local")
    ids = [q.message_id for q in questions]
    vectors = question_vectors_stored(message_ids=ids, model_id=embedder.model_id)
    missing = [q for q in questions if q.message_id not in vectors][:MAX_EMBEDDED_PER_CALL]
    if not missing:
        return vectors
    try:
        made = embedder.embed_documents([q.text[:2000] for q in missing])
    except EmbeddingError as error:
        logger.warning("quality: embedding %s questions failed: %s", len(missing), error)
        return vectors
    rows = [
        FlaggedQuestion(message_id=q.message_id, embedding=vector, embedding_model_id=embedder.model_id)
        for q, vector in zip(missing, made, strict=True)
    ]
    FlaggedQuestion.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["message"],
        update_fields=["embedding", "embedding_model_id"],
    )
    vectors.update({q.message_id: list(v) for q, v in zip(missing, made, strict=True)})
    return vectors


def _handle(
    message_ids: Sequence[int], *, state: str, user_id: int | None, source: Source | None = None
) -> int:
    ids = flagged_message_ids(message_ids=list(message_ids))
    if not ids:
        raise _invalid("questions", "These questions are no longer on the list.", "not_found")
    now = timezone.now()
    rows = [
        FlaggedQuestion(message_id=pk, state=state, handled_at=now, handled_by_user_id=user_id, source=source)
        for pk in ids
    ]
    FlaggedQuestion.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["message"],
        update_fields=["state", "handled_at", "handled_by_user_id", "source"],
    )
    return len(ids)


@transaction.atomic
def questions_dismiss(*, message_ids: Sequence[int], user_id: int | None) -> int:
    """Hide a group's questions from the page for good; returns how many."""
    return _handle(message_ids, state=FlaggedQuestion.State.DISMISSED, user_id=user_id)


@transaction.atomic
def questions_answer(
    *,
    tenant: Tenant,
    kb: KnowledgeBase,
    message_ids: Sequence[int],
    question: str,
    answer: str,
    user_id: int | None,
    request: Caller | None = None,
) -> Source:
    """Answer a group of questions: a new Q&A source in ``kb`` with the pair (ingested like
    every source, so the bot answers it once processed), and the questions leave the page.
    The source is recorded in the audit log as ``request``'s (``source.added``)."""
    question, answer = question.strip(), answer.strip()
    errors: dict[str, list[dict[str, str]]] = {}
    if not question:
        errors["question"] = [{"code": "required", "message": "Write the question."}]
    if not answer:
        errors["answer"] = [{"code": "required", "message": "Write the answer visitors should get."}]
    if errors:
        raise ValidationFailed(errors=errors)
    source = source_set_qa(
        tenant=tenant,
        kb=kb,
        pairs=[{"question": question, "answer": answer}],
        title=question[:300],
        request=request,
    )
    _handle(message_ids, state=FlaggedQuestion.State.ANSWERED, user_id=user_id, source=source)
    return source


# --- bot tests -----------------------------------------------------------------------------


def _test_clean(*, question: str, must_contain: str, must_cite: Source | None) -> tuple[str, str]:
    question = question.replace("\x00", "").strip()
    phrases = [line.strip() for line in must_contain.replace("\x00", "").splitlines() if line.strip()]
    if not question:
        raise _invalid("question", "Write the question to ask.", "required")
    if not phrases and must_cite is None:
        raise _invalid(
            "must_contain", "Say what a good answer contains, or which source it cites.", "required"
        )
    if len(phrases) > MAX_PHRASES:
        raise _invalid("must_contain", f"Keep it to {MAX_PHRASES} phrases.")
    return question[:1000], "\n".join(p[:200] for p in phrases)


@transaction.atomic
def bot_test_create(*, widget: Widget, question: str, must_contain: str, must_cite: Source | None) -> BotTest:
    """A new bot test (at most ``MAX_BOT_TESTS`` per workspace: every run asks them all)."""
    question, phrases = _test_clean(question=question, must_contain=must_contain, must_cite=must_cite)
    if BotTest.objects.count() >= MAX_BOT_TESTS:
        raise _invalid("question", f"A workspace keeps at most {MAX_BOT_TESTS} bot tests.", "limit")
    return BotTest.objects.create(widget=widget, question=question, must_contain=phrases, must_cite=must_cite)


@transaction.atomic
def bot_test_update(
    *, test: BotTest, widget: Widget, question: str, must_contain: str, must_cite: Source | None
) -> BotTest:
    test.question, test.must_contain = _test_clean(
        question=question, must_contain=must_contain, must_cite=must_cite
    )
    test.widget, test.must_cite = widget, must_cite
    test.save(update_fields=["question", "must_contain", "widget", "must_cite", "updated_at"])
    return test


@transaction.atomic
def bot_test_delete(*, test: BotTest) -> None:
    test.delete()  # its past results stay, with the question as it was


def _dispatch(run: BotTestRun, *, delay: float) -> None:
    """Queue the run after the commit, ``delay`` seconds later (at once in-process)."""
    if delay <= 0 or celery_app.conf.task_always_eager:
        enqueue_on_commit(tasks.bot_test_run_task, run.pk)
        return
    schema, run_id = connection.schema_name, run.pk
    transaction.on_commit(lambda: publish(tasks.bot_test_run_task, schema, (run_id,), {}, countdown=delay))


def _run_queue(*, trigger: str, user_id: int | None, delay: float) -> BotTestRun:
    # One queued or running run at a time: a request meanwhile joins it. The lock on the
    # tests' rows serializes two requests (two ingestions finishing together).
    list(BotTest.objects.select_for_update().values_list("pk", flat=True))
    pending = bot_test_run_pending()
    if pending is not None and (
        pending.status == BotTestRun.Status.QUEUED or trigger == BotTestRun.Trigger.MANUAL
    ):
        return pending
    stale = BotTestRun.objects.filter(
        status=BotTestRun.Status.QUEUED, created_at__lt=timezone.now() - RUN_QUEUED_STALE
    )
    stale.update(status=BotTestRun.Status.FAILED, error="It never started.", finished_at=timezone.now())
    run = BotTestRun.objects.create(trigger=trigger, requested_by_user_id=user_id)
    _dispatch(run, delay=delay)
    return run


@transaction.atomic
def bot_test_run_request(*, user_id: int | None) -> BotTestRun:
    """Run every bot test now (or join the run queued or running). Refused without tests."""
    if not BotTest.objects.exists():
        raise _invalid("tests", "Write a bot test first.", "required")
    return _run_queue(trigger=BotTestRun.Trigger.MANUAL, user_id=user_id, delay=0)


@transaction.atomic
def bot_tests_after_knowledge_change() -> BotTestRun | None:
    """A knowledge change happened (``knowledge.models.knowledge_changed``): run the tests
    ``DEBOUNCE_SECONDS`` from now, unless a run is queued already (it sees this change too).
    A change during a run queues the next one. Nothing without tests."""
    if not BotTest.objects.exists():
        return None
    return _run_queue(trigger=BotTestRun.Trigger.KNOWLEDGE, user_id=None, delay=DEBOUNCE_SECONDS)
