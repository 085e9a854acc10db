"""The database goes away while an answer streams: the stream ends with an ``error``
event (service_unavailable) instead of hanging for the ``done`` that can never be stored,
and nothing logs a traceback.

A workspace of its own, committed (the connection the test cuts cannot carry a test
transaction), deleted afterwards as the browser tests do.
"""

from __future__ import annotations

import logging
import threading

import pytest

# Imported before any test runs: its first import sets Django up again, which reconfigures
# logging and would take caplog's handler away in the middle of a test.
import saas.asgi  # noqa: F401
from tenants.models import User
from tenants.services import tenant_delete
from tests.chat.visitors import ORIGIN, asgi_post, make_visitor
from tests.db_proxy import database_behind_proxy
from tests.fakes.llm_server import Behaviour
from tests.tenants.factories import TenantFactory


@pytest.fixture
def outage_tenant(seeded, django_db_blocker):
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
