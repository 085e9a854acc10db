"""Realtime benchmarks (`make bench BENCH_ARGS=realtime` or `python -m bench realtime`).

Real processes: two uvicorn servers of the platform on one Redis (the channel layer), a
third one for the idle sockets, and two of a bare Channels echo (``bench.realtime_echo``)
as the baseline; this process is the client (``websockets``, ``httpx2``).

1. Delivery latency across the two processes, p50/p95 (target p95 <= 50 ms):
   agent -> visitor (an agent reply POSTed over HTTP to process 1, with an API key, until
   the visitor's socket on process 2 gets the ``message`` frame), visitor -> agent (the
   visitor's message POSTed to the widget API on process 2, until the agent's socket on
   process 1 gets it), typing frames both ways (socket to socket, a pure transport figure),
   against the bare echo (socket on process 1, group_send, socket on process 2) in the same
   run, with the ratios.
2. 1,000 idle visitor sockets (each past ``hello``) on one process: its RSS before and
   after (VmRSS) -> memory per connection (target <= 64 KB), and its CPU at rest over 30 s.
3. 10,000 agent replies while the visitors' sockets drop (abruptly or not) and reconnect
   with the last number they saw: lost 0, duplicated 0, checked against the database.

Own database ``saas_bench_realtime`` (recreated); Redis from REDIS_URL, else
redis://127.0.0.1:6379/6. Smaller runs: BENCH_RT_ROUNDS (300), BENCH_RT_IDLE (1000),
BENCH_RT_IDLE_SECONDS (30), BENCH_RT_MESSAGES (10000), BENCH_RT_CHAOS_VISITORS (50).
Figures also go to ``bench/results/realtime.json``.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from bench.realtime_servers import (
    LAYER_URL,
    ORIGIN,
    PUBLIC,
    REDIS_URL,
    WORKSPACE,
    Server,
    Setup,
    fd_limit_raise,
    setup_data,
    uvicorn_start,
    visible_seqs,
)
from bench.tenancy import RESULTS

ROUNDS = int(os.environ.get("BENCH_RT_ROUNDS", "300"))
WARMUP = 30
IDLE = int(os.environ.get("BENCH_RT_IDLE", "1000"))
IDLE_SECONDS = float(os.environ.get("BENCH_RT_IDLE_SECONDS", "30"))
MESSAGES = int(os.environ.get("BENCH_RT_MESSAGES", "10000"))
CHAOS_VISITORS = int(os.environ.get("BENCH_RT_CHAOS_VISITORS", "50"))
POSTERS = 12
LAYER_CHECK_SOCKETS = 300
TIMEOUT = 10.0
PAIRS, PACE = 20, 0.05  # typing and echo rounds: 20 frames a second over 20 socket pairs


# --- clients -------------------------------------------------------------------------------


def _pcts(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)

    def pct(q: float) -> float:
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    return {"n": len(ordered), "p50": pct(0.5), "p95": pct(0.95), "p99": pct(0.99)}


async def _ws(port: int, path: str, *, host: str, origin: str, cookie: str = "") -> Any:
    from websockets.asyncio.client import connect

    headers = {"Cookie": cookie} if cookie else None
    return await connect(
        f"ws://{host}{path}",
        host="127.0.0.1",
        port=port,
        origin=origin,  # type: ignore[arg-type]
        additional_headers=headers,
        ping_interval=None,
        open_timeout=TIMEOUT,
        max_queue=None,
    )


async def _visitor(port: int, setup: Setup, person: dict[str, Any], after: int = 0) -> tuple[Any, list[dict]]:
    """A visitor's socket past ``hello``; returns it and the frames of the replay."""
    ws = await _ws(port, f"/ws/widget/v1/{setup.widget_key}", host=PUBLIC, origin=ORIGIN)
    await ws.send(
        json.dumps(
            {
                "type": "hello",
                "token": person["token"],
                "conversation": person["conversation"],
                "after": after,
            }
        )
    )
    ready = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
    if ready.get("type") != "ready":
        raise RuntimeError(f"visitor hello refused: {ready}")
    return ws, []


