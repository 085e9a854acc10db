"""quality.runs and the bot-test services: every test asked through the bot's real answer
path with the offline provider (deterministic), checked and stored; no AI answer counted;
runs on demand and after knowledge changes, debounced to one queued run."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from billing.models import UsageCounter
from billing.selectors import usage_value
from knowledge import ingestion
from knowledge.models import Source
from knowledge.services import source_add_text, source_delete
from quality import runs, services, tasks
from quality.models import BotTest, BotTestResult, BotTestRun
from saas.errors import ValidationFailed
from tests.knowledge.shop_faq import shop_faq_ingest
from widget_builder.models import Widget

pytestmark = pytest.mark.django_db


def _tests(tenant):
    """Two tests on the shop FAQ: one the bot passes, one it cannot."""
    widget = Widget.objects.order_by("id").first()
    faq = Source.objects.get(title="Shop FAQ")
    good = services.bot_test_create(
        widget=widget,
        question="How long does standard delivery take?",
        must_contain="3 to 5 business days",
        must_cite=faq,
    )
    bad = services.bot_test_create(
        widget=widget, question="Do you ship to Mars?", must_contain="Mars deliveries", must_cite=None
    )
    return good, bad


def test_a_run_asks_every_test_and_keeps_what_failed(tenant_a, offline, ingest_here):
    with tenant_context(tenant_a.tenant):
        shop_faq_ingest(tenant_a.tenant)
        good, bad = _tests(tenant_a.tenant)
        used = usage_value(tenant_id=tenant_a.tenant.pk, metric=UsageCounter.Metric.AI_ANSWERS)
        run = services.bot_test_run_request(user_id=tenant_a.owner.pk)
        assert run.status == BotTestRun.Status.QUEUED and run.trigger == BotTestRun.Trigger.MANUAL
        done = runs.bot_test_run_execute(run.pk)
        assert (done.status, done.total, done.passed, done.pass_rate) == ("done", 2, 1, 50)
        passed = BotTestResult.objects.get(run=run, test=good)
        assert passed.passed and passed.failures == [] and "3 to 5 business days" in passed.answer
        assert passed.citations[0]["title"] == "Shop FAQ"
        failed = BotTestResult.objects.get(run=run, test=bad)
        assert not failed.passed and "Does not contain “Mars deliveries”." in failed.failures
        # bot tests are no visitor's answers: nothing counted against the quota
        assert usage_value(tenant_id=tenant_a.tenant.pk, metric=UsageCounter.Metric.AI_ANSWERS) == used
        # a second delivery of the same run does nothing
        assert runs.bot_test_run_execute(run.pk) is None
        assert BotTestResult.objects.filter(run=run).count() == 2
        # deterministic: the next run gives the same answers
        again = runs.bot_test_run_execute(services.bot_test_run_request(user_id=None).pk)
        assert [r.answer for r in again.results.order_by("test_id")] == [
            r.answer for r in run.results.order_by("test_id")
        ]


def test_tests_run_even_when_visitors_are_over_the_quota(tenant_a, offline, ingest_here, settings):
    with tenant_context(tenant_a.tenant):
        shop_faq_ingest(tenant_a.tenant)
        good, _ = _tests(tenant_a.tenant)
        BotTest.objects.exclude(pk=good.pk).delete()
        period = timezone.localdate().replace(day=1)
        UsageCounter.objects.update_or_create(
            tenant=tenant_a.tenant, period=period, metric="ai_answers", defaults={"value": 10**6}
        )
        run = runs.bot_test_run_execute(services.bot_test_run_request(user_id=None).pk)
        assert run.passed == 1


def test_the_task_runs_in_the_schema_it_was_sent_from(tenant_a, offline, ingest_here):
    with tenant_context(tenant_a.tenant):
        shop_faq_ingest(tenant_a.tenant)
        _tests(tenant_a.tenant)
        run = services.bot_test_run_request(user_id=None)
    # as the worker runs it: the schema comes from the task's headers
    result = tasks.bot_test_run_task.apply(args=[run.pk], headers={"_schema_name": tenant_a.schema})
    assert result.get() == 1
    with tenant_context(tenant_a.tenant):
        assert BotTestRun.objects.get(pk=run.pk).status == "done"


def test_a_batch_of_knowledge_changes_gives_one_run(
    tenant_a, ingest_here, django_capture_on_commit_callbacks
):
    with tenant_context(tenant_a.tenant):
        kb = shop_faq_ingest(tenant_a.tenant)
        assert not BotTestRun.objects.exists()  # no tests: nothing to run
        _tests(tenant_a.tenant)
        for title in ("Opening hours", "Gift cards"):
            with django_capture_on_commit_callbacks(execute=True):
                source = source_add_text(tenant=tenant_a.tenant, kb=kb, title=title, text=f"{title}: ask us.")
            with django_capture_on_commit_callbacks(execute=True):
                ingestion.source_ingest(source.pk)
        [run] = BotTestRun.objects.all()
        assert (run.status, run.trigger) == ("queued", "knowledge")
        # a change while the run is running queues the next one
        BotTestRun.objects.filter(pk=run.pk).update(status="running", started_at=timezone.now())
        with django_capture_on_commit_callbacks(execute=True):
            source_delete(source=source)
        assert list(BotTestRun.objects.values_list("status", "trigger")) == [
            ("queued", "knowledge"),
            ("running", "knowledge"),
        ]
        # asking by hand meanwhile joins the queued run
        assert services.bot_test_run_request(user_id=None).status == "queued"
        assert BotTestRun.objects.count() == 2


def test_a_run_whose_message_was_lost_does_not_hold_back_the_next(tenant_a, ingest_here):
    with tenant_context(tenant_a.tenant):
        shop_faq_ingest(tenant_a.tenant)
        _tests(tenant_a.tenant)
        lost = services.bot_test_run_request(user_id=None)
        BotTestRun.objects.filter(pk=lost.pk).update(created_at=timezone.now() - timedelta(hours=1))
        fresh = services.bot_test_run_request(user_id=None)
        assert fresh.pk != lost.pk and fresh.status == "queued"
        lost.refresh_from_db()
        assert (lost.status, lost.error) == ("failed", "It never started.")


def test_a_test_says_what_a_good_answer_holds(tenant_a, ingest_here):
    with tenant_context(tenant_a.tenant):
        widget = Widget.objects.first()
        with pytest.raises(ValidationFailed) as refused:
            services.bot_test_create(widget=widget, question="Hi?", must_contain=" \n ", must_cite=None)
        assert list(refused.value.errors) == ["must_contain"]
        with pytest.raises(ValidationFailed):
            services.bot_test_run_request(user_id=None)  # no tests yet
        for i in range(25):
            services.bot_test_create(widget=widget, question=f"Q{i}", must_contain="x", must_cite=None)
        with pytest.raises(ValidationFailed) as limit:
            services.bot_test_create(widget=widget, question="One more", must_contain="x", must_cite=None)
        assert limit.value.errors["question"][0]["code"] == "limit"
        test = BotTest.objects.first()
        services.bot_test_update(
            test=test, widget=widget, question=" Edited? ", must_contain="a\n\n b ", must_cite=None
        )
        test.refresh_from_db()
        assert (test.question, test.phrases) == ("Edited?", ["a", "b"])


def test_a_failure_to_queue_the_tests_never_fails_the_ingestion(
    tenant_a, ingest_here, monkeypatch, django_capture_on_commit_callbacks, caplog
):
    def broken():
        raise RuntimeError("no table yet")

    monkeypatch.setattr("quality.services.bot_tests_after_knowledge_change", broken)
    with tenant_context(tenant_a.tenant):
        kb = shop_faq_ingest(tenant_a.tenant)
        with django_capture_on_commit_callbacks(execute=True):
            source = source_add_text(tenant=tenant_a.tenant, kb=kb, title="Hours", text="Open 9 to 5.")
        with django_capture_on_commit_callbacks(execute=True):
            report = ingestion.source_ingest(source.pk)
        assert report["added"] == 1
        assert Source.objects.get(pk=source.pk).status == "ready"
    assert "queueing the bot tests after a knowledge change failed" in caplog.text
