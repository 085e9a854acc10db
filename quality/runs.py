"""A bot-test run: every test's question through the bot's real answer path
(``chat.answering.answer_preview``: the widget's settings, retrieval, prompt and provider,
nothing stored in conversations), each answer checked (``quality.checks``) and kept.

No AI-answer credit is taken (``counted=False``): the tests check the workspace's own
setup, run after every knowledge change without anyone asking, and a quota spent by them
would refuse visitors. Their cost stays bounded: at most ``MAX_BOT_TESTS`` questions per
run, one run queued at a time, runs after changes debounced. Preconditions: the tenant's
schema is active."""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from chat.answering import Outcome, answer_preview
from saas.tenant_connection import connection
from tenants.models import Tenant

from .checks import answer_failures
from .models import BotTest, BotTestResult, BotTestRun
from .selectors import RUN_RUNNING_STALE

logger = logging.getLogger(__name__)

NOT_ANSWERED = {
    Outcome.NO_ANSWER: "The bot had no answer (it sent the no-answer text).",
    Outcome.FALLBACK: "The AI provider failed; the bot sent its fallback text.",
    Outcome.OVER_QUOTA: "The workspace is over its AI-answer quota.",
}


def _claim(run_id: int) -> bool:
    """Take the run: queued, or running with a worker that died (its message came back)."""
    now = timezone.now()
    claimable = Q(status=BotTestRun.Status.QUEUED) | Q(
        status=BotTestRun.Status.RUNNING, started_at__lt=now - RUN_RUNNING_STALE
    )
    return bool(
        BotTestRun.objects.filter(claimable, pk=run_id).update(
            status=BotTestRun.Status.RUNNING, started_at=now
        )
    )


def _result(run: BotTestRun, test: BotTest, tenant: Tenant) -> BotTestResult:
    cite = test.must_cite
    try:
        answer = answer_preview(tenant=tenant, widget=test.widget, question=test.question, counted=False)
    except Exception:
        logger.exception("quality: bot test %s failed to run in %s", test.pk, connection.schema_name)
        answer = {"text": "", "outcome": Outcome.FALLBACK, "citations": []}
    failures = [NOT_ANSWERED[answer["outcome"]]] if answer["outcome"] in NOT_ANSWERED else []
    failures += answer_failures(
        answer=answer["text"],
        citations=answer["citations"],
        phrases=test.phrases,
        cite_source_id=cite.pk if cite is not None else None,
        cite_title=cite.title if cite is not None else "",
    )
    return BotTestResult(
        run=run,
        test=test,
        question=test.question,
        answer=answer["text"],
        outcome=answer["outcome"],
        citations=answer["citations"],
        passed=not failures,
        failures=failures,
    )


def bot_test_run_execute(run_id: int) -> BotTestRun | None:
    """Run ``run_id`` if it is still queued (a second delivery does nothing): ask every test,
    store the results and the totals. Returns the run, or None when it was not queued."""
    if not _claim(run_id):
        return None
    run = BotTestRun.objects.get(pk=run_id)
    tenant = Tenant.objects.get(schema_name=connection.schema_name)
    results = [_result(run, test, tenant) for test in BotTest.objects.select_related("widget", "must_cite")]
    with transaction.atomic():
        BotTestResult.objects.bulk_create(results)
        run.total, run.passed = len(results), sum(r.passed for r in results)
        run.status, run.finished_at = BotTestRun.Status.DONE, timezone.now()
        run.save(update_fields=["total", "passed", "status", "finished_at"])
    logger.info("quality: bot tests run=%s passed %s of %s", run.pk, run.passed, run.total)
    return run