async def _agent(port: int, setup: Setup) -> Any:
    return await _ws(
        port, "/ws/agent/", host=WORKSPACE, origin=f"http://{WORKSPACE}", cookie=setup.session_cookie
    )


class Inbox:
    """Reads a socket in the background; ``expect(match)`` is a future resolved with the
    arrival time of the first frame ``match`` accepts from then on."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.waiting: list[tuple[Any, asyncio.Future[float]]] = []
        self.task = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            async for raw in self.ws:
                now = time.perf_counter()
                frame = json.loads(raw)
                for entry in list(self.waiting):
                    if entry[0](frame) and not entry[1].done():
                        entry[1].set_result(now)
                        self.waiting.remove(entry)
        except ConnectionClosed as closed:
            for _match, future in self.waiting:
                if not future.done():
                    future.set_exception(RuntimeError(f"the server closed the socket: {closed}"))

    def expect(self, match: Any) -> asyncio.Future[float]:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiting.append((match, future))
        return future

    async def close(self) -> None:
        self.task.cancel()
        await self.ws.close()


def _message_text(text: str) -> Any:
    return lambda f: f.get("type") == "message" and f["message"].get("text") == text


def _typing_from(who: str) -> Any:
    return lambda f: f.get("type") == "typing" and f.get("who") == who


async def _pair(p1: Server, p2: Server, setup: Setup, person: dict[str, Any]) -> tuple[Inbox, Inbox, int]:
    """A visitor's socket on process 2 and an agent's on process 1 watching its conversation."""
    visitor_ws, _ = await _visitor(p2.port, setup, person)
    agent_ws = await _agent(p1.port, setup)
    await agent_ws.send(json.dumps({"type": "subscribe", "conversation": person["conversation"], "after": 0}))
    return Inbox(visitor_ws), Inbox(agent_ws), person["conversation"]


async def _timed(rounds: int, one: Any, *, pace: float = 0.0) -> list[float]:
    """``one(i)``'s times in ms after WARMUP rounds, a round at most every ``pace`` s."""
    timings = []
    for i in range(rounds + WARMUP):
        begun = time.perf_counter()
        elapsed = await one(i)
        if i >= WARMUP:
            timings.append(elapsed * 1000)
        await asyncio.sleep(max(0.0, pace - (time.perf_counter() - begun)))
    return timings


