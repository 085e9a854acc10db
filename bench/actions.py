"""AI actions benchmark (`make bench BENCH_ARGS=actions` or `python -m bench actions`).

What one action call adds to an answer: the model has asked for a tool; the answer waits
while ``chat.answering.tools.tools_run`` runs it (``actions.tools.ActionTools.call``: the
action looked up, the rules (audience, the inputs against the JSON Schema, the per-visitor
rate limit, the pause), the signed request through the pinned outbound path to a local
endpoint that answers at once, the answer read for the model, the call logged, the
transcript note stored), then asks the model again. The model's own round trips are not
in these figures. In the same run, the baseline: the bare signed request alone
(``actions.sending.send``), so the ratio shows the platform's part.

BENCH_ACTIONS_CALLS (default 500) calls each, after 50 of warm-up; own database
``saas_bench_actions``. Target: p50 <= 20 ms added by one call.

Then the CSV part (``bench/actions_files.py``): questions over a visitor's 10,000-row file
answered through the answer loop with the local fake LLM asking for ``query_table``.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import sys
import time

from bench.tenancy import RESULTS, django_start

BENCH_DB = "saas_bench_actions"
CALLS = int(os.environ.get("BENCH_ACTIONS_CALLS", "500"))
WARMUP = 50


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p * len(ordered)) - 1)]


def _setup(endpoint, llm_url: str):
    django_start(
        BENCH_DB,
        env={
            "ACTIONS_PRIVATE_ALLOWLIST": endpoint.address,
            "ACTIONS_CALLS_PER_MINUTE": str(10 * (CALLS + WARMUP)),
            # The platform's provider: the local fake LLM server (the CSV part).
            "LLM_PROVIDER": "anthropic",
            "ANTHROPIC_API_KEY": "sk-ant-bench",
            "ANTHROPIC_BASE_URL": llm_url,
        },
    )
    from django.core.management import call_command
    from django_tenants.utils import tenant_context

    from actions import services
    from chat.models import Contact, Conversation
    from tenants.models import User
    from tenants.services import tenant_provision
    from widget_builder.models import Widget

    call_command("migrate", interactive=False, verbosity=0)
    owner = User.objects.create_user(email="bench-actions@example.com", password="bench-password-1")
    tenant = tenant_provision(slug="actbench", name="Actions bench", owner=owner)
    # The Business plan: room in the monthly quota of action calls for every round.
    type(tenant).objects.filter(pk=tenant.pk).update(plan="business")
    tenant.plan = "business"
    with tenant_context(tenant):
        services.action_create(
            data={
                "name": "order_status",
                "description": "Where an order is.",
                "parameters": {
                    "type": "object",
                    "properties": {"order_id": {"type": "string", "pattern": "^[0-9]{1,10}$"}},
                    "required": ["order_id"],
                },
                "method": "GET",
                "url": endpoint.url + "/orders/{order_id}",
                "headers": {"Authorization": "Bearer bench"},
                "response_fields": ["status"],
                "audience": "verified",
            }
        )
        widget = Widget.objects.order_by("id").first()
        contact = Contact.objects.create(widget=widget, external_id="cust-1", identity_verified=True)
        conversation = Conversation.objects.create(widget=widget, contact=contact)
    return tenant, conversation.pk


def main() -> int:
    from tests.fakes.action_endpoint import ActionEndpoint, Answer
    from tests.fakes.llm_server import FakeLLMServer

    print(f"AI actions benchmark: database {BENCH_DB}, {CALLS} calls each, a local endpoint", flush=True)
    body = b'{"status": "shipped", "carrier": "DHL"}'
    fake = FakeLLMServer().start()
    with ActionEndpoint() as endpoint:
        endpoint.answers = [Answer(body=body) for _ in range(4 * (CALLS + WARMUP))]
        tenant, conversation_id = _setup(endpoint, fake.url)
        from django_tenants.utils import tenant_context

        from actions import sending
        from actions.tools import ActionTools

        tools = ActionTools()
        results: dict = {}
        with tenant_context(tenant):
            bare, full = [], []
            for n in range(CALLS + WARMUP):
                started = time.perf_counter()
                reply = sending.send(
                    "GET",
                    f"{endpoint.url}/orders/{n}",
                    body=b"",
                    headers={"X-Chatbot-Action": "bench"},
                    timeout=5.0,
                )
                elapsed = (time.perf_counter() - started) * 1000
                if reply.status != 200:
                    raise RuntimeError(f"the endpoint answered {reply.status}")
                started = time.perf_counter()
                text, is_error = tools.call(
                    conversation_id=conversation_id,
                    name="order_status",
                    arguments={"order_id": str(n)},
                    arguments_error="",
                )
                took = (time.perf_counter() - started) * 1000
                if is_error:
                    raise RuntimeError(f"the call failed: {text}")
                if n >= WARMUP:
                    bare.append(elapsed)
                    full.append(took)
        for name, values in (("bare_request", bare), ("action_call", full)):
            results[name] = {
                "p50_ms": round(statistics.median(values), 2),
                "p95_ms": round(_pct(values, 0.95), 2),
                "calls": len(values),
            }
        added = results["action_call"]["p50_ms"]
        platform = added - results["bare_request"]["p50_ms"]
        results["platform_part_p50_ms"] = round(platform, 2)
        print(
            f"  bare signed request: p50 {results['bare_request']['p50_ms']:.2f} ms, "
            f"p95 {results['bare_request']['p95_ms']:.2f} ms",
            flush=True,
        )
        print(
            f"  one action call added to an answer: p50 {added:.2f} ms (target <= 20), "
            f"p95 {results['action_call']['p95_ms']:.2f} ms; the platform's part {platform:.2f} ms "
            f"(x{added / max(results['bare_request']['p50_ms'], 1e-9):.1f} the bare request)",
            flush=True,
        )
        from bench.actions_files import files_part

        try:
            results["files"] = files_part(tenant, fake)
        finally:
            fake.stop()
        results["load_average"] = os.getloadavg()[0]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "actions.json").write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
