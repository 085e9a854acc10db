"""Chat engine benchmarks (`make bench` or `python -m bench chat`).

A real uvicorn server serves the platform; the fake LLM provider runs in its own process,
the local embedding model in the embedding server (as in production, except for one load
run without it, to compare memory); this process is the load generator. Each workspace's
bot has a small knowledge base (every question is embedded and searched) and may also
answer from general knowledge (every question reaches the provider). Parts, chosen with
``BENCH_CHAT_PARTS`` (default all, comma-separated):

1. ``ttft``: time to first token at the visitor (POST a message, first ``delta`` event of
   the answer stream) against the fake provider called directly through the same SDK,
   same run. The difference is the platform's added latency (targets: p50 <= 15 ms,
   p95 <= 40 ms).
2. ``throughput``: 100 concurrent visitors over the workspaces, each sending messages and
   reading the streamed answer to its end, with an instant provider; against a bare Django
   view doing one INSERT and against the floor view (``bench/floor``: only the irreducible
   work: store the visitor message, embed the question, one vector query, store the answer)
   with the same concurrency. Ratios to both (target >= 0.5 to the bare INSERT).
3. ``load`` (``bench/chat_load.py``): 100 visitors over 20 workspaces, 5 streamed messages
   each, on one uvicorn process and on two (``--workers 2``): first token p50/p95 (target
   p95 <= 1 s), messages/s and the ratio of two to one (target x1.7); web process RSS after
   the load, per process and summed (target <= 250 MiB), with the embedding server and,
   once more on one process, with the model loaded in the web process.
4. ``outages`` (``bench/chat_load.py``): the same load on one process with a Redis of the
   bench's own stopped for 20 s, then with PostgreSQL unreachable for 15 s (a proxy in
   front of it closes every connection): answered / 503 / other 5xx during each, and lost.

Lost messages: every visitor message the platform accepted must be stored with one answer.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time

from bench import chat_load
from bench.chat_client import HOST
from bench.chat_client import pcts as _pcts
from bench.chat_client import send as _send
from bench.chat_processes import free_port, start_embedder, start_llm, start_web, stop
from bench.tenancy import RESULTS, django_start

BENCH_DB = "saas_bench_chat"
TENANTS = int(os.environ.get("BENCH_CHAT_TENANTS", "50"))
VISITORS = int(os.environ.get("BENCH_CHAT_VISITORS", "100"))
SECONDS = float(os.environ.get("BENCH_CHAT_SECONDS", "15"))
TTFT_ROUNDS = int(os.environ.get("BENCH_CHAT_TTFT_ROUNDS", "200"))
PARTS = [
    p.strip()
    for p in os.environ.get("BENCH_CHAT_PARTS", "ttft,throughput,load,outages").split(",")
    if p.strip()
]
KNOWLEDGE = """# Shipping

Parcels to Germany travel with DHL and arrive in 3 to 5 working days.

# Returns

You can send items back within 30 days for a full refund to your card.

# Support