async def latency(p1: Server, p2: Server, echo: tuple[Server, Server], setup: Setup) -> dict[str, Any]:
    import httpx2

    pairs = [await _pair(p1, p2, setup, setup.visitors[0])]
    visitor, agent, conversation = pairs[0]
    person = setup.visitors[0]
    await asyncio.sleep(0.5)
    api = httpx2.AsyncClient(base_url=f"http://127.0.0.1:{p1.port}", timeout=TIMEOUT)
    widget = httpx2.AsyncClient(base_url=f"http://127.0.0.1:{p2.port}", timeout=TIMEOUT)
    posts: list[float] = []
    sends: list[float] = []

    async def agent_to_visitor(i: int) -> float:
        text = f"a2v-{i}"
        arrived = visitor.expect(_message_text(text))
        started = time.perf_counter()
        response = await api.post(
            f"/api/v1/conversations/{conversation}/messages",
            json={"text": text},
            headers={"Host": WORKSPACE, "Authorization": f"Bearer {setup.api_key}"},
        )
        posts.append((time.perf_counter() - started) * 1000)
        if response.status_code != 201:
            raise RuntimeError(f"agent reply: {response.status_code} {response.text[:200]}")
        return await asyncio.wait_for(arrived, TIMEOUT) - started

    async def visitor_to_agent(i: int) -> float:
        text = f"v2a-{i}"
        arrived = agent.expect(_message_text(text))
        started = time.perf_counter()
        response = await widget.post(
            f"/api/widget/v1/{setup.widget_key}/conversations/{conversation}/messages",
            json={"text": text},
            headers={"Host": PUBLIC, "Origin": ORIGIN, "Authorization": f"Bearer {person['token']}"},
        )
        sends.append((time.perf_counter() - started) * 1000)
        if response.status_code not in (200, 201):
            raise RuntimeError(f"visitor message: {response.status_code} {response.text[:200]}")
        return await asyncio.wait_for(arrived, TIMEOUT) - started

    async def typing_to_agent(i: int) -> float:
        to_visitor, to_agent, _conversation = pairs[i % PAIRS]
        arrived = to_agent.expect(_typing_from("visitor"))
        started = time.perf_counter()
        await to_visitor.ws.send(json.dumps({"type": "typing", "typing": False}))  # "off" is never throttled
        return await asyncio.wait_for(arrived, TIMEOUT) - started

    async def typing_to_visitor(i: int) -> float:
        to_visitor, to_agent, pair_conversation = pairs[i % PAIRS]
        arrived = to_visitor.expect(_typing_from("agent"))
        started = time.perf_counter()
        await to_agent.ws.send(
            json.dumps({"type": "typing", "conversation": pair_conversation, "typing": False})
        )
        return await asyncio.wait_for(arrived, TIMEOUT) - started

    sender = Inbox(await _ws(echo[0].port, "/echo", host="127.0.0.1", origin="http://127.0.0.1"))
    receiver = Inbox(await _ws(echo[1].port, "/echo", host="127.0.0.1", origin="http://127.0.0.1"))
    await asyncio.sleep(0.3)

    async def bare_echo(i: int) -> float:
        text = f"echo-{i}"
        arrived = receiver.expect(lambda f: f.get("t") == text)
        started = time.perf_counter()
        await sender.ws.send(json.dumps({"t": text}))
        return await asyncio.wait_for(arrived, TIMEOUT) - started

    figures = {
        "echo": _pcts(await _timed(ROUNDS, bare_echo, pace=PACE)),
        "agent_to_visitor": _pcts(await _timed(ROUNDS, agent_to_visitor)),
        "agent_reply_http": {},
        "visitor_message_http": {},
        "visitor_to_agent": _pcts(await _timed(ROUNDS, visitor_to_agent)),
    }
    # Sockets allow 2 frames a second (chat.realtime.consumers): the typing rounds take turns
    # over PAIRS visitor/agent pairs, one round every PACE seconds. The other agents' sockets
    # open only now: each agent socket reads a summary per inbox change, one after the other,
    # and 20 of them through the message rounds queue far behind (see docs/benchmarks.md).
    pairs += [await _pair(p1, p2, setup, person) for person in setup.visitors[1:PAIRS]]
    await asyncio.sleep(2.0)
    figures |= {
        "typing_visitor_to_agent": _pcts(await _timed(ROUNDS, typing_to_agent, pace=PACE)),
        "typing_agent_to_visitor": _pcts(await _timed(ROUNDS, typing_to_visitor, pace=PACE)),
    }
    figures["agent_reply_http"] = _pcts(posts[WARMUP:])
    figures["visitor_message_http"] = _pcts(sends[WARMUP:])
    for inbox in (*(x for pair in pairs for x in pair[:2]), sender, receiver):
        await inbox.close()
    await api.aclose()
    await widget.aclose()
    return figures


