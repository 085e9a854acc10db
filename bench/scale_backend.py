"""A web process with one pooled database connection, serving the owner's dashboard for more
and more different tenants (``bench/scale.py``): what a PostgreSQL backend costs once it has
served many schemas.

A backend keeps every relation and catalogue row it has looked up in its caches (relcache,
catcache) for its whole life; a pooled connection of a web process serves every tenant, so
its memory grows with the tenants it has seen. For each stage (a number of different tenants
served so far, cumulative) it prints one JSON line: the first request to each new tenant
(the backend's caches miss) and a repeat request to tenants already seen (p50/p95, ms), and
the backend's memory: its memory contexts (total, and the cache contexts) and, when the
server runs on this machine, its ``/proc`` RSS (private: ``RssAnon``).

Usage: ``python -m bench.scale_backend <stage,stage,...>`` with DATABASE_URL set.
"""

from __future__ import annotations

import json
import os
import sys
import time

from bench.scale_model import parse_proc_status
from bench.tenancy import login_bound

MEMORY_SQL = """
SELECT pg_backend_pid(), sum(total_bytes),
       sum(total_bytes) FILTER (WHERE name = 'CacheMemoryContext' OR parent = 'CacheMemoryContext')
  FROM pg_backend_memory_contexts
"""


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


def backend_memory() -> dict:
    # Django is set up by main() first: imported here, not at the top.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(MEMORY_SQL)
        pid, total, cache = cursor.fetchone()
    connection.close()  # back to the pool, as at the end of a request
    figures = {"pid": pid, "contexts_bytes": int(total), "cache_contexts_bytes": int(cache or 0)}
    try:
        with open(f"/proc/{pid}/status") as file:
            figures |= {f"{name}_bytes": value for name, value in parse_proc_status(file.read()).items()}
    except OSError:  # the server runs elsewhere: the memory contexts only
        pass
    return figures


def main() -> int:
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    os.environ["DATABASE_POOL_MAX_SIZE"] = "1"  # one backend serves every request
    import django

    django.setup()
    # After django.setup(): models and the test client need the app registry.
    from django.conf import settings
    from django.test import Client

    from tenants.models import Membership, Tenant

    stages = [int(s) for s in sys.argv[1].split(",")]
    client = Client()
    tenants = list(Tenant.objects.filter(status=Tenant.Status.ACTIVE).order_by("id")[: max(stages)])
    owners = {
        m.tenant_id: m.user
        for m in Membership.objects.filter(tenant__in=tenants, role=Membership.Role.OWNER).select_related(
            "user"
        )
    }
    # A session per tenant for its owner, opened before anything is measured (a session
    # serves one tenant; each from a client of its own, as signing in again cycles the key).
    cookies = {tenant.slug: login_bound(Client(), owners[tenant.pk], tenant) for tenant in tenants}
    slugs = [tenant.slug for tenant in tenants]

    def get(slug: str) -> float:
        client.cookies[settings.SESSION_COOKIE_NAME] = cookies[slug]
        started = time.perf_counter()
        response = client.get("/dashboard/", HTTP_HOST=f"{slug}.bench.test")
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200 or not response.wsgi_request.user.is_authenticated:
            raise RuntimeError(f"{slug} answered {response.status_code} (signed in: no)")
        return elapsed

    print(json.dumps({"stage": 0, "memory": backend_memory()}), flush=True)
    served = 0
    for stage in stages:
        stage = min(stage, len(slugs))
        first = [get(slug) for slug in slugs[served:stage]]
        served = stage
        step = max(1, served // 100)
        repeat = [get(slug) for slug in slugs[:served:step]]
        line = {
            "stage": served,
            "first_request_ms": {"p50": _pct(first, 0.5), "p95": _pct(first, 0.95), "n": len(first)},
            "repeat_request_ms": {"p50": _pct(repeat, 0.5), "p95": _pct(repeat, 0.95), "n": len(repeat)},
            "memory": backend_memory(),
            "load_average": os.getloadavg(),
        }
        print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
