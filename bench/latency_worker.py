"""A process that times dashboard requests against one benchmark database on demand.

The benchmark runs one of these per database (1 tenant, N tenants) and alternates their
batches, so both populations are measured under the same machine load.
Protocol: read a batch size per line on stdin, answer the batch's timings (ms, JSON).
"""

from __future__ import annotations

import json
import os
import sys
import time

from bench.tenancy import login_bound


def main() -> int:
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    import django

    django.setup()
    from django.test import Client

    from tenants.models import Tenant, User

    email = sys.argv[1]
    if "--seed" in sys.argv:  # a database of its own with exactly one tenant
        from django.core.management import call_command

        from tenants.services import tenant_provision

        call_command("migrate", interactive=False, verbosity=0)
        owner = User.objects.create_user(email=email, password="bench-password-1")
        tenant_provision(slug="bench-only", name="Only tenant", owner=owner)
    client = Client()
    tenant = Tenant.objects.order_by("id").first()
    login_bound(client, User.objects.get(email=email), tenant)
    host = f"{tenant.slug}.bench.test"
    for _ in range(50):  # warm-up
        response = client.get("/dashboard/", HTTP_HOST=host)
    if not response.wsgi_request.user.is_authenticated:
        print(json.dumps({"error": "the owner is not signed in on the tenant's host"}), flush=True)
        return 1
    print("ready", flush=True)
    for line in sys.stdin:
        timings = []
        for _ in range(int(line)):
            started = time.perf_counter()
            response = client.get("/dashboard/", HTTP_HOST=host)
            timings.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                print(json.dumps({"error": response.status_code}), flush=True)
                return 1
        print(json.dumps(timings), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