async def idle(server: Server, setup: Setup, people: list[dict[str, Any]]) -> dict[str, Any]:
    warm, _ = await _visitor(server.port, setup, people[0])
    await warm.close()
    await asyncio.sleep(1.0)
    before = server.rss_kb()
    gate = asyncio.Semaphore(50)

    async def open_one(person: dict[str, Any]) -> Any:
        async with gate:
            ws, _ = await _visitor(server.port, setup, person)
            return ws

    started = time.perf_counter()
    sockets = await asyncio.gather(*(open_one(p) for p in people))
    opened_s = time.perf_counter() - started
    await asyncio.sleep(2.0)
    after = server.rss_kb()
    cpu_before = server.cpu_seconds()
    await asyncio.sleep(IDLE_SECONDS)
    cpu = server.cpu_seconds() - cpu_before
    still_open = await alive(sockets)
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    return {
        "sockets": len(sockets),
        "still_open": still_open,
        "opened_in_s": round(opened_s, 2),
        "rss_before_kb": before,
        "rss_after_kb": after,
        "kb_per_connection": round((after - before) / len(sockets), 1),
        "cpu_seconds": round(cpu, 3),
        "cpu_percent": round(100 * cpu / IDLE_SECONDS, 2),
        "idle_seconds": IDLE_SECONDS,
    }


async def idle_bare(server: Server, n: int) -> dict[str, Any]:
    """The echo's memory per idle socket: the floor of the stack (uvicorn, Channels, layer)."""
    before = server.rss_kb()
    gate = asyncio.Semaphore(50)

    async def open_one() -> Any:
        async with gate:
            return await _ws(server.port, "/echo", host="127.0.0.1", origin="http://127.0.0.1")

    sockets = await asyncio.gather(*(open_one() for _ in range(n)))
    await asyncio.sleep(2.0)
    after = server.rss_kb()
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    return {"sockets": n, "kb_per_connection": round((after - before) / n, 1)}


async def alive(sockets: list[Any]) -> int:
    """How many of these sockets still answer a ping frame with a pong (within 20 s: a
    thousand pings at once on a loaded machine take a while)."""

    async def one(ws: Any) -> bool:
        try:
            await ws.send(json.dumps({"type": "ping"}))
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 20))
                if frame.get("type") == "pong":
                    return True
        except Exception:  # closed, or no answer: not alive
            return False

    return sum(await asyncio.gather(*(one(ws) for ws in sockets)))


async def layer_check(server: Server, setup: Setup, people: list[dict[str, Any]], seconds: float) -> dict:
    """Visitor sockets opened together, idle, then closed together, on a server whose
    layer uses REDIS_URL as it is; the server's logged exceptions."""
    opened = await asyncio.gather(*(_visitor(server.port, setup, p) for p in people), return_exceptions=True)
    sockets = [o[0] for o in opened if not isinstance(o, BaseException)]
    await asyncio.sleep(seconds)
    answering = await alive(sockets)
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    await asyncio.sleep(2.0)
    return {
        "sockets": len(people),
        "hello_failed": len(people) - len(sockets),
        "idle_seconds": seconds,
        "alive": answering,
        "server_errors": server.errors(),
    }


@dataclass
class Chaos:
    received: dict[int, list[int]] = field(default_factory=dict)
    out_of_order: int = 0
    reconnects: int = 0
    aborts: int = 0
    errors: int = 0


async def _chaos_visitor(
    port: int, setup: Setup, person: dict[str, Any], stats: Chaos, stop: asyncio.Event
) -> None:
    got = stats.received.setdefault(person["conversation"], [])
    while True:
        final = stop.is_set()
        try:
            ws, _ = await _visitor(port, setup, person, after=got[-1] if got else 0)
        except Exception:
            stats.errors += 1
            await asyncio.sleep(0.2)
            continue
        lifetime = 3.0 if final else random.uniform(0.05, 1.5)
        deadline = time.monotonic() + lifetime
        try:
            while (left := deadline - time.monotonic()) > 0:
                try:
                    raw = await asyncio.wait_for(ws.recv(), left)
                except TimeoutError:
                    break
                frame = json.loads(raw)
                if frame.get("type") == "message":
                    seq = frame["message"]["seq"]
                    if got and seq <= got[-1]:
                        stats.out_of_order += 1
                    got.append(seq)
        except Exception:
            stats.errors += 1
        if final:
            await ws.close()
            return
        if random.random() < 0.5:
            ws.transport.abort()  # the network went away: no close handshake
            stats.aborts += 1
        else:
            await ws.close()
        stats.reconnects += 1
        await asyncio.sleep(random.uniform(0, 0.3))


