"""Workspace REST API benchmark (`make bench BENCH_ARGS=api` or `python -m bench api`).

A real uvicorn server (one process of its own, ``bench.settings``: DEBUG off) serves one
workspace seeded with BENCH_API_CONVERSATIONS conversations (each with a contact and two
messages); this process is the load generator. Every call carries an admin API key
(``Authorization: Bearer sk_...``), its per-key limit raised out of the way
(``API_RATE_KEY_PER_MINUTE``).

1. Requests/s with BENCH_API_CLIENTS concurrent clients (default 20) for BENCH_API_SECONDS
   each (default 10), with latency p50/p95 and errors, for:
   - the baseline: a bare DRF view on the same tenant host (``bench.urls.BareApi``: DRF's
     request cycle and the same API-key authentication, a small constant JSON list; no
     role, rate limit, idempotency, rows, serializer or pagination);
   - ``GET /api/v1/conversations?limit=50`` (a page of 50 conversations);
   - ``POST /api/v1/conversations/<id>/messages`` (an agent reply), each client on a
     conversation of its own, without and with a fresh ``Idempotency-Key`` per call.
   Each as a ratio to the baseline of the same run.
2. The SQL queries of one call of each, in-process (the whole middleware stack).
3. Webhooks: ``bench.webhooks`` in a process of its own (its own database): deliveries/s
   from one worker to a local receiver, the delay from event to delivery p50/p95.
   ``BENCH_API_WEBHOOKS=0`` leaves it out.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from typing import Any

from bench.chat import _load
from bench.chat_processes import free_port, start_web, stop
from bench.tenancy import RESULTS, django_start

BENCH_DB = "saas_bench_api"
SLUG = "apibench"
HOST = f"{SLUG}.bench.test"
CONVERSATIONS = int(os.environ.get("BENCH_API_CONVERSATIONS", "200"))
CLIENTS = int(os.environ.get("BENCH_API_CLIENTS", "20"))
SECONDS = float(os.environ.get("BENCH_API_SECONDS", "10"))
WEBHOOKS = os.environ.get("BENCH_API_WEBHOOKS", "1") != "0"
WARMUP_SECONDS = 2.0
LIST_PATH = "/api/v1/conversations?limit=50"


def _setup() -> dict[str, Any]:
    """A fresh database, one workspace with CONVERSATIONS conversations and an admin API
    key. Returns the key's secret and the conversations' ids."""
    django_start(BENCH_DB, {"API_RATE_KEY_PER_MINUTE": str(10**9)})
    from django.core.management import call_command
    from django_tenants.utils import tenant_context

    from chat.models import Contact, Conversation, Message
    from chat.services.messages import message_append
    from tenants.models import Membership, User
    from tenants.services import tenant_provision
    from tenants.services.api_keys import api_key_create
    from widget_builder.models import Widget

    call_command("migrate", interactive=False, verbosity=0)
    owner = User.objects.create_user(email="bench-api@example.com", password="bench-password-1")
    tenant = tenant_provision(slug=SLUG, name="API bench", owner=owner)
    _, secret = api_key_create(
        tenant=tenant, name="Bench CRM", role="admin", by=Membership.objects.get(tenant=tenant, user=owner)
    )
    ids = []
    with tenant_context(tenant):
        widget = Widget.objects.get()
        for n in range(CONVERSATIONS):
            contact = Contact.objects.create(widget=widget, name=f"Visitor {n}", email=f"v{n}@example.com")
            conversation = Conversation.objects.create(widget=widget, contact=contact)
            message_append(conversation=conversation, role=Message.Role.VISITOR, text=f"Question {n}")
            message_append(conversation=conversation, role=Message.Role.BOT, text=f"Answer {n}")
            ids.append(conversation.pk)
    return {"secret": secret, "conversations": ids}


def queries_per_call(secret: str, conversation_id: int) -> dict[str, int]:
    """SQL queries of one call of each endpoint, in-process (after one warm-up call)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST=HOST, HTTP_AUTHORIZATION=f"Bearer {secret}")
    reply = f"/api/v1/conversations/{conversation_id}/messages"
    calls = {
        "bare DRF view": lambda: client.get("/bench/api-bare"),
        "conversations list (50)": lambda: client.get(LIST_PATH),
        "agent reply": lambda: client.post(reply, {"text": "Counted."}, content_type="application/json"),
        "agent reply + Idempotency-Key": lambda: client.post(
            reply,
            {"text": "Counted."},
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
        ),
    }
    counts = {}
    for name, call in calls.items():
        call()
        with CaptureQueriesContext(connection) as queries:
            response = call()
        if response.status_code not in (200, 201):
            raise RuntimeError(f"{name} answered {response.status_code}: {response.content[:300]!r}")
        counts[name] = len(queries.captured_queries)
    connection.set_schema_to_public()
    return counts


