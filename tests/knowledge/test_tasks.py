"""knowledge.tasks: a worker killed in the middle of an ingestion: the task is handed out
again and the re-run ends in the same state a clean run would, each page stored once.

Nothing here polls: the test waits for the site to be asked for a page (the crawl stores
each page before it asks for the next) and for the task's result (the result backend)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django_tenants.utils import tenant_context

from knowledge.models import Chunk, Document, KnowledgeBase, Source
from knowledge.tasks import source_ingest_task
from tests.conftest import require_service
from tests.knowledge.factories import SourceFactory
from tests.knowledge.site_server import SiteServer

BASE_DIR = Path(__file__).resolve().parents[2]
PAGES = 6


def _worker(queue: str, site_port: int) -> subprocess.Popen:
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "saas.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "KNOWLEDGE_FETCH_PRIVATE_ALLOWLIST": f"127.0.0.1:{site_port}",
        "KNOWLEDGE_CRAWL_DELAY_CAP": "0",
        "CELERY_VISIBILITY_TIMEOUT": "3",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "saas", "worker", "--pool", "solo", "-Q", queue,
         "--without-mingle", "--without-gossip", "--loglevel", "WARNING"],
        env=env,
        cwd=BASE_DIR,
    )  # fmt: skip


@pytest.mark.worker
def test_a_killed_worker_s_ingestion_completes_once(seeded, django_db_blocker, settings):
    require_service(bool(settings.REDIS_URL) and not settings.CELERY_TASK_ALWAYS_EAGER, "Redis (REDIS_URL)")
    tenant = seeded["a"].tenant
    queue = f"test-ingest-{uuid.uuid4().hex[:8]}"
    with SiteServer() as site, django_db_blocker.unblock():
        links = "".join(f"<a href='/p{i}'>page {i}</a>" for i in range(PAGES - 1))
        site.add("/", f"<html><body><main><h1>Index</h1><p>All pages.</p>{links}</main></body></html>")
        site.add("/robots.txt", "User-agent: *\nAllow: /\n", content_type="text/plain")
        for i in range(PAGES - 1):
            body = f"<html><body><main><h1>Page {i}</h1><p>Topic {i}: slow page {i}.</p></main></body></html>"
            site.add(f"/p{i}", body, delay=0.6)  # slow enough to kill the worker mid-crawl
        with tenant_context(tenant):
            kb = KnowledgeBase.objects.order_by("id").first()
            source = SourceFactory(
                knowledge_base=kb, kind=Source.Kind.CRAWL, title="site", url=site.url("/"), crawl_depth=1,
                page_limit=PAGES,
            )  # fmt: skip
        first = _worker(queue, site.port)
        second = None
        try:
            with tenant_context(tenant):
                result = source_ingest_task.apply_async(args=[source.pk], queue=queue)

            # Asked for the third page: the first two are stored (the crawl stores a page
            # before it fetches the next one).
            site.wait_for("/p1", timeout=60)
            with tenant_context(tenant):
                assert Source.objects.filter(pk=source.pk, progress_done__gte=2).exists()  # mid-ingest
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
            with tenant_context(tenant):
                assert Source.objects.get(pk=source.pk).status == "processing"  # left retryable

            second = _worker(queue, site.port)
            result.get(timeout=90)  # the task ran again, to the end
            with tenant_context(tenant):
                done = Source.objects.get(pk=source.pk)
                assert done.status == "ready"
                keys = list(Document.objects.filter(source=source).values_list("key", flat=True))
                assert sorted(keys) == sorted(
                    {site.url("/")} | {site.url(f"/p{i}") for i in range(PAGES - 1)}
                )
                for document in Document.objects.filter(source=source):
                    positions = list(
                        Chunk.objects.filter(document=document).values_list("position", flat=True)
                    )
                    assert positions == sorted(set(positions)) and len(positions) == document.chunk_count
            assert done.last_report["failed"] == []
        finally:
            for worker in (first, second):
                if worker is not None and worker.poll() is None:
                    worker.terminate()
                    try:
                        worker.wait(timeout=15)
                    except subprocess.TimeoutExpired:
                        worker.kill()
            with tenant_context(tenant):
                Source.objects.filter(pk=source.pk).delete()