async def chaos(p1: Server, p2: Server, setup: Setup, people: list[dict[str, Any]]) -> tuple[Chaos, float]:
    import httpx2

    stats, stop = Chaos(), asyncio.Event()
    visitors = [asyncio.ensure_future(_chaos_visitor(p2.port, setup, p, stats, stop)) for p in people]
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(MESSAGES):
        queue.put_nowait(n)
    api = httpx2.AsyncClient(base_url=f"http://127.0.0.1:{p1.port}", timeout=30)

    async def poster() -> None:
        while not queue.empty():
            n = queue.get_nowait()
            conversation = people[n % len(people)]["conversation"]
            for _attempt in range(5):  # a retry keeps its client_message_id: stored once
                try:
                    response = await api.post(
                        f"/api/v1/conversations/{conversation}/messages",
                        json={"text": f"chaos {n}", "client_message_id": f"chaos-{n}"},
                        headers={"Host": WORKSPACE, "Authorization": f"Bearer {setup.api_key}"},
                    )
                    if response.status_code in (200, 201):
                        break
                except Exception:  # noqa: S112 - retried
                    continue
            else:
                raise RuntimeError(f"reply {n} failed five times")

    started = time.perf_counter()
    await asyncio.gather(*(poster() for _ in range(POSTERS)))
    posted_s = time.perf_counter() - started
    stop.set()
    await asyncio.wait_for(asyncio.gather(*visitors), 120)
    await api.aclose()
    return stats, posted_s


# --- the run -------------------------------------------------------------------------------


def _line(label: str, figures: dict[str, float], echo: dict[str, float] | None = None) -> str:
    text = f"  {label:<34} p50 {figures['p50']:7.1f} ms   p95 {figures['p95']:7.1f} ms"
    if echo:
        text += f"   ({figures['p50'] / echo['p50']:.1f}x / {figures['p95'] / echo['p95']:.1f}x the echo)"
    return text


def _report_latency(lat: dict[str, Any]) -> None:
    echo = lat["echo"]
    print(f"\n1. Delivery latency across two processes on one Redis ({ROUNDS} each; target p95 <= 50 ms)")
    print(_line("bare Channels echo (baseline)", echo))
    print(_line("agent -> visitor (HTTP reply)", lat["agent_to_visitor"], echo))
    print(_line("   of which the reply's POST", lat["agent_reply_http"]))
    print(_line("visitor -> agent (HTTP message)", lat["visitor_to_agent"], echo))
    print(_line("   of which the message's POST", lat["visitor_message_http"]))
    print(_line("typing visitor -> agent", lat["typing_visitor_to_agent"], echo))
    print(_line("typing agent -> visitor", lat["typing_agent_to_visitor"], echo))


