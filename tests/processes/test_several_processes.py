"""Several processes behave as one platform (tests/processes/conftest.py starts them): two
web processes, a worker and beat on one PostgreSQL and one Redis.

The web process killed mid-answer is the last test: the others need both web processes."""

from __future__ import annotations

import re
import secrets
import signal
import threading
import time
import uuid

from django.conf import settings
from django_tenants.utils import tenant_context

from chat.models import CannedReply, Message
from knowledge.models import KnowledgeBase, Source
from scheduler.models import TaskRun
from tests.chat.realtime.sockets import agent_session
from tests.chat.visitors import ORIGIN, Visitor, make_visitor
from tests.fakes.llm_server import Behaviour
from tests.processes.clients import EventStream, Socket, call
from tests.processes.conftest import KEY_LIMIT, wait_until
from tests.tenants.factories import ApiKeyFactory

PUBLIC = settings.BASE_DOMAIN


def visitor_headers(visitor: Visitor, **extra: str) -> dict[str, str]:
    return {"Origin": ORIGIN, "Authorization": f"Bearer {visitor.token}", **extra}


def api_key(workspace) -> str:
    """A new admin API key of the workspace (each test its own: limits count per key)."""
    return ApiKeyFactory(tenant=workspace.tenant, created_by=workspace.owner).secret


def worker_ran(cluster, task: str) -> bool:
    """The worker's log says it finished ``task`` (Celery's line at INFO)."""
    return (
        re.search(rf"Task {re.escape(task)}\[[0-9a-f-]+\] succeeded in ", cluster.worker.log_text())
        is not None
    )


def test_a_visitor_on_one_web_process_and_an_agent_on_the_other_talk_live(cluster, workspace):
    """The visitor's socket on A, the agent's inbox socket on B: typing and messages cross
    both ways through the channel layer, and each side sees what is stored, in order, once.
    (The visitor's fallback stream, server-sent events, is followed on B in the last test.)"""
    visitor = make_visitor(workspace.tenant)
    conversation_id = visitor.conversation.pk
    session = agent_session(workspace.agent, workspace.tenant)
    csrf = secrets.token_hex(16)  # 32 characters: a CSRF secret, in the cookie and the header
    agent_cookie = f"{settings.SESSION_COOKIE_NAME}={session}; {settings.CSRF_COOKIE_NAME}={csrf}"

    inbox = Socket(
        cluster.port_b,
        "/ws/agent/",
        host=workspace.host,
        origin=f"http://{workspace.host}",
        headers={"Cookie": agent_cookie},
    )
    widget = Socket(
        cluster.port_a, f"/ws/widget/v1/{visitor.widget.key}", host=PUBLIC, origin=ORIGIN, headers={}
    )
    try:
        widget.send({"type": "hello", "token": visitor.token, "conversation": conversation_id, "after": 0})
        widget.next("ready")
        inbox.send({"type": "subscribe", "conversation": conversation_id, "after": 0})
        inbox.send({"type": "heartbeat"})
        inbox.next("pong")  # answered after the subscription

        # Typing crosses both ways.
        widget.send({"type": "typing", "typing": True, "text": "Hel"})
        assert inbox.next("typing")["preview"] == "Hel"
        inbox.send({"type": "typing", "conversation": conversation_id, "typing": True})
        assert widget.next("typing")["name"] == "Ana"

        # The visitor writes through A; the bot answers there; the agent on B sees both.
        sent = call(
            cluster.port_a,
            "POST",
            visitor.messages_path,
            host=PUBLIC,
            headers=visitor_headers(visitor),
            body={"text": "Hello from web A"},
        )
        assert sent.status == 201, sent.body
        frame = inbox.next("message", lambda f: f["message"]["role"] == "visitor")
        assert frame["conversation"] == conversation_id
        assert frame["message"]["text"] == "Hello from web A"
        bot = inbox.next("message", lambda f: f["message"]["role"] == "bot")
        assert bot["message"]["text"] == sent.json()["answer"]["message"]["text"]

        # The agent replies through B (the workspace API, their session): the visitor's
        # socket on A gets it live.
        reply = call(
            cluster.port_b,
            "POST",
            f"/api/v1/conversations/{conversation_id}/messages",
            host=workspace.host,
            headers={"Cookie": agent_cookie, "X-CSRFToken": csrf, "Origin": f"http://{workspace.host}"},
            body={"text": "Hi, Ana here, from web B"},
        )
        assert reply.status == 201, reply.body
        got = widget.next("message", lambda f: f["message"]["role"] == "agent")["message"]
        assert (got["text"], got["author_name"]) == ("Hi, Ana here, from web B", "Ana")

        # The conversation is the agent's now: the visitor's next words reach B, no bot answer.
        again = call(
            cluster.port_a,
            "POST",
            visitor.messages_path,
            host=PUBLIC,
            headers=visitor_headers(visitor),
            body={"text": "Thanks Ana"},
        )
        assert again.status == 201, again.body
        assert again.json()["answer"] is None or again.json()["answer"].get("message") is None
        frame = inbox.next("message", lambda f: f["message"]["text"] == "Thanks Ana")
        assert frame["message"]["seq"] > got["seq"]

        # Each side saw what is stored, in order, each message once.
        widget.next("message", lambda f: f["message"]["text"] == "Thanks Ana")
        with tenant_context(workspace.tenant):
            stored = list(
                Message.objects.filter(conversation_id=conversation_id)
                .order_by("seq")
                .values_list("seq", "role")
            )
        # The system line is the agent joining (their reply took the conversation over).
        assert [role for _, role in stored] == ["visitor", "bot", "system", "agent", "visitor"]
        for side in (widget, inbox):
            seen = [f["message"]["seq"] for f in side.seen if f["type"] == "message"]
            assert seen == [seq for seq, _ in stored], side.seen
    finally:
        inbox.close()
        widget.close()


