"""Chat engine benchmarks (`make bench` or `python -m bench chat`).

A real uvicorn server (one process, like one production pod's worker) serves the platform;
the fake LLM provider runs in its own process; this process is the load generator.

1. Time to first token: at the visitor (POST a message, first ``delta`` event of the answer
   stream) against the fake provider called directly through the same SDK, same run. The
   difference is the platform's added latency (targets: p50 <= 15 ms, p95 <= 40 ms).
2. Throughput: 100 concurrent visitors over 50 tenants, each sending messages and reading
   the streamed answer to its end, with an instant provider; against a bare Django view doing
   one INSERT with the same concurrency. Reports the ratio (target >= 0.5), p99 latency,
   errors and lost messages (every accepted message must be stored with one answer).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from bench.tenancy import RESULTS, django_start

BENCH_DB = "saas_bench_chat"
TENANTS = int(os.environ.get("BENCH_CHAT_TENANTS", "50"))
VISITORS = int(os.environ.get("BENCH_CHAT_VISITORS", "100"))
SECONDS = float(os.environ.get("BENCH_CHAT_SECONDS", "15"))
TTFT_ROUNDS = int(os.environ.get("BENCH_CHAT_TTFT_ROUNDS", "200"))
HOST = "bench.test"
ORIGIN = "https://customer.example"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, timeout: float = 30.0) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)  # noqa: S310 - our own loopback server
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def _setup(llm_url: str) -> list[dict]:
    """A fresh database with TENANTS workspaces on the Business plan, each with its widget
    published and a table for the bare INSERT baseline. Returns the visitors."""
    django_start(BENCH_DB, _llm_env(llm_url))
    from django.core.management import call_command
    from django.db import connection
    from django_tenants.utils import tenant_context

    from chat.models import Contact, Conversation
    from chat.visitor_tokens import visitor_token_issue
    from tenants.models import Tenant, User
    from tenants.services import tenant_provision
    from widget_builder.models import Widget
    from widget_builder.services import widget_publish

    call_command("migrate", interactive=False, verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE bench_probe (id bigserial PRIMARY KEY, body text NOT NULL)")
    owner = User.objects.create_user(email="bench-chat@example.com", password="bench-password-1")
    visitors = []
    for i in range(TENANTS):
        tenant = tenant_provision(slug=f"chat-{i}", name=f"Chat bench {i}", owner=owner)
        Tenant.objects.filter(pk=tenant.pk).update(plan="business")
        with tenant_context(tenant):
            widget = widget_publish(widget=Widget.objects.get())
            for _ in range(max(1, VISITORS // TENANTS) + 1):
                contact = Contact.objects.create(widget=widget)
                conversation = Conversation.objects.create(widget=widget, contact=contact)
                token, _ = visitor_token_issue(
                    tenant_id=tenant.pk, widget_id=widget.pk, contact_public_id=contact.public_id
                )
                visitors.append(
                    {
                        "schema": tenant.schema_name,
                        "key": widget.key,
                        "conversation": conversation.pk,
                        "token": token,
                    }
                )
    return visitors


def _llm_env(llm_url: str) -> dict:
    return {
        "DATABASE_POOL_MAX_SIZE": os.environ.get("DATABASE_POOL_MAX_SIZE", "40"),
        "LLM_PROVIDER": "anthropic",
        "ANTHROPIC_API_KEY": "sk-ant-bench",
        "ANTHROPIC_BASE_URL": llm_url,
        "LLM_MODEL": "claude-haiku-4-5",
    }


def _start_processes(llm_port: int, app_port: int) -> list[subprocess.Popen]:
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    llm = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.llm_server", "--port", str(llm_port)], cwd=root, env=env
    )
    app = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "saas.asgi:application",
            "--port",
            str(app_port),
            "--no-access-log",
            "--lifespan",
            "off",
            "--log-level",
            "warning",
        ],
        cwd=root,
        env=env,
    )
    _wait_http(f"http://127.0.0.1:{llm_port}/healthz")
    _wait_http(f"http://127.0.0.1:{app_port}/healthz")
    return [llm, app]


def _pcts(values: list[float]) -> dict:
    values = sorted(values)

    def pct(p: float) -> float:
        return values[min(len(values) - 1, int(p * len(values)))]

    return {"n": len(values), "p50": pct(0.5), "p95": pct(0.95), "p99": pct(0.99)}


async def _send(client, visitor: dict, text: str, n: int) -> tuple[float | None, float, bool]:
    """POST one message, read the stream to ``done``. Returns (ttft s, total s, ok)."""
    started = time.perf_counter()
    ttft = None
    url = f"/api/widget/v1/{visitor['key']}/conversations/{visitor['conversation']}/messages"
    headers = {
        "Host": HOST,
        "Origin": ORIGIN,
        "Authorization": f"Bearer {visitor['token']}",
        "Accept": "text/event-stream",
    }
    body = {"text": text, "client_message_id": f"bench-{n}"}
    done = False
    async with client.stream("POST", url, json=body, headers=headers) as response:
        if response.status_code != 200:
            await response.aread()
            return None, time.perf_counter() - started, False
        async for chunk in response.aiter_bytes():
            if ttft is None and b"event: delta" in chunk:
                ttft = time.perf_counter() - started
            if b"event: done" in chunk:
                done = True
    return ttft, time.perf_counter() - started, done


async def ttft_bench(app: str, llm_url: str, visitors: list[dict]) -> dict:
    import anthropic
    import httpx2

    direct, platform = [], []
    sdk = anthropic.AsyncAnthropic(api_key="sk-ant-bench", base_url=llm_url, max_retries=0)
    async with httpx2.AsyncClient(base_url=app, timeout=30) as client:
        for i in range(TTFT_ROUNDS + 20):  # the first 20 warm up both paths
            started = time.perf_counter()
            stream = await sdk.messages.create(
                model="claude-haiku-4-5",
                max_tokens=300,
                system="You are a bench.",
                messages=[{"role": "user", "content": f"Question {i}"}],
                stream=True,
            )
            first = None
            async for event in stream:
                if first is None and event.type == "content_block_delta":
                    first = time.perf_counter() - started
            ttft, _, ok = await _send(client, visitors[i % len(visitors)], f"Question {i}", 10_000_000 + i)
            if i >= 20 and ok and ttft is not None:
                direct.append(first * 1000)
                platform.append(ttft * 1000)
    await sdk.close()
    d, p = _pcts(direct), _pcts(platform)
    return {
        "direct_ms": d,
        "platform_ms": p,
        "added_ms": {"p50": p["p50"] - d["p50"], "p95": p["p95"] - d["p95"]},
    }


async def _load(concurrency: int, seconds: float, one) -> dict:
    latencies, errors, done = [], 0, 0
    stop_at = time.perf_counter() + seconds

    async def worker(w: int):
        nonlocal errors, done
        n = 0
        while time.perf_counter() < stop_at:
            n += 1
            started = time.perf_counter()
            try:
                ok = await one(w, n)
            except Exception:  # a transport error counts as an error
                ok = False
            latencies.append((time.perf_counter() - started) * 1000)
            if ok:
                done += 1
            else:
                errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    elapsed = time.perf_counter() - started
    return {"per_second": done / elapsed, "completed": done, "errors": errors, "latency_ms": _pcts(latencies)}


async def throughput_bench(app: str, visitors: list[dict]) -> dict:
    import httpx2

    limits = httpx2.Limits(max_connections=VISITORS + 10, max_keepalive_connections=VISITORS + 10)
    async with httpx2.AsyncClient(base_url=app, timeout=60, limits=limits) as client:

        async def bare(w: int, n: int) -> bool:
            r = await client.post("/bench/insert", json={"text": f"hello {w}-{n}"}, headers={"Host": HOST})
            return r.status_code == 200

        async def chat(w: int, n: int) -> bool:
            _, _, ok = await _send(
                client, visitors[w % len(visitors)], f"Load question {w}-{n}", w * 100_000 + n
            )
            return ok

        await _load(VISITORS, 2.0, bare)  # warm-up
        baseline = await _load(VISITORS, SECONDS, bare)
        full = await _load(VISITORS, SECONDS, chat)
    return {"bare_insert": baseline, "chat": full, "ratio": full["per_second"] / baseline["per_second"]}


def lost_messages(visitors: list[dict]) -> dict:
    """Every visitor message the platform accepted is stored, with exactly one answer."""
    from django.db.models import Count
    from django_tenants.utils import schema_context

    from chat.models import Message

    visitor_messages = unanswered = doubled = 0
    for schema in sorted({v["schema"] for v in visitors}):
        with schema_context(schema):
            visitor_messages += Message.objects.filter(role="visitor").count()
            replies = (
                Message.objects.filter(role="visitor").annotate(n=Count("reply")).values_list("n", flat=True)
            )
            unanswered += sum(1 for n in replies if n == 0)
            doubled += Message.objects.filter(role="bot", reply_to__isnull=True).count()
    return {"visitor_messages": visitor_messages, "unanswered": unanswered, "orphan_answers": doubled}


def main() -> int:
    llm_port, app_port = _free_port(), _free_port()
    llm_url = f"http://127.0.0.1:{llm_port}"
    print(f"Chat benchmark: database {BENCH_DB}, {TENANTS} tenants, {VISITORS} visitors", flush=True)
    started = time.perf_counter()
    visitors = _setup(llm_url)
    print(f"  setup {time.perf_counter() - started:.0f} s", flush=True)
    processes = _start_processes(llm_port, app_port)
    app = f"http://127.0.0.1:{app_port}"
    try:
        ttft = asyncio.run(ttft_bench(app, llm_url, visitors))
        print(
            "  time to first token, ms: direct p50 {:.2f} p95 {:.2f}; at the visitor p50 {:.2f} p95 {:.2f}; "
            "added p50 {:.2f} p95 {:.2f} (targets 15 / 40)".format(
                ttft["direct_ms"]["p50"],
                ttft["direct_ms"]["p95"],
                ttft["platform_ms"]["p50"],
                ttft["platform_ms"]["p95"],
                ttft["added_ms"]["p50"],
                ttft["added_ms"]["p95"],
            ),
            flush=True,
        )
        load = asyncio.run(throughput_bench(app, visitors))
        print(
            "  throughput, {} visitors over {} tenants: bare INSERT {:.0f}/s, full chat path {:.1f} msg/s, "
            "ratio x{:.2f} (target 0.5); chat p50 {:.0f} ms p99 {:.0f} ms; errors {}".format(
                VISITORS,
                TENANTS,
                load["bare_insert"]["per_second"],
                load["chat"]["per_second"],
                load["ratio"],
                load["chat"]["latency_ms"]["p50"],
                load["chat"]["latency_ms"]["p99"],
                load["chat"]["errors"],
            ),
            flush=True,
        )
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=10)
    lost = lost_messages(visitors)
    print(
        "  messages stored {visitor_messages}, without an answer {unanswered}, answers without a question "
        "{orphan_answers}".format(**lost),
        flush=True,
    )
    results = {"ttft": ttft, "throughput": load, "lost": lost}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "chat.json").write_text(json.dumps(results, indent=2))
    print(f"  figures in {RESULTS / 'chat.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
