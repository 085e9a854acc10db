"""The platform as several processes on one PostgreSQL and one Redis, as production runs it:
two web processes (uvicorn, A and B), one Celery worker consuming both queues, Celery beat,
and the fake LLM provider (tests/fakes/llm_server.py, in this process so tests script its
answers). They run on the pytest test database and the Redis of ``REDIS_URL`` (cache,
channel layer, broker), with the test settings and a few shorter timings from the
environment (``cluster``).

What they read is committed: a workspace of its own (``workspace``), made once for the
module and deleted afterwards with everything the processes wrote (beat's jobs put back as
they were, the runs of jobs removed), so the rest of the suite finds the database as it
was. Every subprocess is stopped at the end, also on failure; a failing test's report
carries each one's log.

Without Redis these tests skip with a notice (fail under SAAS_REQUIRE_SERVICES=1, as in CI).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from tests.conftest import require_service

ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 120  # six Django processes starting at once on two busy cores
# The workspace API's limit per key and minute in these processes (API_RATE_KEY_PER_MINUTE).
KEY_LIMIT = 6


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(condition: Callable[[], Any], *, timeout: float, what: str, poll: float = 0.1) -> Any:
    """Poll ``condition`` until it returns something true (returned), or fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(poll)


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log: Path

    def running(self) -> bool:
        return self.popen.poll() is None

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        """SIGTERM to its process group (the worker's pool processes too), SIGKILL after 20 s."""
        self.terminate()
        self.wait_stopped(deadline=time.monotonic() + 20)

    def terminate(self) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)

    def wait_stopped(self, *, deadline: float) -> None:
        """Until it exits or ``deadline`` (``time.monotonic()``), then SIGKILL to whatever of
        its group is left (a pool process of a worker that was killed)."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=max(0.0, deadline - time.monotonic()))
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait()


@dataclass
class Cluster:
    web_a: Process
    web_b: Process
    worker: Process
    beat: Process
    port_a: int
    port_b: int
    worker_name: str
    llm: Any  # tests.fakes.llm_server.FakeLLMServer

    @property
    def processes(self) -> list[Process]:
        return [self.web_a, self.web_b, self.worker, self.beat]

    def logs(self, chars: int = 6000) -> str:
        parts = []
        for process in self.processes:
            state = "running" if process.running() else f"exited {process.popen.returncode}"
            parts.append(f"----- {process.name} ({state}), last {chars} characters -----")
            parts.append(process.log_text()[-chars:])
        return "\n".join(parts)


def _database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def _start(name: str, command: list[str], env: dict[str, str], logs: Path) -> Process:
    log = logs / f"{name}.log"
    with log.open("wb") as out:
        popen = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a group of its own: stopped whole, never by name
        )
    return Process(name, popen, log)


def _web(name: str, port: int, env: dict[str, str], logs: Path) -> Process:
    command = [sys.executable, "-m", "uvicorn", "saas.asgi:application", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--ws", "websockets", "--ws-per-message-deflate", "false"]
    command += ["--lifespan", "off", "--log-level", "warning", "--no-access-log"]
    return _start(name, command, env, logs)


def _up(port: int) -> bool:
    from tests.processes.clients import call

    try:
        return call(port, "GET", "/healthz", host=settings.BASE_DOMAIN, timeout=2).status == 200
    except OSError:
        return False


class _Schedules:
    """Beat's jobs set for these processes, and put back afterwards: every declared job
    disabled but the unanswered-answers sweep, which runs every second (else beat would run
    every job at its start on the suite's shared database, and the sweep once a minute).
    The runs the worker records are removed afterwards too."""

    JOB = "chat-unanswered-sweep"

    def __init__(self) -> None:
        from django_celery_beat.models import IntervalSchedule, PeriodicTask, PeriodicTasks

        from scheduler.models import TaskRun
        from scheduler.services import schedules_sync

        schedules_sync()  # every declared job exists (as after migrate): beat changes none
        self.jobs = list(PeriodicTask.objects.values())
        self.last = {
            model: model.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
            for model in (TaskRun, PeriodicTask, IntervalSchedule)
        }
        every_second, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.SECONDS)
        PeriodicTask.objects.exclude(name=self.JOB).update(enabled=False)
        PeriodicTask.objects.filter(name=self.JOB).update(
            enabled=True, interval=every_second, crontab=None, last_run_at=None
        )
        PeriodicTasks.update_changed()

    def restore(self) -> None:
        from django_celery_beat.models import IntervalSchedule, PeriodicTask, PeriodicTasks

        from scheduler.models import TaskRun

        TaskRun.objects.filter(pk__gt=self.last[TaskRun]).delete()
        PeriodicTask.objects.filter(pk__gt=self.last[PeriodicTask]).delete()
        for job in self.jobs:
            fields = {k: v for k, v in job.items() if k != "id"}
            if not PeriodicTask.objects.filter(pk=job["id"]).update(**fields):
                PeriodicTask.objects.create(**job)
        IntervalSchedule.objects.filter(pk__gt=self.last[IntervalSchedule]).delete()
        PeriodicTasks.update_changed()


@pytest.fixture(scope="module")
def workspace(django_db_setup, django_db_blocker) -> Iterator[Any]:
    """A workspace of its own (committed: the processes read it) with an agent; deleted for
    good afterwards, with its users. ``.tenant``, ``.host``, ``.owner``, ``.agent``."""
    from tenants.models import User
    from tenants.services import tenant_delete
    from tests.tenants.factories import MembershipFactory, TenantFactory, UserFactory

    @dataclass
    class Workspace:
        tenant: Any
        owner: Any
        agent: Any

        @property
        def host(self) -> str:
            return f"{self.tenant.slug}.{settings.BASE_DOMAIN}"

    require_service(bool(settings.REDIS_URL) and not settings.CELERY_TASK_ALWAYS_EAGER, "Redis (REDIS_URL)")
    with django_db_blocker.unblock():
        owner = UserFactory(email="owner@processes.example.com")
        tenant = TenantFactory(slug="processes", name="Several Processes", owner=owner)
        agent = UserFactory(email="agent@processes.example.com", first_name="Ana")
        MembershipFactory(tenant=tenant, user=agent, role="agent")
        connection.set_schema_to_public()
    try:
        yield Workspace(tenant, owner, agent)
    finally:
        with django_db_blocker.unblock():
            connection.set_schema_to_public()
            tenant_delete(tenant=tenant, by=None)
            User.objects.filter(email__endswith="@processes.example.com").delete()


@pytest.fixture(scope="module")
def cluster(workspace, django_db_blocker, tmp_path_factory) -> Iterator[Cluster]:
    require_service(bool(settings.REDIS_URL) and not settings.CELERY_TASK_ALWAYS_EAGER, "Redis (REDIS_URL)")
    assert connection.settings_dict["NAME"].startswith("test_"), "these processes need the test database"
    from saas import heartbeats
    from saas.celery import app as celery_app
    from tests.fakes.llm_server import FakeLLMServer

    logs = tmp_path_factory.mktemp("processes")
    worker_name = f"processes-{uuid.uuid4().hex[:8]}"
    llm = FakeLLMServer().start()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "saas.settings.test",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "PYTHONUNBUFFERED": "1",
        "LLM_PROVIDER": "anthropic",
        "LLM_MODEL": "",
        "ANTHROPIC_API_KEY": "sk-ant-platform-test",
        "ANTHROPIC_BASE_URL": llm.url,
        "WORKER_HEARTBEAT_FILE": str(logs / "worker-heartbeat"),
        "WORKER_HEARTBEAT_SECONDS": "1",
        "BEAT_HEARTBEAT_FILE": str(logs / "beat-heartbeat"),
        "API_RATE_KEY_PER_MINUTE": str(KEY_LIMIT),
        # A web process killed mid-answer holds its answer's claim for LLM_DEADLINE_SECONDS
        # (5 s in tests) plus this margin; the sweep (every second here) looks at messages
        # older than CHAT_UNANSWERED_AFTER_SECONDS. Production: 30 s and two minutes.
        "CHAT_ANSWER_CLAIM_MARGIN_SECONDS": "3",
        "CHAT_UNANSWERED_AFTER_SECONDS": "3",
    }
    with django_db_blocker.unblock():
        schedules = _Schedules()
    celery_app.control.purge()  # what earlier tests left on the queues is no task of these processes
    port_a, port_b = free_port(), free_port()
    started: list[Process] = []
    try:
        started.append(_web("web-a", port_a, env, logs))
        started.append(_web("web-b", port_b, env, logs))
        worker_command = [sys.executable, "-m", "celery", "-A", "saas", "worker", "-Q", "default,ingest"]
        worker_command += ["-n", f"{worker_name}@%h", "--concurrency", "2", "--without-mingle"]
        worker_command += ["--without-gossip", "--loglevel", "INFO"]
        started.append(_start("worker", worker_command, env, logs))
        beat_command = [sys.executable, "-m", "celery", "-A", "saas", "beat"]
        beat_command += ["--scheduler", "scheduler.beat:ProjectScheduler", "--loglevel", "INFO"]
        started.append(_start("beat", beat_command, env, logs))
        made = Cluster(*started, port_a=port_a, port_b=port_b, worker_name=worker_name, llm=llm)

        def all_up() -> bool:
            for process in started:
                assert process.running(), f"{process.name} stopped at start-up:\n{made.logs()}"
            return (
                _up(port_a)
                and _up(port_b)
                and any(name.startswith(worker_name) for name in heartbeats.alive("worker"))
                and bool(heartbeats.alive("beat"))
            )

        try:
            wait_until(all_up, timeout=STARTUP_SECONDS, what="the processes", poll=0.3)
        except AssertionError as error:
            raise AssertionError(f"{error}\n{made.logs()}") from None
        yield made
    finally:
        # All told to stop at once, so their shutdowns overlap (one at a time, their grace
        # periods would add up).
        for process in started:
            process.terminate()
        deadline = time.monotonic() + 20
        for process in started:
            process.wait_stopped(deadline=deadline)
        llm.stop()
        celery_app.control.purge()  # what beat sent after the worker stopped
        redis = heartbeats._client(heartbeats.store_url())
        # A killed process leaves its heartbeat behind, which other tests do not expect.
        redis.delete(f"{heartbeats.PREFIX}beat")
        for key in redis.scan_iter(match=f"{heartbeats.PREFIX}worker:{worker_name}@*"):
            redis.delete(key)
        with django_db_blocker.unblock():
            connection.set_schema_to_public()
            schedules.restore()


@pytest.fixture
def llm(cluster) -> Iterator[Any]:
    """The processes' fake provider, for a test to script (as it was afterwards)."""
    cluster.llm.reset()
    yield cluster.llm
    cluster.llm.reset()


@pytest.fixture(autouse=True)
def _committed(django_db_blocker) -> Iterator[None]:
    """Database access in autocommit: what a test writes, the processes see."""
    with django_db_blocker.unblock():
        yield
        connection.set_schema_to_public()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing test's report ends with each process's log."""
    outcome = yield
    report = outcome.get_result()
    made = item.funcargs.get("cluster") if hasattr(item, "funcargs") else None
    if report.failed and isinstance(made, Cluster):
        report.sections.append(("processes' logs", made.logs()))