def test_a_source_added_through_one_web_process_is_ingested_by_the_worker(cluster, workspace):
    key = api_key(workspace)
    with tenant_context(workspace.tenant):
        kb = KnowledgeBase.objects.order_by("pk").first()
    phrase = f"zephyrine-{uuid.uuid4().hex[:6]}"
    created = call(
        cluster.port_a,
        "POST",
        f"/api/v1/knowledge-bases/{kb.pk}/sources",
        host=workspace.host,
        headers={"Authorization": f"Bearer {key}"},
        body={
            "kind": "text",
            "title": "Returns",
            "text": f"# Returns\n\nParcels marked {phrase} go back to the depot in Leeds within ten days.",
        },
    )
    assert created.status == 201, created.body
    assert created.json()["status"] == "queued"  # queued by A, not run there
    source_id = created.json()["id"]
    try:

        def ready() -> Source | None:
            with tenant_context(workspace.tenant):
                source = Source.objects.get(pk=source_id)
            assert source.status != "failed", source.error
            return source if source.status == "ready" else None

        wait_until(ready, timeout=120, what="the source's ingestion")
        # It ran on the worker: its log has the task, received from the broker and finished.
        wait_until(
            lambda: worker_ran(cluster, "knowledge.tasks.source_ingest_task"),
            timeout=30,
            what="the worker's log",
        )
        assert "source_ingest_task" not in cluster.web_a.log_text()

        for port in (cluster.port_b, cluster.port_a):  # searchable from either web process
            found = call(
                port,
                "POST",
                f"/api/v1/knowledge-bases/{kb.pk}/search",
                host=workspace.host,
                headers={"Authorization": f"Bearer {key}"},
                body={"query": f"where do parcels marked {phrase} go back to?"},
                timeout=90,  # the first search of a process loads the embedding model
            )
            assert found.status == 200, found.body
            passages = found.json()["passages"]
            assert passages and passages[0]["source_id"] == source_id
            assert phrase in passages[0]["text"]
            assert set(passages[0]["ranks"]) == {"vector", "text"}  # embedded by the worker, found by both

    finally:  # the bot's later answers are not about this
        with tenant_context(workspace.tenant):
            Source.objects.filter(pk=source_id).delete()


