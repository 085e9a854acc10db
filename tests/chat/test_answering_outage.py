"""The database goes away while an answer streams: the stream ends with an ``error``
event (service_unavailable) instead of hanging for the ``done`` that can never be stored,
and nothing logs a traceback.

A workspace of its own, committed (the connection the test cuts cannot carry a test
transaction), deleted afterwards as the browser tests do.
"""

from __future__ import annotations

import logging
import threading
import time

import pytest
from celery.exceptions import Retry
from django.core.cache import cache
from django.db import OperationalError, connection
from django_tenants.utils import tenant_context

# Imported before any test runs: its first import sets Django up again, which reconfigures
# logging and would take caplog's handler away in the middle of a test.
import saas.asgi  # noqa: F401
from chat.answering import answer_in_progress, answers_owed_pending, claim_key, owed, prepare
from chat.answering.owed_settle import answer_owed
from chat.models import Conversation, Message
from chat.services.messages import visitor_message_send
from chat.widget_api.selectors import conversation_awaiting_answer
from tenants.models import User
from tenants.services import tenant_delete
from tests.chat.visitors import ORIGIN, asgi_post, make_visitor
from tests.db_proxy import database_behind_proxy
from tests.fakes.llm_server import Behaviour
from tests.tenants.factories import TenantFactory


@pytest.fixture
def worker_copies(monkeypatch) -> list[tuple]:
    """The copies of owed answers sent to the broker for a worker, recorded instead of sent:
    a task published from another thread of this process would leave the suite's own Celery
    client waiting on results it never gets (the worker's side: the test of ``answer_owed``)."""
    sent: list[tuple] = []
    monkeypatch.setattr(owed, "_worker_copy", lambda *args: sent.append(args))
    return sent


@pytest.fixture
def outage_tenant(seeded, django_db_blocker, worker_copies):
    with database_behind_proxy(django_db_blocker) as proxy:
        last_user = User.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        tenant = TenantFactory(slug="stream-outage")
        try:
            yield tenant, proxy
        finally:
            proxy.restore()
    with django_db_blocker.unblock():
        tenant_delete(tenant=tenant, by=None)
        User.objects.filter(pk__gt=last_user).delete()


def test_the_answer_stream_ends_with_an_error_event_when_the_database_goes(outage_tenant, fake_llm, caplog):
    tenant, proxy = outage_tenant
    visitor = make_visitor(tenant)
    gate = threading.Event()
    fake_llm.enqueue(Behaviour(chunks=["Orders ", "ship ", "soon."], gate=gate))

    def on_chunk(chunk: bytes) -> None:
        if b"event: delta" in chunk and not gate.is_set():
            proxy.cut()  # the answer cannot be stored now
            gate.set()

    result = asgi_post(
        visitor.messages_path,
        {"text": "When do orders ship?"},
        {
            "host": "saas.test",
            "origin": ORIGIN,
            "authorization": f"Bearer {visitor.token}",
            "accept": "text/event-stream",
        },
        on_chunk=on_chunk,
    )

    assert result.status == 200
    events = result.events()
    kinds = [kind for kind, _ in events]
    assert "delta" in kinds and "done" not in kinds
    assert kinds[-1] == "error"
    assert events[-1][1]["code"] == "service_unavailable"
    lines = [r.getMessage() for r in caplog.records if r.name == "saas.dependencies"]
    assert len(lines) == 1 and lines[0].startswith("database unreachable")
    assert [r.getMessage() for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR] == []


