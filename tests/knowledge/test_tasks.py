"""knowledge.tasks: a worker killed in the middle of an ingestion. Handed out again by the
broker (a short visibility timeout), the re-run ends in the same state a clean run would,
each page stored once; with the broker's own timeout, the reaper queues a new run within
minutes and the source finishes exactly once, a late delivery of the old run doing nothing.

Nothing here polls: the test waits for the site to be asked for a page, for the task's
result (the result backend) or for the worker's log line of the task's success."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django_tenants.utils import tenant_context

from knowledge import runs
from knowledge.models import Chunk, Document, KnowledgeBase, Source
from knowledge.tasks import source_ingest_task, sources_reap_stale
from saas.celery import app as celery_app
from tests.conftest import require_service
from tests.knowledge.factories import SourceFactory
from tests.knowledge.site_server import SiteServer

BASE_DIR = Path(__file__).resolve().parents[2]
PAGES = 6


def _worker(queue: str, site_port: int, **extra_env: str) -> subprocess.Popen:
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "saas.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "KNOWLEDGE_FETCH_PRIVATE_ALLOWLIST": f"127.0.0.1:{site_port}",
        "KNOWLEDGE_CRAWL_DELAY_CAP": "0",
        "CELERY_VISIBILITY_TIMEOUT": "3",
        "CELERY_UNACKED_RESTORE_THROTTLE": "1",  # redelivered within 10 s, not about 100 s
        **extra_env,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "saas", "worker", "--pool", "solo", "-Q", queue,
         "--without-mingle", "--without-gossip", "--loglevel", "WARNING"],
        env=env,
        cwd=BASE_DIR,
    )  # fmt: skip


def _site(site: SiteServer) -> None:
    links = "".join(f"<a href='/p{i}'>page {i}</a>" for i in range(PAGES - 1))
    site.add("/", f"<html><body><main><h1>Index</h1><p>All pages.</p>{links}</main></body></html>")
    site.add("/robots.txt", "User-agent: *\nAllow: /\n", content_type="text/plain")
    for i in range(PAGES - 1):
        body = f"<html><body><main><h1>Page {i}</h1><p>Topic {i}: slow page {i}.</p></main></body></html>"
        site.add(f"/p{i}", body, delay=0.6)  # slow enough to kill the worker mid-crawl


def _assert_stored_once(source: Source, site: SiteServer) -> None:
    keys = list(Document.objects.filter(source=source).values_list("key", flat=True))
    assert sorted(keys) == sorted({site.url("/")} | {site.url(f"/p{i}") for i in range(PAGES - 1)})
    for document in Document.objects.filter(source=source):
        positions = list(Chunk.objects.filter(document=document).values_list("position", flat=True))
        assert positions == sorted(set(positions)) and len(positions) == document.chunk_count


def _stop(*workers: subprocess.Popen | None) -> None:
    for worker in workers:
        if worker is not None and worker.poll() is None:
            worker.terminate()
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                worker.kill()


class _WorkerLog(threading.Thread):
    """A worker's log, read as it comes; ``wait_for(pattern)`` returns the first line that
    matches (the log is drained all along, so the worker never blocks on it)."""

    def __init__(self, process: subprocess.Popen) -> None:
        super().__init__(daemon=True)
        self.process, self.lines, self.changed = process, [], threading.Condition()
        self.start()

    def run(self) -> None:
        for line in self.process.stderr:
            with self.changed:
                self.lines.append(line)
                self.changed.notify_all()
        with self.changed:
            self.lines.append(None)  # the end
            self.changed.notify_all()

    def matching(self, pattern: str) -> list[str]:
        with self.changed:
            return [line for line in self.lines if line is not None and re.search(pattern, line)]

    def wait_for(self, pattern: str, timeout: float) -> str:
        with self.changed:
            found = self.changed.wait_for(
                lambda: (
                    self.lines[-1:] == [None] or any(line and re.search(pattern, line) for line in self.lines)
                ),
                timeout=timeout,
            )
        assert found, f"no log line matching {pattern!r}"
        matches = self.matching(pattern)
        assert matches, f"the worker ended without {pattern!r}: {''.join(x for x in self.lines if x)[-3000:]}"
        return matches[0]


def _logged_worker(queue: str, site_port: int) -> subprocess.Popen:
    """A whole prefork worker (parent and pool process, in a process group of their own)
    with the broker's own visibility timeout, logging its tasks' outcomes."""
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "saas.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "KNOWLEDGE_FETCH_PRIVATE_ALLOWLIST": f"127.0.0.1:{site_port}",
        "KNOWLEDGE_CRAWL_DELAY_CAP": "0",
    }
    env.pop("CELERY_VISIBILITY_TIMEOUT", None)
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "saas", "worker", "--pool", "prefork", "--concurrency", "1",
         "-Q", queue, "--without-mingle", "--without-gossip", "--loglevel", "INFO"],
        env=env,
        cwd=BASE_DIR,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )  # fmt: skip


@pytest.mark.worker
def test_a_killed_worker_s_ingestion_completes_once(seeded, django_db_blocker, settings):
    require_service(bool(settings.REDIS_URL) and not settings.CELERY_TASK_ALWAYS_EAGER, "Redis (REDIS_URL)")
    tenant = seeded["a"].tenant
    queue = f"test-ingest-{uuid.uuid4().hex[:8]}"
    with SiteServer() as site, django_db_blocker.unblock():
        _site(site)
        with tenant_context(tenant):
            kb = KnowledgeBase.objects.order_by("id").first()
            source = SourceFactory(
                knowledge_base=kb, kind=Source.Kind.CRAWL, title="site", url=site.url("/"), crawl_depth=1,
                page_limit=PAGES,
            )  # fmt: skip
            run = runs.run_issue(source.pk)
        first = _worker(queue, site.port)
        second = None
        try:
            with tenant_context(tenant):
                result = source_ingest_task.apply_async(args=[source.pk], kwargs={"run": run}, queue=queue)

            site.wait_for("/p1", timeout=60)  # mid-crawl: four slow pages still to come
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
            with tenant_context(tenant):
                assert Source.objects.get(pk=source.pk).status == "processing"  # left retryable

            # Handed out again by the broker; its process is gone, so the run resumes at once.
            second = _worker(queue, site.port)
            result.get(timeout=90)  # the task ran again, to the end
            with tenant_context(tenant):
                done = Source.objects.get(pk=source.pk)
                assert (done.status, done.run, done.attempts) == ("ready", run, 2)
                _assert_stored_once(source, site)
            assert done.last_report["failed"] == []
        finally:
            _stop(first, second)
            with tenant_context(tenant):
                Source.objects.filter(pk=source.pk).delete()


@pytest.mark.worker
def test_the_reaper_finishes_the_ingestion_of_a_whole_worker_killed(seeded, django_db_blocker, settings):
    """The issue's case: the whole worker (parent and pool process) SIGKILLed mid-ingest and
    a new one started; the task stays with the dead worker until the broker's visibility
    timeout (over half an hour), but the reaper sees the heartbeat stop and queues a new
    run, which finishes the source exactly once."""
    require_service(bool(settings.REDIS_URL) and not settings.CELERY_TASK_ALWAYS_EAGER, "Redis (REDIS_URL)")
    tenant = seeded["a"].tenant
    queue = f"test-reap-{uuid.uuid4().hex[:8]}"
    with SiteServer() as site, django_db_blocker.unblock():
        _site(site)
        with tenant_context(tenant):
            kb = KnowledgeBase.objects.order_by("id").first()
            source = SourceFactory(
                knowledge_base=kb, kind=Source.Kind.CRAWL, title="site", url=site.url("/"), crawl_depth=1,
                page_limit=PAGES,
            )  # fmt: skip
            first_run = runs.run_issue(source.pk)
        first = _logged_worker(queue, site.port)
        second = None
        try:
            with tenant_context(tenant):
                source_ingest_task.apply_async(args=[source.pk], kwargs={"run": first_run}, queue=queue)
            site.wait_for("/p1", timeout=60)  # mid-crawl
            os.killpg(first.pid, signal.SIGKILL)  # the whole worker, pool process included
            first.wait(timeout=10)
            with tenant_context(tenant):
                assert Source.objects.get(pk=source.pk).status == "processing"  # stranded

            second = _logged_worker(queue, site.port)
            log = _WorkerLog(second)
            log.wait_for(r"ready\.", timeout=90)
            # The reaper, as the beat runs it, with the heartbeat counted stale at once.
            settings.KNOWLEDGE_INGEST_STALE_SECONDS = 0
            # Its message goes to this worker: to the default queue, made this worker's, with
            # no route (ingestion is routed to the `ingest` queue, CELERY_TASK_ROUTES).
            default_queue, router = celery_app.conf.task_default_queue, celery_app.amqp.router
            routes, router.routes = router.routes, []
            celery_app.conf.task_default_queue = queue
            try:
                # At least this one (other workspaces' leftovers, stale at once too, may count).
                assert sources_reap_stale() >= 1
            finally:
                celery_app.conf.task_default_queue, router.routes = default_queue, routes
            # This source's new run ends (the worker may also be finishing other workspaces'
            # leftovers the reaper sent to the same queue).
            deadline = time.monotonic() + 90
            with tenant_context(tenant):
                while Source.objects.get(pk=source.pk).status != "ready" and time.monotonic() < deadline:
                    time.sleep(0.2)
                done = Source.objects.get(pk=source.pk)
                assert (done.status, done.run, done.attempts) == ("ready", first_run + 1, 2)
                assert done.last_report["failed"] == [] and done.last_report["added"] == PAGES
                _assert_stored_once(source, site)

            # Exactly once: the reaper has nothing more to do, and the old run's message, when
            # the broker hands it out again, does nothing.
            sources_reap_stale()
            with tenant_context(tenant):
                assert Source.objects.get(pk=source.pk).run == first_run + 1  # not taken again
                late = source_ingest_task.apply_async(
                    args=[source.pk], kwargs={"run": first_run}, queue=queue
                )
            assert late.get(timeout=60) == {"skipped": first_run}
            with tenant_context(tenant):
                assert Source.objects.get(pk=source.pk).last_synced_at == done.last_synced_at
        finally:
            _stop(first, second)
            with tenant_context(tenant):
                Source.objects.filter(pk=source.pk).delete()
