"""The chat benchmark's load and outage parts (``bench/chat.py`` sets up and prints the rest).

- Load: ``PER_WORKSPACE`` visitors in each of ``WORKSPACES`` workspaces (100 over 20), all at
  once, each sending ``MESSAGES`` messages (5) one after the other and reading each streamed
  answer to its end. On one uvicorn process and on two, both using the embedding server,
  then on one process that loads the model itself. First token p50/p95, messages/s, the
  ratio of two processes to one, and the RSS of every web process after the load.
- Outages, the same visitors sending without pause on one process: Redis (a redis-server of
  the bench's own, never the developers' one) stopped for ``REDIS_OUTAGE`` s, then
  PostgreSQL unreachable for ``PG_OUTAGE`` s (``tests.db_proxy.DatabaseProxy`` in front of the bench's
  database closes every connection and refuses new ones). Messages sent during each outage:
  answered, 503, other 5xx, other failures; lost = visitor messages stored without an answer
  ``OWED_WAIT`` s after the outage (those stored just before PostgreSQL went are owed an
  answer, given once it is back: chat.answering.owed).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from collections.abc import Callable
from urllib.parse import urlsplit

from bench.chat_client import pcts, send
from bench.chat_processes import (
    cpu_by_kind,
    cpu_seconds,
    free_port,
    machine_busy_seconds,
    rss_mib,
    start_embedder,
    start_web,
    stop,
    web_processes,
)
from bench.tenancy import RESULTS
from tests.db_proxy import DatabaseProxy
from tests.redis_server import RedisServer

WORKSPACES = int(os.environ.get("BENCH_CHAT_LOAD_WORKSPACES", "20"))
PER_WORKSPACE = int(os.environ.get("BENCH_CHAT_LOAD_PER_WORKSPACE", "5"))
MESSAGES = int(os.environ.get("BENCH_CHAT_LOAD_MESSAGES", "5"))
REDIS_OUTAGE = float(os.environ.get("BENCH_CHAT_REDIS_OUTAGE", "20"))
PG_OUTAGE = float(os.environ.get("BENCH_CHAT_PG_OUTAGE", "15"))
CALM = 5.0  # seconds of load before and after each outage
OWED_WAIT = 30.0  # seconds after an outage for the answers owed since it to be stored


def _chosen(visitors: list[dict]) -> list[dict]:
    chosen: list[dict] = []
    for workspace in range(WORKSPACES):
        chosen += [v for v in visitors if v["workspace"] == workspace][:PER_WORKSPACE]
    return chosen


def _client(count: int):
    import httpx2  # as bench/chat.py: the HTTP client loads with the parts that use it

    limits = httpx2.Limits(max_connections=count + 10, max_keepalive_connections=count + 10)
    return httpx2.AsyncClient(timeout=60, limits=limits)


async def _burst(url: str, visitors: list[dict], run: int, messages: int) -> dict:
    first_tokens: list[float] = []
    statuses: list[int] = []
    answered = 0

    async with _client(len(visitors)) as client:
        client.base_url = url

        async def visitor(i: int, v: dict) -> None:
            nonlocal answered
            for m in range(messages):
                try:
                    ttft, _, ok = await send(
                        client, v, f"Load question {run}-{i}-{m}", run * 1_000_000 + i * 100 + m, statuses
                    )
                except Exception:  # a transport error counts as a failure
                    ok, ttft = False, None
                answered += ok
                if ttft is not None:
                    first_tokens.append(ttft * 1000)

        started = time.perf_counter()
        await asyncio.gather(*(visitor(i, v) for i, v in enumerate(visitors)))
        elapsed = time.perf_counter() - started
    return {
        "messages": len(visitors) * messages,
        "answered": answered,
        "statuses": dict(Counter(statuses)),
        "seconds": elapsed,
        "per_second": answered / elapsed,
        "first_token_ms": pcts(first_tokens),
    }


def _load_run(visitors: list[dict], *, workers: int, embedder_url: str, run: int) -> dict:
    port = free_port()
    web = start_web(port, workers=workers, env={"EMBEDDING_SERVER_URL": embedder_url})
    try:
        url = f"http://127.0.0.1:{port}"
        asyncio.run(_burst(url, visitors, run, 1))  # warm-up: every process has served and embedded
        pids = web_processes(web)
        web_cpu, busy, kinds = sum(cpu_seconds(pid) for pid in pids), machine_busy_seconds(), cpu_by_kind()
        figures = asyncio.run(_burst(url, visitors, run + 1, MESSAGES))
        web_cpu = sum(cpu_seconds(pid) for pid in pids) - web_cpu
        busy = machine_busy_seconds() - busy
        kinds = {kind: round(spent - kinds.get(kind, 0.0), 2) for kind, spent in cpu_by_kind().items()}
        rss = [round(rss_mib(pid), 1) for pid in web_processes(web)]
    finally:
        stop(web)
    capacity = (os.cpu_count() or 1) * figures["seconds"]
    figures |= {
        # Where the machine's CPU went while it ran: the web processes, everything else
        # (this load generator, PostgreSQL, the fake provider, the embedding server), idle.
        "web_cpu_seconds": round(web_cpu, 2),
        "other_cpu_seconds": round(busy - web_cpu, 2),
        "idle_cpu_seconds": round(capacity - busy, 2),
        "web_cpu_ms_per_message": round(web_cpu * 1000 / max(figures["answered"], 1), 1),
        "cpu_seconds_by_process": {kind: spent for kind, spent in sorted(kinds.items()) if spent >= 0.05},
        "workers": workers,
        "embedding_server": bool(embedder_url),
        "rss_mib": rss,
        "rss_mib_sum": round(sum(rss), 1),
    }
    print(
        "  load, {} visitors over {} workspaces x {} messages, {} process(es), model {}: first token p50 {:.0f} ms "
        "p95 {:.0f} ms (target p95 1000), {:.1f} msg/s, answered {}/{}; web RSS {} MiB (sum {:.0f}, target 250 "
        "per process)".format(
            len(visitors),
            WORKSPACES,
            MESSAGES,
            workers,
            "in the embedding server" if embedder_url else "in the web process",
            figures["first_token_ms"]["p50"],
            figures["first_token_ms"]["p95"],
            figures["per_second"],
            figures["answered"],
            figures["messages"],
            " + ".join(f"{r:.0f}" for r in rss),
            figures["rss_mib_sum"],
        ),
        flush=True,
    )
    print(
        "    CPU meanwhile, core-seconds: web {web_cpu_seconds:.1f} ({web_cpu_ms_per_message:.1f} ms per message), "
        "the rest of the machine {other_cpu_seconds:.1f}, idle {idle_cpu_seconds:.1f}; by process {by}".format(
            by=", ".join(f"{kind} {spent:.1f}" for kind, spent in figures["cpu_seconds_by_process"].items()),
            **figures,
        ),
        flush=True,
    )
    return figures


def load_runs(visitors: list[dict]) -> dict:
    chosen = _chosen(visitors)
    embedder_port = free_port()
    embedder = start_embedder(embedder_port)
    try:
        embedder_url = f"http://127.0.0.1:{embedder_port}"
        one = _load_run(chosen, workers=1, embedder_url=embedder_url, run=100)
        two = _load_run(chosen, workers=2, embedder_url=embedder_url, run=200)
        embedder_rss = round(rss_mib(embedder.pid), 1)
    finally:
        stop(embedder)
    in_process = _load_run(chosen, workers=1, embedder_url="", run=300)
    ratio = two["per_second"] / max(one["per_second"], 1e-9)
    print(
        f"  two processes / one: x{ratio:.2f} the messages/s (target 1.7); embedding server RSS {embedder_rss:.0f} "
        f"MiB; one web process {one['rss_mib_sum']:.0f} MiB with the server, {in_process['rss_mib_sum']:.0f} MiB "
        "with the model in it",
        flush=True,
    )
    print(
        "  web CPU per message: one process {:.1f} ms, two {:.1f} ms; idle CPU left during the two-process run: "
        "{:.1f} core-seconds of {:.1f}".format(
            one["web_cpu_ms_per_message"],
            two["web_cpu_ms_per_message"],
            two["idle_cpu_seconds"],
            (os.cpu_count() or 1) * two["seconds"],
        ),
        flush=True,
    )
    return {
        "one_process": one,
        "two_processes": two,
        "one_process_model_in_web": in_process,
        "two_to_one": ratio,
        "embedding_server_rss_mib": embedder_rss,
    }


async def _through_outage(
    url: str, visitors: list[dict], run: int, cut: Callable, heal: Callable, seconds: float
) -> dict:
    """Visitors send without pause; ``cut`` at CALM s, ``heal`` ``seconds`` later, CALM s more.
    Returns what became of the messages sent while it was cut."""
    records: list[tuple[float, float, int | None, bool]] = []  # (sent, finished, HTTP status, answered)
    window: list[float] = []
    started = time.monotonic()
    stop_at = started + CALM + seconds + CALM

    async with _client(len(visitors)) as client:
        client.base_url = url

        async def visitor(i: int, v: dict) -> None:
            m = 0
            while time.monotonic() < stop_at:
                m += 1
                sent, status = time.monotonic(), []
                try:
                    _, _, ok = await send(
                        client, v, f"Outage question {run}-{i}-{m}", run * 1_000_000 + i * 1000 + m, status
                    )
                except Exception:  # a transport error: no status
                    ok = False
                records.append((sent, time.monotonic(), status[0] if status else None, ok))
                if not ok:
                    await asyncio.sleep(0.2)  # as the widget waits before it retries

        async def fault() -> None:
            await asyncio.sleep(CALM)
            window.append(time.monotonic())
            await asyncio.to_thread(cut)
            await asyncio.sleep(seconds)
            await asyncio.to_thread(heal)
            window.append(time.monotonic())

        await asyncio.gather(fault(), *(visitor(i, v) for i, v in enumerate(visitors)))
    # Affected: sent during the outage, or still waiting for their answer when it began.
    during = [r for r in records if r[0] <= window[1] and r[1] >= window[0]]
    return {
        "sent_during": len(during),
        "answered_during": sum(1 for r in during if r[3]),
        "status_503_during": sum(1 for r in during if r[2] == 503),
        "other_5xx_during": sum(1 for r in during if r[2] is not None and r[2] >= 500 and r[2] != 503),
        "no_answer_other_during": sum(1 for r in during if not r[3] and (r[2] is None or r[2] < 500)),
        "sent": len(records),
        "answered": sum(1 for r in records if r[3]),
        "statuses": dict(Counter(str(r[2]) for r in records)),
    }


def _log_size() -> int:
    path = RESULTS / "chat-outages-web.log"
    return path.stat().st_size if path.exists() else 0


def _tracebacks_since(offset: int) -> int:
    """Tracebacks the web process logged since ``offset`` of its log."""
    with (RESULTS / "chat-outages-web.log").open("rb") as file:
        file.seek(offset)
        return file.read().count(b"Traceback (most recent call last)")


def _via_proxy(url: str, port: int) -> str:
    parts = urlsplit(url)
    credentials = parts.netloc.rpartition("@")[0]
    return parts._replace(
        netloc=f"{credentials}@127.0.0.1:{port}" if credentials else f"127.0.0.1:{port}"
    ).geturl()


def outage_runs(visitors: list[dict], lost_messages: Callable[[list[dict]], dict]) -> dict:
    chosen = _chosen(visitors)
    database = urlsplit(os.environ["DATABASE_URL"])
    if not RedisServer.available():
        raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
    redis, proxy = RedisServer(), DatabaseProxy(database.hostname or "127.0.0.1", database.port or 5432)
    embedder_port = free_port()
    redis.start()
    proxy.start()
    embedder = start_embedder(embedder_port)
    web = None
    results: dict = {}
    RESULTS.mkdir(exist_ok=True)
    web_log = (RESULTS / "chat-outages-web.log").open("w")
    try:
        proxied = _via_proxy(os.environ["DATABASE_URL"], proxy.port)
        port = free_port()
        web = start_web(
            port,
            log=web_log,
            env={
                "REDIS_URL": redis.url(),
                "DATABASE_URL": proxied,
                "EMBEDDING_SERVER_URL": f"http://127.0.0.1:{embedder_port}",
            },
        )
        url = f"http://127.0.0.1:{port}"
        asyncio.run(_burst(url, chosen, 400, 1))  # warm-up
        for name, cut, heal, seconds, run, target in (
            ("redis", redis.stop, redis.start, REDIS_OUTAGE, 500, "answered: all"),
            ("postgresql", proxy.cut, proxy.restore, PG_OUTAGE, 600, "the rest 503"),
        ):
            before = lost_messages(visitors)
            logged = _log_size()
            figures = asyncio.run(_through_outage(url, chosen, run, cut, heal, seconds))
            # Answers still being stored, and those owed since the outage (chat.answering.owed):
            # given up to OWED_WAIT s to arrive.
            deadline = time.monotonic() + OWED_WAIT
            time.sleep(2)
            after = lost_messages(visitors)
            while after["unanswered"] > before["unanswered"] and time.monotonic() < deadline:
                time.sleep(1)
                after = lost_messages(visitors)
            figures["lost"] = after["unanswered"] - before["unanswered"]
            figures["orphan_answers"] = after["orphan_answers"] - before["orphan_answers"]
            figures["tracebacks_logged"] = _tracebacks_since(logged)
            results[name] = figures
            print(
                "  {} down {:.0f} s under load: {sent_during} messages sent or waiting during it: answered "
                "{answered_during}, 503 {status_503_during}, other 5xx {other_5xx_during}, other failures "
                "{no_answer_other_during} (target: {}); lost {lost} (target 0), answers without a question "
                "{orphan_answers}; tracebacks logged {tracebacks_logged}; all statuses {statuses}".format(
                    name, seconds, target, **figures
                ),
                flush=True,
            )
    finally:
        stop(web, embedder)
        redis.stop()
        proxy.close()
        web_log.close()
    print(f"  the web process's log of the outages: {RESULTS / 'chat-outages-web.log'}", flush=True)
    return results