Our support line answers load questions and bench questions Monday to Friday.
"""


def _setup(llm_url: str) -> list[dict]:
    """A fresh database with TENANTS workspaces on the Business plan, each with its widget
    published, a small knowledge base ingested and a bot that may also answer from general
    knowledge, and a table for the bare INSERT baseline. Returns the visitors (each with a
    conversation of its own for the chat and one for the floor view): at least
    ``chat_load.PER_WORKSPACE`` in each of the first ``chat_load.WORKSPACES``."""
    django_start(BENCH_DB, _llm_env(llm_url))
    from django.core.management import call_command
    from django.db import connection
    from django_tenants.utils import tenant_context

    from chat.models import BotSettings, Contact, Conversation
    from chat.visitor_tokens import visitor_token_issue
    from knowledge.models import Chunk, KnowledgeBase
    from knowledge.services import source_add_text
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
            BotSettings.objects.update_or_create(widget=widget, defaults={"knowledge_only": False})
            kb = KnowledgeBase.objects.order_by("id").first()
            source_add_text(tenant=tenant, kb=kb, title="Help", text=KNOWLEDGE)  # ingested on a thread
            per_workspace = max(1, VISITORS // TENANTS) + 1
            if i < chat_load.WORKSPACES:
                per_workspace = max(per_workspace, chat_load.PER_WORKSPACE)
            for _ in range(per_workspace):
                contact = Contact.objects.create(widget=widget)
                conversation = Conversation.objects.create(widget=widget, contact=contact)
                floor = Conversation.objects.create(widget=widget, contact=contact)
                token, _ = visitor_token_issue(
                    tenant_id=tenant.pk, widget_id=widget.pk, contact_public_id=contact.public_id
                )
                visitors.append(
                    {
                        "schema": tenant.schema_name,
                        "key": widget.key,
                        "conversation": conversation.pk,
                        "floor_conversation": floor.pk,
                        "token": token,
                        "workspace": i,
                    }
                )
    _knowledge_wait(sorted({v["schema"] for v in visitors}), Chunk)
    return visitors


def _knowledge_wait(schemas: list[str], chunk_model, timeout: float = 300.0) -> None:
    """Until every workspace's knowledge is ingested (in-process tasks run on threads)."""
    # django_tenants reads settings when imported: after django_start.
    from django_tenants.utils import schema_context

    deadline = time.monotonic() + timeout
    for schema in schemas:
        with schema_context(schema):
            while not chunk_model.objects.exists():
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the bench's knowledge was not ingested in {schema}")
                time.sleep(0.2)


def _llm_env(llm_url: str) -> dict:
    return {
        "DATABASE_POOL_MAX_SIZE": os.environ.get("DATABASE_POOL_MAX_SIZE", "40"),
        "LLM_PROVIDER": "anthropic",
        "ANTHROPIC_API_KEY": "sk-ant-bench",
        "ANTHROPIC_BASE_URL": llm_url,
        "LLM_MODEL": "claude-haiku-4-5",
    }