async def load_runs(base: str, secret: str, conversations: list[int]) -> dict[str, dict]:
    import httpx2

    limits = httpx2.Limits(max_connections=CLIENTS + 5, max_keepalive_connections=CLIENTS + 5)
    headers = {"Host": HOST, "Authorization": f"Bearer {secret}"}
    async with httpx2.AsyncClient(base_url=base, timeout=60, limits=limits, headers=headers) as client:
        first = (await client.get(LIST_PATH)).json()
        if len(first["results"]) != 50:
            raise RuntimeError(f"the list gave {len(first['results'])} rows, not 50")

        async def bare(w: int, n: int) -> bool:
            return (await client.get("/bench/api-bare")).status_code == 200

        async def listed(w: int, n: int) -> bool:
            return (await client.get(LIST_PATH)).status_code == 200

        def reply(idempotent: bool):
            async def one(w: int, n: int) -> bool:
                extra = {"Idempotency-Key": str(uuid.uuid4())} if idempotent else {}
                r = await client.post(
                    f"/api/v1/conversations/{conversations[w % len(conversations)]}/messages",
                    json={"text": f"Agent reply {w}-{n}"},
                    headers=extra,
                )
                return r.status_code == 201

            return one

        runs = {
            "bare DRF view": bare,
            "conversations list (50)": listed,
            "agent reply": reply(False),
            "agent reply + Idempotency-Key": reply(True),
        }
        results = {}
        for name, one in runs.items():
            await _load(CLIENTS, WARMUP_SECONDS, one)
            results[name] = await _load(CLIENTS, SECONDS, one)
            print(f"    {name:30} done", flush=True)
    return results


def _print(results: dict[str, dict], queries: dict[str, int]) -> None:
    base = results["bare DRF view"]["per_second"]
    print(f"  {CLIENTS} concurrent clients, {SECONDS:.0f} s each, one uvicorn process:")
    for name, figures in results.items():
        latency = figures["latency_ms"]
        print(
            f"    {name:30} {figures['per_second']:7.1f} req/s (x{figures['per_second'] / base:4.2f} bare) "
            f"p50 {latency['p50']:6.1f} ms p95 {latency['p95']:6.1f} ms, errors {figures['errors']}, "
            f"{queries[name]} SQL queries",
            flush=True,
        )


def _webhooks() -> dict | None:
    """``bench.webhooks`` in a process of its own (it makes its own database)."""
    print("  webhooks (bench.webhooks):", flush=True)
    if subprocess.call([sys.executable, "-m", "bench.webhooks"]) != 0:
        return None
    return json.loads((RESULTS / "webhooks.json").read_text())


def main() -> int:
    print(f"API benchmark: database {BENCH_DB}, {CONVERSATIONS} conversations", flush=True)
    seeded = _setup()
    port = free_port()
    server = start_web(port)
    try:
        queries = queries_per_call(seeded["secret"], seeded["conversations"][-1])
        results = asyncio.run(
            load_runs(f"http://127.0.0.1:{port}", seeded["secret"], seeded["conversations"][:CLIENTS])
        )
    finally:
        stop(server)
    _print(results, queries)
    base = results["bare DRF view"]["per_second"]
    summary: dict[str, Any] = {
        "clients": CLIENTS,
        "seconds": SECONDS,
        "runs": results,
        "ratio_to_bare": {name: r["per_second"] / base for name, r in results.items()},
        "queries": queries,
    }
    failed = any(r["errors"] for r in results.values())
    if WEBHOOKS:
        summary["webhooks"] = _webhooks()
        failed |= summary["webhooks"] is None
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "api.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"  figures in {RESULTS / 'api.json'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