def _reply_when_stored(tenant, message_id: int, *, timeout: float = 30.0):
    """The answer to ``message_id`` once the owed answer has been stored (polled)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        connection.close()  # the test's own connection went down with the proxy too
        try:
            with tenant_context(tenant):
                reply = Message.objects.filter(reply_to_id=message_id).first()
        except OperationalError:
            reply = None
        if reply is not None:
            return reply
        time.sleep(0.2)
    raise AssertionError(f"no answer stored for message {message_id} within {timeout} s")


def test_the_answer_written_before_the_outage_is_stored_once_the_database_is_back(
    outage_tenant, fake_llm, worker_copies
):
    """The provider answered, storing it failed: the process stores that very text when
    the database returns, without calling the provider again."""
    tenant, proxy = outage_tenant
    visitor = make_visitor(tenant)
    gate = threading.Event()
    fake_llm.enqueue(Behaviour(chunks=["Orders ", "ship ", "soon."], gate=gate))

    def on_chunk(chunk: bytes) -> None:
        if b"event: delta" in chunk and not gate.is_set():
            proxy.cut()
            gate.set()

    result = asgi_post(
        visitor.messages_path,
        {"text": "When do orders ship?", "client_message_id": "owed-1"},
        {
            "host": "saas.test",
            "origin": ORIGIN,
            "authorization": f"Bearer {visitor.token}",
            "accept": "text/event-stream",
        },
        on_chunk=on_chunk,
    )
    events = result.events()
    assert events[-1][0] == "error"
    [message_id] = [m for schema, m in answers_owed_pending() if schema == tenant.schema_name]
    with tenant_context(tenant):  # (the cache only: the database is still down)
        assert answer_in_progress(message_id)  # the widget's poll keeps waiting for it
    time.sleep(2.5)  # tried at least once while still down: it waits, it does not give up
    assert (tenant.schema_name, message_id) in answers_owed_pending()
    proxy.restore()

    reply = _reply_when_stored(tenant, message_id)
    assert worker_copies == [(tenant.schema_name, tenant.pk, visitor.conversation.pk, message_id)]
    assert reply.text == "Orders ship soon."
    assert reply.outcome == "answered"
    assert len([r for r in fake_llm.requests if r.api == "anthropic"]) == 1  # not asked twice
    with tenant_context(tenant):
        assert Message.objects.filter(conversation_id=visitor.conversation.pk, role="bot").count() == 1
        state = conversation_awaiting_answer(Conversation.objects.get(pk=visitor.conversation.pk))
    assert state is None  # the widget, polling, stops waiting


def test_an_owed_answer_is_made_by_the_worker_exactly_once(db, seeded, fake_llm):
    """The broker's copy (the web process died before the database came back): the worker
    makes the answer as the request would have, once; a second run finds it stored."""
    tenant = seeded["a"].tenant
    visitor = make_visitor(seeded["a"])
    with tenant_context(tenant):
        message, _ = visitor_message_send(conversation=visitor.conversation, text="Do you ship abroad?")
        args = (tenant.pk, visitor.conversation.pk, message.pk)
        cache.add(claim_key(message.pk), 1)  # another request is answering it now
        with pytest.raises(Retry):  # tried again later
            answer_owed.apply(args=args)
        cache.delete(claim_key(message.pk))

        assert answer_owed.apply(args=args).get() == "done"
        assert answer_owed.apply(args=args).get() == "done"
        replies = list(Message.objects.filter(reply_to_id=message.pk))
    assert len(replies) == 1 and replies[0].text
    assert len([r for r in fake_llm.requests if r.api == "anthropic"]) == 1


def test_a_message_stored_before_the_outage_is_answered_once_the_database_is_back(
    outage_tenant, fake_llm, monkeypatch
):
    """The database goes between storing the visitor message and preparing its answer: the
    request gets 503, and the process answers the stored message when the database returns."""
    tenant, proxy = outage_tenant
    visitor = make_visitor(tenant)
    retrieve = prepare.relevant_passages

    def cut_then_retrieve(*args, **kwargs):
        proxy.cut()
        return retrieve(*args, **kwargs)

    monkeypatch.setattr(prepare, "relevant_passages", cut_then_retrieve)
    result = asgi_post(
        visitor.messages_path,
        {"text": "Do you ship abroad?", "client_message_id": "owed-2"},
        {"host": "saas.test", "origin": ORIGIN, "authorization": f"Bearer {visitor.token}"},
    )
    assert result.status == 503
    [message_id] = [m for schema, m in answers_owed_pending() if schema == tenant.schema_name]
    monkeypatch.setattr(prepare, "relevant_passages", retrieve)
    proxy.restore()

    reply = _reply_when_stored(tenant, message_id)
    assert reply.outcome == "answered" and reply.text
    assert len([r for r in fake_llm.requests if r.api == "anthropic"]) == 1
