"""Open sockets in the metrics: a visitor's socket counts while open, by kind, and stops
counting when it closes."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from tests.chat.realtime.sockets import run_sockets, visitor_socket
from tests.chat.visitors import make_visitor

pytestmark = pytest.mark.django_db


def _open(kind: str) -> float:
    return REGISTRY.get_sample_value("saas_realtime_open_connections", {"kind": kind}) or 0.0


def test_an_open_visitor_socket_is_counted_until_it_closes(tenant_a):
    visitor = make_visitor(tenant_a)
    before = _open("websocket_visitor")

    async def scenario():
        socket = visitor_socket(visitor.widget.key)
        assert (await socket.connect())[0]
        assert _open("websocket_visitor") == before + 1
        await socket.disconnect()

    run_sockets(scenario)
    assert _open("websocket_visitor") == before
