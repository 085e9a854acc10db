"""knowledge.runs: who may work on a source. A delivery of an older run or of a finished
source does nothing; the reaper's re-queue is a compare-and-set (two reapers, or a late
beat of the original worker, cannot make it twice); a run another one replaced stops
before writing; attempts are capped with a reason a person can read. The whole worker
killed mid-ingest, on a real worker: test_tasks.py."""

from __future__ import annotations

import os
import socket
import subprocess
from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from knowledge import ingestion, runs, tasks
from knowledge.models import Document, KnowledgeBase, Source
from tests.knowledge.factories import SourceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def source(tenant_a):
    with tenant_context(tenant_a.tenant):
        kb = KnowledgeBase.objects.order_by("id").first()
        yield SourceFactory(knowledge_base=kb, title="Hours", text="Opening hours: 9 to 5 on weekdays.")


def _dead_pid() -> int:
    """The id of a process of this host that has ended."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def _stalled(source: Source, *, worker: str = "elsewhere:1", minutes: int = 10, attempts: int = 1) -> int:
    """``source`` as a run left it when its worker vanished ``minutes`` ago."""
    run = runs.run_issue(source.pk)
    Source.objects.filter(pk=source.pk).update(
        status=Source.Status.PROCESSING,
        attempts=attempts,
        worker=worker,
        heartbeat_at=timezone.now() - timedelta(minutes=minutes),
    )
    return run


def test_a_run_is_claimed_once_and_a_finished_source_is_not_run_again(tenant_a, source):
    with tenant_context(tenant_a.tenant):
        run = runs.run_issue(source.pk)
        assert ingestion.source_ingest(source.pk, run)["added"] == 1
        done = Source.objects.get(pk=source.pk)
        assert (done.status, done.attempts) == ("ready", 1)
        # The same message handed out again (the broker's visibility timeout): nothing.
        assert ingestion.source_ingest(source.pk, run) == {"skipped": run}
        assert Source.objects.get(pk=source.pk).last_synced_at == done.last_synced_at
        # A delivery of an older run, after a newer one was queued: nothing either.
        newer = runs.run_issue(source.pk)
        assert ingestion.source_ingest(source.pk, run) == {"skipped": run}
        assert Source.objects.get(pk=source.pk).status == "queued"
        assert ingestion.source_ingest(source.pk, newer)["unchanged"] == 1


def test_the_reaper_requeues_a_stalled_run_once(tenant_a, source, settings):
    with tenant_context(tenant_a.tenant):
        old = _stalled(source)
        assert runs.runs_stale() == [(source.pk, old, 1)]
        new = runs.run_reap(source.pk, old, 1)
        assert new == old + 1
        assert runs.run_reap(source.pk, old, 1) is None  # a second reaper, same sighting
        queued = Source.objects.get(pk=source.pk)
        assert (queued.status, queued.run) == ("queued", new)
        # The original worker comes back: its beat fails, it writes nothing more.
        with pytest.raises(runs.Superseded):
            runs.run_beat(source.pk, old)
        assert ingestion.source_ingest(source.pk, old) == {"skipped": old}
        assert ingestion.source_ingest(source.pk, new)["added"] == 1
        assert Document.objects.filter(source=source).count() == 1
        assert Source.objects.get(pk=source.pk).attempts == 2


def test_a_beating_run_is_not_reaped(tenant_a, source, settings):
    settings.KNOWLEDGE_INGEST_STALE_SECONDS = 300
    with tenant_context(tenant_a.tenant):
        run = _stalled(source, minutes=1)
        assert runs.runs_stale() == []
        assert runs.run_reap(source.pk, run, 1) is None
        assert Source.objects.get(pk=source.pk).status == "processing"
        # Nor taken over by another delivery of the same run while its process lives.
        assert runs.run_claim(source.pk, run) is None


def test_a_redelivered_run_takes_over_at_once_when_its_process_is_gone(tenant_a, source, settings):
    settings.KNOWLEDGE_INGEST_STALE_SECONDS = 300
    with tenant_context(tenant_a.tenant):
        run = _stalled(source, worker=f"{socket.gethostname()}:{_dead_pid()}", minutes=0)
        assert runs.run_claim(source.pk, run) == run  # the pool process was killed
        claimed = Source.objects.get(pk=source.pk)
        assert (claimed.status, claimed.attempts, claimed.worker) == (
            "processing",
            2,
            f"{socket.gethostname()}:{os.getpid()}",
        )


def test_after_its_attempts_a_source_fails_with_a_reason(tenant_a, source, settings):
    settings.KNOWLEDGE_INGEST_MAX_ATTEMPTS = 3
    with tenant_context(tenant_a.tenant):
        run = _stalled(source, attempts=3)
        assert runs.run_reap(source.pk, run, 3) is None
        failed = Source.objects.get(pk=source.pk)
        assert failed.status == "failed"
        assert failed.error.startswith("Processing stopped 3 times before it could finish")
        # A delivery of the same run after that: nothing.
        assert runs.run_claim(source.pk, run) is None


def test_a_run_redelivered_past_its_attempts_fails_instead_of_running(tenant_a, source, settings):
    settings.KNOWLEDGE_INGEST_MAX_ATTEMPTS = 3
    with tenant_context(tenant_a.tenant):
        run = _stalled(source, attempts=3, worker=f"{socket.gethostname()}:{_dead_pid()}")
        assert ingestion.source_ingest(source.pk, run) == {"skipped": run}
        assert Source.objects.get(pk=source.pk).status == "failed"
        assert not Document.objects.filter(source=source).exists()


def test_the_reaper_task_enters_every_workspace(
    tenant_a, tenant_b, source, django_capture_on_commit_callbacks
):
    with tenant_context(tenant_a.tenant):
        old = _stalled(source)
    with django_capture_on_commit_callbacks() as callbacks:
        assert tasks.sources_reap_stale() == 1
        assert tasks.sources_reap_stale() == 0  # already queued again
    assert len(callbacks) == 1
    with tenant_context(tenant_a.tenant):
        assert Source.objects.get(pk=source.pk).run == old + 1


def test_a_source_queued_too_long_is_sent_again_once_and_runs_once(tenant_a, source, settings):
    """Its message was lost (the broker and the outbox's database both down): sent again
    with the same run; a copy of a message that was only slow then does nothing."""
    settings.KNOWLEDGE_INGEST_QUEUED_RESEND_SECONDS = 1800
    with tenant_context(tenant_a.tenant):
        run = runs.run_issue(source.pk)
        assert runs.runs_queued_resend() == []  # queued a moment ago: it waits its turn
        Source.objects.filter(pk=source.pk).update(updated_at=timezone.now() - timedelta(minutes=31))
        assert runs.runs_queued_resend() == [(source.pk, run)]
        assert runs.runs_queued_resend() == []  # one resend per delay, however many reapers
        assert ingestion.source_ingest(source.pk, run)["added"] == 1
        assert ingestion.source_ingest(source.pk, run) == {"skipped": run}  # the slow copy
        assert Document.objects.filter(source=source).count() == 1


def test_a_re_embedding_that_stopped_beating_is_queued_again_once(tenant_a, settings):
    settings.KNOWLEDGE_INGEST_STALE_SECONDS = 300
    with tenant_context(tenant_a.tenant):
        kb = KnowledgeBase.objects.order_by("id").first()
        KnowledgeBase.objects.filter(pk=kb.pk).update(reembedding=True, updated_at=timezone.now())
        assert runs.reembeds_stale() == []  # beating
        KnowledgeBase.objects.filter(pk=kb.pk).update(updated_at=timezone.now() - timedelta(minutes=6))
        assert runs.reembeds_stale() == [kb.pk]
        assert runs.reembeds_stale() == []  # marked as re-queued: once per stale period
        # Its batches beat: a knowledge base being re-embedded is left alone.
        KnowledgeBase.objects.filter(pk=kb.pk).update(updated_at=timezone.now() - timedelta(minutes=6))
        runs.reembed_beat(kb.pk)
        assert runs.reembeds_stale() == []
        KnowledgeBase.objects.filter(pk=kb.pk).update(reembedding=False)
