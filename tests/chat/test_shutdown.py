"""A web process on SIGTERM, for real: scripts/web (uvicorn, one process) on the test
database and Redis, the fake LLM holding an answer open with a gate (no timing).

* The answer being written finishes in full, then its stream says ``reconnect``; the idle
  live-events stream ends with ``reconnect`` at once; the WebSocket closes with 1012;
  /readyz answers 503 while the process drains; the process exits.
* An answer still being written when the grace period ends is handed to a Celery worker,
  which stores it complete: one answer, nothing lost."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django_tenants.utils import tenant_context

from chat.answering import Outcome
from chat.models import Contact, Conversation, Message
from tests.chat.visitors import ORIGIN, Visitor, make_visitor
from tests.conftest import require_service
from tests.fakes.llm_server import Behaviour

ROOT = Path(__file__).resolve().parents[2]
QUESTION = "When do orders ship?"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _environment(fake_llm_server, **extra: str) -> dict[str, str]:
    db = connection.settings_dict
    return {
        **{k: v for k, v in os.environ.items() if k not in ("WEB_CONCURRENCY", "PROMETHEUS_MULTIPROC_DIR")},
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "DJANGO_SETTINGS_MODULE": "saas.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT']}/"
        + db["NAME"],
        "REDIS_URL": settings.REDIS_URL,
        "LLM_PROVIDER": "anthropic",
        "ANTHROPIC_API_KEY": "sk-ant-platform-test",
        "ANTHROPIC_BASE_URL": fake_llm_server.url,
        **extra,
    }


class Web:
    """scripts/web with one process, as the image runs it."""

    def __init__(self, fake_llm_server, **extra: str) -> None:
        self.port = _free_port()
        env = _environment(
            fake_llm_server, WEB_CONCURRENCY="1", HOST="127.0.0.1", PORT=str(self.port), **extra
        )
        self.proc = subprocess.Popen(["sh", "scripts/web", "--log-level", "warning"], env=env, cwd=ROOT)
        deadline = time.monotonic() + 60
        while True:
            assert self.proc.poll() is None, "the web process stopped"
            assert time.monotonic() < deadline, "the web process did not start"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1):
                    return
            except OSError:
                time.sleep(0.2)

    def request(
        self, method: str, path: str, visitor: Visitor | None = None, body=None, accept="application/json"
    ):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Host": "saas.test", "Origin": ORIGIN, "Accept": accept}
        if visitor is not None:
            headers["Authorization"] = f"Bearer {visitor.token}"
        if body is not None:
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        return conn.getresponse()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


def _events(response) -> Iterator[tuple[str, str, dict]]:
    """(event, retry, data) per server-sent event, as the bytes arrive."""
    event, retry, data = "message", "", []
    while line := response.readline():
        line = line.decode().rstrip("\n")
        if not line:
            if data or event != "message":
                yield event, retry, json.loads("\n".join(data) or "{}")
            event, retry, data = "message", "", []
        elif line.startswith("event: "):
            event = line[7:]
        elif line.startswith("retry: "):
            retry = line[7:]
        elif line.startswith("data: "):
            data.append(line[6:])


def _until(events: Iterator[tuple[str, str, dict]], kind: str) -> list[tuple[str, str, dict]]:
    seen = []
    for item in events:
        seen.append(item)
        if item[0] == kind:
            return seen
    raise AssertionError(f"the stream ended before {kind!r}: {seen}")


@pytest.fixture
def committed_visitor(seeded, fake_llm_server, django_db_blocker):
    """A visitor of tenant A, committed (the web process reads it), removed after."""
    require_service(bool(settings.REDIS_URL) and not settings.CELERY_TASK_ALWAYS_EAGER, "Redis (REDIS_URL)")
    fake_llm_server.reset()
    with django_db_blocker.unblock():
        visitor = make_visitor(seeded["a"])
        yield visitor
        with tenant_context(visitor.tenant):
            Conversation.objects.filter(pk=visitor.conversation.pk).delete()
            Contact.objects.filter(pk=visitor.contact.pk).delete()
    fake_llm_server.reset()


def _answers(visitor: Visitor, django_db_blocker) -> list[Message]:
    with django_db_blocker.unblock(), tenant_context(visitor.tenant):
        try:
            return list(
                Message.objects.filter(conversation_id=visitor.conversation.pk, role=Message.Role.BOT)
            )
        finally:
            connection.close()


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return True
    return False


def test_on_sigterm_the_answer_finishes_streams_say_reconnect_and_the_process_exits(
    committed_visitor, fake_llm_server, django_db_blocker
):
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    visitor = committed_visitor
    gate = threading.Event()
    fake_llm_server.enqueue(Behaviour(chunks=["Orders ", "ship ", "within two days."], gate=gate))
    web = Web(fake_llm_server, SHUTDOWN_UNREADY_SECONDS="2", SHUTDOWN_GRACE_SECONDS="20")
    with contextlib.ExitStack() as stack:
        stack.callback(web.stop)
        stack.callback(gate.set)
        live = _events(web.request("GET", visitor.path("events"), visitor, accept="text/event-stream"))
        socket_ = stack.enter_context(
            connect(
                f"ws://saas.test/ws/widget/v1/{visitor.widget.key}",
                sock=socket.create_connection(("127.0.0.1", web.port)),
                origin=ORIGIN,
                open_timeout=10,
            )
        )
        socket_.send(
            json.dumps({"type": "hello", "token": visitor.token, "conversation": visitor.conversation.pk})
        )
        while json.loads(socket_.recv(10))["type"] != "ready":
            pass
        answer = _events(
            web.request(
                "POST", visitor.messages_path, visitor, {"text": QUESTION}, accept="text/event-stream"
            )
        )
        _until(answer, "delta")  # the provider is writing; the gate holds the rest

        web.proc.send_signal(signal.SIGTERM)

        # Draining: still accepting, /readyz says 503 so the balancer stops sending.
        while (readyz := web.request("GET", "/readyz")).status != 503:
            readyz.read()
        assert json.loads(readyz.read())["checks"] == {"draining": "error"}
        # Then stopping: the idle live stream ends with reconnect, the socket with 1012.
        rest = _until(live, "reconnect")
        assert rest[-1][1] == "500" and rest[-1][2] == {"reason": "restart"}
        assert next(live, None) is None  # the stream's end
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                socket_.recv(10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012
        while not _refused(web.port):  # no new connections
            time.sleep(0.1)

        gate.set()  # the provider goes on: the answer finishes in full
        rest = list(answer)
        kinds = [kind for kind, _, _ in rest]
        assert kinds[-2:] == ["done", "reconnect"]
        done = rest[-2][2]
        assert (
            done["message"]["text"] == "Orders ship within two days." and done["outcome"] == Outcome.ANSWERED
        )
        assert web.proc.wait(20) in (0, -signal.SIGTERM)
    [stored] = _answers(visitor, django_db_blocker)
    assert stored.text == "Orders ship within two days." and stored.outcome == Outcome.ANSWERED


@pytest.fixture
def celery_worker(committed_visitor, fake_llm_server):
    """A Celery worker on the default queue, as the chart runs one (the owed answers' queue)."""
    worker = subprocess.Popen(
        [
            *(sys.executable, "-m", "celery", "-A", "saas", "worker", "--pool", "solo", "-Q", "default"),
            *("--without-mingle", "--without-gossip", "--without-heartbeat", "--loglevel", "WARNING"),
        ],
        env=_environment(fake_llm_server),
        cwd=ROOT,
    )
    try:
        yield worker
    finally:
        worker.terminate()
        try:
            worker.wait(15)
        except subprocess.TimeoutExpired:
            worker.kill()


def test_an_answer_still_running_when_the_grace_period_ends_is_finished_by_a_worker(
    committed_visitor, celery_worker, fake_llm_server, django_db_blocker
):
    visitor = committed_visitor
    gate = threading.Event()  # never opened in time: the answer outlives the grace period
    fake_llm_server.enqueue(
        Behaviour(chunks=["Orders ", "ship ", "never."], gate=gate),
        Behaviour(text="Orders ship within two days."),  # the worker's call
    )
    web = Web(fake_llm_server, SHUTDOWN_GRACE_SECONDS="1")
    try:
        answer = _events(
            web.request(
                "POST", visitor.messages_path, visitor, {"text": QUESTION}, accept="text/event-stream"
            )
        )
        _until(answer, "delta")

        web.proc.send_signal(signal.SIGTERM)

        rest = list(answer)
        assert [kind for kind, _, _ in rest] == ["reconnect"]  # no "done": a worker answers
        assert web.proc.wait(20) in (0, -signal.SIGTERM)
    finally:
        gate.set()
        web.stop()

    deadline = time.monotonic() + 60
    while not (answers := _answers(visitor, django_db_blocker)):
        assert celery_worker.poll() is None and time.monotonic() < deadline, "no worker answered"
        time.sleep(0.2)
    [stored] = answers
    assert stored.text == "Orders ship within two days." and stored.outcome == Outcome.ANSWERED
    assert len(fake_llm_server.requests) == 2
