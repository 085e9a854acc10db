"""saas.shutdown in this process: the states, the chained SIGTERM handler, the lifespan
protocol, /readyz while draining. The real server on SIGTERM: tests/chat/test_shutdown.py."""

from __future__ import annotations

import asyncio
import signal
import threading

import pytest

from saas import shutdown


@pytest.fixture(autouse=True)
def serving():
    shutdown.reset()
    yield
    shutdown.reset()


@pytest.fixture
def sigterm_restored():
    original = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, original)


def test_readyz_answers_503_draining_once_sigterm_is_received(client, db):
    assert client.get("/readyz").status_code == 200

    shutdown.drain_begin()

    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"draining": "error"}
    assert response.json()["status"] == "error"
    assert client.get("/healthz").status_code == 200  # alive: not to be restarted


def test_sigterm_drains_then_hands_over_to_the_servers_own_handler(settings, sigterm_restored):
    settings.SHUTDOWN_UNREADY_SECONDS = 0
    settings.SHUTDOWN_GRACE_SECONDS = 0
    received: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, frame: received.append(signum))  # the server's

    async def scenario():
        assert shutdown.install(asyncio.get_running_loop())
        stopped = asyncio.ensure_future(shutdown.stop_requested())
        grace_over = asyncio.Event()
        shutdown.at_grace_end(grace_over.set)
        await asyncio.sleep(0)
        assert not stopped.done() and not shutdown.draining()

        signal.raise_signal(signal.SIGTERM)
        assert shutdown.draining()  # at once, inside the handler: /readyz says 503
        await asyncio.wait_for(stopped, 10)
        assert shutdown.stopping() and received == [signal.SIGTERM]
        await asyncio.wait_for(grace_over.wait(), 10)

        await shutdown.stop_requested()  # already stopping: returns at once

    asyncio.run(scenario())


def test_the_server_stops_accepting_only_after_the_unready_seconds(settings, sigterm_restored):
    settings.SHUTDOWN_UNREADY_SECONDS = 0.2
    received: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, frame: received.append(signum))

    async def scenario():
        shutdown.install(asyncio.get_running_loop())
        signal.raise_signal(signal.SIGTERM)
        await asyncio.sleep(0)
        assert shutdown.state() == shutdown.DRAINING and received == []
        await asyncio.wait_for(shutdown.stop_requested(), 10)
        assert received == [signal.SIGTERM]

    asyncio.run(scenario())


def test_a_second_sigterm_stops_at_once(settings, sigterm_restored):
    settings.SHUTDOWN_UNREADY_SECONDS = 3600
    received: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, frame: received.append(signum))

    async def scenario():
        shutdown.install(asyncio.get_running_loop())
        signal.raise_signal(signal.SIGTERM)
        await asyncio.sleep(0)
        assert shutdown.state() == shutdown.DRAINING
        signal.raise_signal(signal.SIGTERM)
        await asyncio.wait_for(shutdown.stop_requested(), 10)
        assert received == [signal.SIGTERM]

    asyncio.run(scenario())


def test_nothing_is_installed_off_the_main_thread_or_over_a_default_handler(sigterm_restored):
    loop = asyncio.new_event_loop()
    try:
        installed = []
        thread = threading.Thread(target=lambda: installed.append(shutdown.install(loop)))
        thread.start()
        thread.join()
        assert installed == [False]  # a server in a thread (the browser tests' uvicorn)

        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        assert shutdown.install(loop) is False
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    finally:
        loop.close()


def test_the_lifespan_protocol_installs_the_drain_at_startup(sigterm_restored):
    signal.signal(signal.SIGTERM, lambda signum, frame: None)  # uvicorn's, around serve()
    sent: list[dict] = []

    async def scenario():
        messages = asyncio.Queue()
        for kind in ("lifespan.startup", "lifespan.shutdown"):
            messages.put_nowait({"type": kind})

        async def send(message):
            sent.append(message)

        await shutdown.lifespan({"type": "lifespan"}, messages.get, send)

    asyncio.run(scenario())
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert getattr(signal.getsignal(signal.SIGTERM), "__name__", "") == "on_sigterm"


def test_a_callback_registered_after_the_grace_period_runs_at_once(settings):
    settings.SHUTDOWN_GRACE_SECONDS = 0

    async def scenario():
        first = asyncio.Event()
        shutdown.at_grace_end(first.set)
        shutdown.drain_begin()
        shutdown.stop_begin()
        await asyncio.wait_for(first.wait(), 10)  # the grace period is over
        ran = asyncio.Event()
        shutdown.at_grace_end(ran.set)
        await asyncio.wait_for(ran.wait(), 10)

    asyncio.run(scenario())
