"""chat.realtime.events.send_now from a sync view under ASGI: the sends are handed to the
server's loop and go out in the order they were made, also across groups (an agent's socket
is in its workspace's inbox group and in its own), even when one send is slow; a layer that
has just failed is not asked again for every queued wake-up."""

from __future__ import annotations

import asyncio
import threading

import pytest
from asgiref.sync import SyncToAsync
from channels.layers import InMemoryChannelLayer

from chat.realtime import events


class _SlowFirstLayer(InMemoryChannelLayer):
    """The in-memory layer whose first send takes a while (a Redis round trip under load)."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[int] = []
        self.failing = False
        self.slow_every_time = False

    async def group_send(self, group, message):
        if self.failing:
            raise ConnectionError("layer down")
        if not self.sent or self.slow_every_time:
            await asyncio.sleep(0.05)
        self.sent.append(message["n"])
        await super().group_send(group, message)


@pytest.fixture
def server_loop(monkeypatch):
    """A running loop in a thread of its own, taken by this thread as the server's (as a
    sync view's thread under ASGI has it)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    monkeypatch.setattr(SyncToAsync.threadlocal, "main_event_loop", loop, raising=False)
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=5)


def _drained(loop: asyncio.AbstractEventLoop) -> None:
    async def idle() -> None:
        outgoing = events._outgoing.get(loop)
        while outgoing is not None and outgoing.task is not None and not outgoing.task.done():
            await asyncio.sleep(0.01)

    asyncio.run_coroutine_threadsafe(idle(), loop).result(timeout=10)


def test_sends_handed_to_the_server_loop_keep_their_order(server_loop, monkeypatch):
    layer = _SlowFirstLayer()
    monkeypatch.setattr(events, "get_channel_layer", lambda: layer)
    for n in range(20):
        events.send_now("s.inbox" if n % 2 else f"s.agent.{n}", {"type": "inbox.notify", "n": n})
    _drained(server_loop)
    assert layer.sent == list(range(20))


def test_a_failed_layer_is_not_asked_again_for_each_queued_send(server_loop, monkeypatch, caplog):
    layer = _SlowFirstLayer()
    layer.sent.append(-1)  # no slow first send
    layer.failing = True
    tried = []
    original = layer.group_send

    async def counted(group, message):
        tried.append(message["n"])
        await original(group, message)

    monkeypatch.setattr(layer, "group_send", counted)
    monkeypatch.setattr(events, "get_channel_layer", lambda: layer)
    monkeypatch.setattr(events._LayerState, "down", False)
    try:
        for n in range(50):
            events.send_now("s.inbox", {"type": "inbox.notify", "n": n})
        _drained(server_loop)
        assert tried == [0]  # the rest were dropped: sockets catch up from the database
        assert [r.getMessage() for r in caplog.records if "channel layer" in r.getMessage()] == [
            "realtime: channel layer unreachable (ConnectionError: layer down); clients poll until it answers"
        ]
    finally:
        events.layer_answered()


def test_a_send_from_sync_code_that_a_loop_of_its_own_runs_is_not_lost(monkeypatch):
    """A Celery worker storing an answer (``answer_collect`` from sync code): the services'
    sends are queued on the loop ``async_to_sync`` made, which is closed as soon as the answer
    returns. They are sent before it closes, or the visitor's socket in a web process would
    never hear of the stored answer."""
    from asgiref.sync import sync_to_async

    from chat.answering.stream import run_from_sync

    layer = _SlowFirstLayer()
    layer.slow_every_time = True
    monkeypatch.setattr(events, "get_channel_layer", lambda: layer)

    async def answer() -> str:
        # The answer stored on the thread's database connection, its wake-up sent after commit.
        await sync_to_async(
            lambda: events.send_now("s.conv.1", {"type": "conv.message", "n": 1}), thread_sensitive=True
        )()
        return "stored"

    def worker() -> None:  # no loop of a server here, as in a worker process
        # Twice: the second time the thread still names the first answer's (closed) loop.
        results.extend([run_from_sync(answer), run_from_sync(answer)])

    results: list[str] = []
    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(timeout=10)
    assert results == ["stored", "stored"]
    assert layer.sent == [1, 1]
