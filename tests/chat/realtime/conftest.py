import pytest


@pytest.fixture(autouse=True)
def _consumers_keep_the_test_connection(monkeypatch):
    """Channels' consumers close the thread's stale connections around each event (as a
    request's end does for HTTP). In a test that would close the test's own connection and
    its transaction; Django's test client skips the same for requests (tests/asgi.py)."""

    async def keep() -> None:
        return None

    monkeypatch.setattr("channels.consumer.aclose_old_connections", keep)
    monkeypatch.setattr("channels.generic.websocket.aclose_old_connections", keep)


@pytest.fixture(autouse=True)
def _wake_ups_as_if_committed(monkeypatch):
    """The test's transaction never commits, and the consumers' own writes (read receipts,
    heartbeats) run inside it: their wake-ups go out at once, as they would after commit.
    (tests/chat/test_realtime_events.py proves they wait for the commit.)"""
    from chat.realtime import events

    monkeypatch.setattr(events, "publish", events.send_now)


@pytest.fixture(autouse=True)
def _a_channel_layer_of_their_own(monkeypatch):
    """A fresh channel layer for the test: Redis' layer receives on one event loop at a time,
    and the browser tests' ASGI server (a thread of this process, started once) may still
    hold the shared one."""
    from channels.layers import channel_layers

    monkeypatch.setitem(channel_layers.backends, "default", channel_layers.make_backend("default"))