async def ttft_bench(app: str, llm_url: str, visitors: list[dict]) -> dict:
    import anthropic
    import httpx2

    direct, platform, floors = [], [], []
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
            visitor = visitors[i % len(visitors)]
            ttft, _, ok = await _send(client, visitor, f"Question {i}", 10_000_000 + i)
            # The floor's whole round trip, one at a time: the irreducible work before a first
            # token could be sent (store, embed, retrieve), plus storing an answer.
            floor_started = time.perf_counter()
            body = {
                "schema": visitor["schema"],
                "conversation": visitor["floor_conversation"],
                "text": f"Q {i}",
            }
            floor_ok = (
                await client.post("/bench/floor", json=body, headers={"Host": HOST})
            ).status_code == 200
            floor_ms = (time.perf_counter() - floor_started) * 1000
            if i >= 20 and ok and ttft is not None:
                direct.append(first * 1000)
                platform.append(ttft * 1000)
                if floor_ok:
                    floors.append(floor_ms)
    await sdk.close()
    d, p = _pcts(direct), _pcts(platform)
    return {
        "direct_ms": d,
        "platform_ms": p,
        "added_ms": {"p50": p["p50"] - d["p50"], "p95": p["p95"] - d["p95"]},
        "floor_round_trip_ms": _pcts(floors),
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

        async def floor(w: int, n: int) -> bool:
            visitor = visitors[w % len(visitors)]
            body = {
                "schema": visitor["schema"],
                "conversation": visitor["floor_conversation"],
                "text": f"Floor question {w}-{n}",
            }
            r = await client.post("/bench/floor", json=body, headers={"Host": HOST})
            return r.status_code == 200

        async def chat(w: int, n: int) -> bool:
            _, _, ok = await _send(
                client, visitors[w % len(visitors)], f"Load question {w}-{n}", w * 100_000 + n
            )
            return ok

        await _load(VISITORS, 2.0, bare)  # warm-up
        baseline = await _load(VISITORS, SECONDS, bare)
        await _load(VISITORS, 2.0, floor)
        floored = await _load(VISITORS, SECONDS, floor)
        full = await _load(VISITORS, SECONDS, chat)
    return {
        "bare_insert": baseline,
        "floor": floored,
        "chat": full,
        "ratio": full["per_second"] / baseline["per_second"],
        "ratio_to_floor": full["per_second"] / max(floored["per_second"], 1e-9),
    }


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


def _print_ttft(ttft: dict) -> None:
    print(
        "  time to first token, ms: direct p50 {:.2f} p95 {:.2f}; at the visitor p50 {:.2f} p95 {:.2f}; "
        "added p50 {:.2f} p95 {:.2f} (targets 15 / 40); the floor view's round trip alone p50 {:.2f} "
        "p95 {:.2f}".format(
            ttft["direct_ms"]["p50"],
            ttft["direct_ms"]["p95"],
            ttft["platform_ms"]["p50"],
            ttft["platform_ms"]["p95"],
            ttft["added_ms"]["p50"],
            ttft["added_ms"]["p95"],
            ttft["floor_round_trip_ms"]["p50"],
            ttft["floor_round_trip_ms"]["p95"],
        ),
        flush=True,
    )


def _print_throughput(load: dict) -> None:
    print(
        "  throughput, {} visitors over {} tenants: bare INSERT {:.0f}/s, floor {:.1f}/s, full chat path "
        "{:.1f} msg/s; ratio to the bare INSERT x{:.2f} (target 0.5), to the floor x{:.2f}; "
        "chat p50 {:.0f} ms p99 {:.0f} ms; errors {} (floor {})".format(
            VISITORS,
            TENANTS,
            load["bare_insert"]["per_second"],
            load["floor"]["per_second"],
            load["chat"]["per_second"],
            load["ratio"],
            load["ratio_to_floor"],
            load["chat"]["latency_ms"]["p50"],
            load["chat"]["latency_ms"]["p99"],
            load["chat"]["errors"],
            load["floor"]["errors"],
        ),
        flush=True,
    )


def _first_parts(llm_url: str, visitors: list[dict], results: dict) -> None:
    """ttft and throughput: one uvicorn process using the embedding server."""
    embedder_port, app_port = free_port(), free_port()
    embedder = start_embedder(embedder_port)
    app = None
    try:
        app = start_web(app_port, env={"EMBEDDING_SERVER_URL": f"http://127.0.0.1:{embedder_port}"})
        url = f"http://127.0.0.1:{app_port}"
        if "ttft" in PARTS:
            results["ttft"] = asyncio.run(ttft_bench(url, llm_url, visitors))
            _print_ttft(results["ttft"])
        if "throughput" in PARTS:
            results["throughput"] = asyncio.run(throughput_bench(url, visitors))
            _print_throughput(results["throughput"])
    finally:
        stop(app, embedder)


def main() -> int:
    unknown = set(PARTS) - {"ttft", "throughput", "load", "outages"}
    if unknown:
        print(f"unknown BENCH_CHAT_PARTS: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    llm_port = free_port()
    llm_url = f"http://127.0.0.1:{llm_port}"
    print(
        f"Chat benchmark: database {BENCH_DB}, {TENANTS} tenants, {VISITORS} visitors; parts {','.join(PARTS)}",
        flush=True,
    )
    started = time.perf_counter()
    visitors = _setup(llm_url)
    print(f"  setup {time.perf_counter() - started:.0f} s", flush=True)
    results: dict = {}
    llm: subprocess.Popen | None = start_llm(llm_port)
    try:
        if {"ttft", "throughput"} & set(PARTS):
            _first_parts(llm_url, visitors, results)
        if "load" in PARTS:
            results["load"] = chat_load.load_runs(visitors)
        if "outages" in PARTS:
            results["outages"] = chat_load.outage_runs(visitors, lost_messages)
    finally:
        stop(llm)
    lost = lost_messages(visitors)
    print(
        "  messages stored {visitor_messages}, without an answer {unanswered}, answers without a question "
        "{orphan_answers}".format(**lost),
        flush=True,
    )
    results["lost"] = lost
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "chat.json").write_text(json.dumps(results, indent=2))
    print(f"  figures in {RESULTS / 'chat.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