def test_an_api_key_s_rate_limit_counts_across_web_processes(cluster, workspace):
    """Requests alternate between A and B: one count in Redis, the limit at exactly
    ``KEY_LIMIT``. The limit counts in fixed minutes: a run that crossed one goes again."""
    for _attempt in range(2):
        key = api_key(workspace)
        window = int(time.time() // 60)
        answers = [
            call(
                cluster.port_a if n % 2 == 0 else cluster.port_b,
                "GET",
                "/api/v1/knowledge-bases",
                host=workspace.host,
                headers={"Authorization": f"Bearer {key}"},
            )
            for n in range(KEY_LIMIT + 2)
        ]
        if int(time.time() // 60) == window:
            break
    statuses = [a.status for a in answers]
    assert statuses == [200] * KEY_LIMIT + [429, 429]
    remaining = [int(a.headers["ratelimit-remaining"]) for a in answers[:KEY_LIMIT]]
    assert remaining == list(range(KEY_LIMIT - 1, -1, -1))
    assert answers[KEY_LIMIT].json()["code"] == "rate_limited"
    assert int(answers[KEY_LIMIT].headers["retry-after"]) >= 1


def test_an_idempotency_key_sent_to_both_web_processes_creates_one_object(cluster, workspace):
    key = api_key(workspace)
    headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": str(uuid.uuid4())}
    body = {"shortcut": "processes-hello", "title": "Hello", "text": "Hello, how can I help?"}
    first = call(
        cluster.port_a, "POST", "/api/v1/canned-replies", host=workspace.host, headers=headers, body=body
    )
    assert first.status == 201, first.body
    assert "idempotent-replayed" not in first.headers
    retry = call(
        cluster.port_b, "POST", "/api/v1/canned-replies", host=workspace.host, headers=headers, body=body
    )
    assert (retry.status, retry.json()) == (201, first.json())
    assert retry.headers["idempotent-replayed"] == "true"
    with tenant_context(workspace.tenant):
        assert CannedReply.objects.filter(shortcut="processes-hello").count() == 1


def test_beat_and_the_worker_are_seen_by_the_web_and_scheduled_jobs_run_on_the_worker(cluster):
    for port in (cluster.port_a, cluster.port_b):
        ready = call(port, "GET", "/readyz", host=PUBLIC)
        assert ready.status == 200
        assert ready.json()["checks"]["beat"] == "ok"
        assert ready.json()["checks"]["workers"] == "ok"
    run = wait_until(
        lambda: TaskRun.objects.filter(
            entry_name="chat-unanswered-sweep", worker__startswith=cluster.worker_name, outcome="success"
        ).first(),
        timeout=30,
        what="a run of the sweep sent by beat",
    )
    assert run.trigger == TaskRun.Trigger.BEAT


def test_a_web_process_killed_mid_answer_loses_nothing(cluster, workspace, llm):
    """The visitor's answer streams from A; A is SIGKILLed after its first words. The visitor
    follows the conversation on B from the last number seen: the answer arrives whole, written
    by the worker (the sweep finds the message left unanswered once A's claim has expired)."""
    visitor = make_visitor(workspace.tenant)
    answer = "Your parcel left our depot this morning and arrives tomorrow."
    gate = threading.Event()  # A's provider stream stops after its first words, until A is gone
    llm.enqueue(Behaviour(text=answer, gate=gate))
    llm.default = Behaviour(text=answer)
    question = {"text": "Where is my parcel?", "client_message_id": "parcel-1"}
    stream = EventStream(
        cluster.port_a,
        visitor.messages_path,
        host=PUBLIC,
        headers=visitor_headers(visitor),
        method="POST",
        body=question,
    )
    try:
        stored = stream.wait_for("message").data
        first_words = stream.wait_for("delta").data["text"]
        assert answer.startswith(first_words) and first_words != answer
        cluster.web_a.popen.send_signal(signal.SIGKILL)
        cluster.web_a.popen.wait(10)
    finally:
        gate.set()
        stream.close()
    assert stored["role"] == "visitor" and stored["text"] == question["text"]

    # The visitor resumes on B after the last message it saw.
    resumed = EventStream(
        cluster.port_b,
        visitor.path("events"),
        host=PUBLIC,
        headers=visitor_headers(visitor, **{"Last-Event-ID": str(stored["seq"])}),
    )
    try:
        got = resumed.wait_for("message", lambda m: m["role"] == "bot", timeout=45)
    finally:
        resumed.close()
    assert got.data["text"] == answer
    assert [e.data["seq"] for e in resumed.events if e.event == "message"] == [stored["seq"] + 1]
    wait_until(
        lambda: worker_ran(cluster, "chat.answering.owed_settle.answer_owed"),
        timeout=30,
        what="the worker's log",
    )

    # The widget sending the message again (same client id) gets the same answer, once.
    again = call(
        cluster.port_b,
        "POST",
        visitor.messages_path,
        host=PUBLIC,
        headers=visitor_headers(visitor),
        body=question,
    )
    assert again.status == 200, again.body
    assert again.json()["answer"]["message"]["text"] == answer
    with tenant_context(workspace.tenant):
        messages = list(
            Message.objects.filter(conversation_id=visitor.conversation.pk)
            .order_by("seq")
            .values_list("role", "text", "reply_to_id")
        )
        question_id = Message.objects.get(conversation_id=visitor.conversation.pk, role="visitor").pk
    assert messages == [("visitor", question["text"], None), ("bot", answer, question_id)]