def main() -> int:
    fd_limit_raise()
    print(f"setting up {IDLE + CHAOS_VISITORS + 1} visitors ...", flush=True)
    setup = setup_data(IDLE + CHAOS_VISITORS + 1)
    app_env = {"DATABASE_POOL_MAX_SIZE": "30", "REDIS_URL": LAYER_URL}
    servers: list[Server] = []
    results: dict[str, Any] = {"redis": LAYER_URL.rsplit("@", 1)[-1]}
    try:
        # 0. the layer as configured, whatever the measured servers use
        plain = uvicorn_start("saas.asgi:application", {"DATABASE_POOL_MAX_SIZE": "30"})
        servers.append(plain)
        check = asyncio.run(layer_check(plain, setup, setup.visitors[1 : LAYER_CHECK_SOCKETS + 1], 12.0))
        plain.stop()
        results["layer_as_is"] = check
        print(
            f"\n0. REDIS_URL as it is ({REDIS_URL.rsplit('@', 1)[-1]}): {check['sockets']} visitor sockets "
            f"opened together, {check['hello_failed']} refused; {check['alive']} still answer after "
            f"{check['idle_seconds']:.0f} s idle; closed together. Server exceptions: {check['server_errors']}"
        )
        print(f"   the servers measured below use {LAYER_URL.rsplit('@', 1)[-1]}", flush=True)
        p1 = uvicorn_start("saas.asgi:application", app_env)
        p2 = uvicorn_start("saas.asgi:application", app_env)
        echo_env = {"BENCH_ECHO_REDIS_URL": LAYER_URL, "DJANGO_SETTINGS_MODULE": ""}
        echo = (
            uvicorn_start("bench.realtime_echo:application", echo_env),
            uvicorn_start("bench.realtime_echo:application", echo_env),
        )
        servers += [p1, p2, *echo]
        results["latency"] = asyncio.run(latency(p1, p2, echo, setup))
        _report_latency(results["latency"])

        p3 = uvicorn_start("saas.asgi:application", app_env)
        servers.append(p3)
        results["idle"] = asyncio.run(idle(p3, setup, setup.visitors[1 : IDLE + 1]))
        i = results["idle"]
        print(f"\n2. {i['sockets']} idle visitor sockets on one process (target <= 64 KB each)")
        print(
            f"  RSS {i['rss_before_kb'] / 1024:.1f} MB -> {i['rss_after_kb'] / 1024:.1f} MB: "
            f"{i['kb_per_connection']:.1f} KB per connection (opened in {i['opened_in_s']} s, "
            f"{i['still_open']} still open after the rest)"
        )
        print(
            f"  CPU at rest over {IDLE_SECONDS:.0f} s: {i['cpu_seconds']} s ({i['cpu_percent']} % of a core)"
        )
        results["idle_echo"] = asyncio.run(idle_bare(echo[1], IDLE))
        print(
            f"  the bare echo, as many sockets: {results['idle_echo']['kb_per_connection']:.1f} KB per connection"
        )

        people = setup.visitors[IDLE + 1 :]
        stats, posted_s = asyncio.run(chaos(p1, p2, setup, people))
        stored = visible_seqs(setup.schema, [p["conversation"] for p in people])
        lost = sum(len(set(stored[c]) - set(stats.received.get(c, []))) for c in stored)
        extra = sum(len(set(stats.received.get(c, [])) - set(stored[c])) for c in stored)
        duplicated = sum(len(got) - len(set(got)) for got in stats.received.values())
        results["chaos"] = {
            "messages": MESSAGES,
            "visitors": len(people),
            "stored_visible": sum(len(v) for v in stored.values()),
            "received": sum(len(v) for v in stats.received.values()),
            "lost": lost,
            "duplicated": duplicated,
            "unknown": extra,
            "out_of_order": stats.out_of_order,
            "reconnects": stats.reconnects,
            "aborted": stats.aborts,
            "socket_errors": stats.errors,
            "posted_in_s": round(posted_s, 1),
        }
        c = results["chaos"]
        print(f"\n3. {MESSAGES} agent replies to {len(people)} visitors whose sockets drop and reconnect")
        print(
            f"  posted in {c['posted_in_s']} s; {c['reconnects']} reconnects ({c['aborted']} without a close); "
            f"stored {c['stored_visible']}, received {c['received']}"
        )
        print(f"  lost {lost}, duplicated {duplicated}, out of order {c['out_of_order']}, unknown {extra}")
        results["server_errors"] = {f"p{n}": srv.errors() for n, srv in ((1, p1), (2, p2), (3, p3))}
        print(f"\n  exceptions the measured servers logged: {results['server_errors']}")
    finally:
        for server in servers:
            server.stop()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "realtime.json").write_text(json.dumps(results, indent=2))
    print(f"\n  figures in {RESULTS / 'realtime.json'}")
    chaos_ok = results.get("chaos", {}).get("lost") == 0 and results.get("chaos", {}).get("duplicated") == 0
    return 0 if chaos_ok else 1


if __name__ == "__main__":
    sys.exit(main())
