"""Webhook delivery benchmark (`make bench BENCH_ARGS=webhooks` or `python -m bench webhooks`).

One workspace with one endpoint on a local receiver (a real HTTP server in a thread on
127.0.0.1, allow-listed), in its own database. One worker thread runs the delivery task's
body (``webhooks.services.delivery_attempt``: claim, sign, POST through the pinned outbound
path, record) for each delivery queued, in the workspace's schema; the broker hop of a real
Celery worker (a Redis publish and fetch) is not in these figures.

1. Deliveries per second: BENCH_WEBHOOKS_EVENTS events (default 2000) emitted, then
   delivered by the one worker; the figure is deliveries over the draining time.
2. The delay from event to delivery: events emitted one at a time at BENCH_WEBHOOKS_RATE
   per second (default 20, under what one worker delivers) while the worker delivers; for each, the time from the event's
   ``timestamp`` (set when it is emitted, before its transaction commits) to the receiver
   reading the request: p50/p95.
"""

from __future__ import annotations

import json
import math
import os
import queue
import statistics
import sys
import threading
import time
from datetime import datetime

from bench.tenancy import RESULTS, django_start

BENCH_DB = "saas_bench_webhooks"
EVENTS = int(os.environ.get("BENCH_WEBHOOKS_EVENTS", "2000"))
RATE = float(os.environ.get("BENCH_WEBHOOKS_RATE", "20"))
LATENCY_EVENTS = int(os.environ.get("BENCH_WEBHOOKS_LATENCY_EVENTS", "300"))


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p * len(ordered)) - 1)]


class Worker(threading.Thread):
    """Runs the delivery task's body for each id put on ``jobs``, in ``schema``."""

    def __init__(self, schema: str) -> None:
        super().__init__(daemon=True, name="webhook-worker")
        self.schema, self.jobs = schema, queue.Queue()
        self.done = 0

    def run(self) -> None:
        from django.db import connection
        from django_tenants.utils import schema_context

        from webhooks.services import delivery_attempt

        with schema_context(self.schema):
            while (delivery_id := self.jobs.get()) is not None:
                delivery = delivery_attempt(delivery_id=delivery_id)
                if delivery is None or delivery.status != "succeeded":
                    raise RuntimeError(f"delivery {delivery_id} did not succeed")
                self.done += 1
        connection.close()


def _setup(receiver):
    django_start(BENCH_DB, env={"WEBHOOKS_PRIVATE_ALLOWLIST": receiver.address})
    from django.core.management import call_command
    from django_tenants.utils import tenant_context

    from tenants.models import User
    from tenants.services import tenant_provision
    from webhooks import services

    call_command("migrate", interactive=False, verbosity=0)
    owner = User.objects.create_user(email="bench-webhooks@example.com", password="bench-password-1")
    tenant = tenant_provision(slug="hookbench", name="Webhooks bench", owner=owner)
    with tenant_context(tenant):
        services.endpoint_create(url=receiver.url + "/hook", event_types=["message.created"])
    return tenant


def _emit(n: int) -> None:
    from webhooks.services import event_emit

    event_emit(
        event_type="message.created",
        data={"message": {"id": n, "role": "visitor", "text": f"Message {n} " + "x" * 200}},
    )


def main() -> int:
    from tests.fakes.webhook_receiver import WebhookReceiver

    received: dict[str, float] = {}

    class Receiver(WebhookReceiver):
        def handler_class(self):
            base = super().handler_class()

            class Timed(base):
                def do_POST(self) -> None:
                    super().do_POST()
                    received[self.headers["webhook-id"]] = time.time()

            return Timed

    print(f"Webhooks benchmark: database {BENCH_DB}, one worker thread, a local receiver", flush=True)
    with Receiver() as receiver:
        tenant = _setup(receiver)
        from django_tenants.utils import tenant_context

        import webhooks.services
        from webhooks.models import Event

        worker = Worker(tenant.schema_name)
        from django.db import transaction

        def enqueue(task, delivery_id: int) -> None:  # as saas.celery's: after the commit
            transaction.on_commit(lambda: worker.jobs.put(delivery_id))

        webhooks.services.enqueue_on_commit = enqueue
        results: dict = {}
        with tenant_context(tenant):
            # 1. Throughput: queue everything, then let the one worker drain it.
            for n in range(EVENTS):
                _emit(n)
            started = time.perf_counter()
            worker.start()
            while worker.done < EVENTS:
                time.sleep(0.005)
            drained = time.perf_counter() - started
            rate = EVENTS / drained
            results["throughput"] = {
                "deliveries": EVENTS,
                "seconds": round(drained, 2),
                "per_second": round(rate),
            }
            print(
                f"  {EVENTS} deliveries by one worker in {drained:.2f} s: {rate:.0f} deliveries/s", flush=True
            )

            # 2. Delay from event to delivery at a steady rate.
            received.clear()
            before = set(Event.objects.values_list("event_id", flat=True))
            start = time.perf_counter()
            for n in range(LATENCY_EVENTS):
                target = start + n / RATE
                time.sleep(max(0.0, target - time.perf_counter()))
                _emit(EVENTS + n)
            deadline = time.time() + 30
            events = list(Event.objects.exclude(event_id__in=before).values_list("event_id", "body"))
            while len([e for e, _ in events if e in received]) < len(events) and time.time() < deadline:
                time.sleep(0.01)
            delays = []
            for event_id, body in events:
                emitted = datetime.fromisoformat(
                    json.loads(body)["timestamp"].replace("Z", "+00:00")
                ).timestamp()
                delays.append((received[event_id] - emitted) * 1000)
            worker.jobs.put(None)
            worker.join(timeout=10)
        p50, p95 = statistics.median(delays), _pct(delays, 0.95)
        results["delay"] = {
            "events": len(delays),
            "rate_per_s": RATE,
            "p50_ms": round(p50, 1),
            "p95_ms": round(p95, 1),
        }
        print(
            f"  event -> delivery at {RATE:.0f} events/s ({len(delays)} events): "
            f"p50 {p50:.1f} ms, p95 {p95:.1f} ms",
            flush=True,
        )
        print(f"  receiver connections opened: {receiver.connections_opened}", flush=True)
        results["connections_opened"] = receiver.connections_opened
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "webhooks.json").write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
