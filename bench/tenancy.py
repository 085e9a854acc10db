"""Tenancy benchmarks (`make bench` or `python -m bench tenancy`).

1. Provisioning: time from ``tenant_provision`` to the new tenant answering its owner's
   dashboard request, p50/p95, with the spare-schema pool and without, at 1, 100 and
   1,000 existing tenants (targets: p50 <= 100 ms with the pool, <= 1.5 s without).
2. A no-op ``migrate_schemas`` across every tenant (target <= 60 s at 1,000), and the
   stock django-tenants command's per-schema cost measured in the same run as a baseline.
3. Latency of a trivial tenant request (the owner's dashboard, through the whole
   middleware stack, in-process) at 1 vs 1,000 tenants (target: within 10%): a second
   database holds exactly one tenant, and batches alternate between the two databases.

It uses its own databases (``saas_bench`` and ``saas_bench_one``, recreated each run) on
the embedded server, or on the server of DATABASE_URL. ``BENCH_TENANTS`` lowers the largest population for a
quick run (e.g. ``make bench BENCH_ARGS= BENCH_TENANTS=200``). Results also go to
``bench/results/latest.json``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH_DB = "saas_bench"
BENCH_DB_ONE_TENANT = "saas_bench_one"
OWNER_EMAIL = "bench-owner@example.com"
RESULTS = Path(__file__).resolve().parent / "results"


def server_url() -> str:
    from saas.embedded_postgres import EmbeddedPostgres

    base_url = os.environ.get("DATABASE_URL")
    if not base_url:
        server = EmbeddedPostgres.from_env()
        server.ensure_running()
        base_url = server.url()
    return base_url.rsplit("/", 1)[0]


def django_start(database: str, env: dict[str, str] | None = None) -> None:
    """Start Django for a bench on a fresh database of its own (``database`` dropped and made
    again), with the bench settings, no Redis, and ``env`` set first."""
    os.environ["DATABASE_URL"] = recreate_database(server_url(), database)
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    os.environ.pop("REDIS_URL", None)
    os.environ.update(env or {})
    import django

    django.setup()


def login_bound(client, user, tenant) -> str:
    """Sign ``user`` in for ``tenant``'s host through the test ``client``: a session bound to
    that tenant (``tenants.sessions``), as signing in on the host opens. ``force_login`` alone
    opens an unbound session, which every tenant host refuses (the request is served as
    anonymous). Returns the session's cookie value, to switch tenants with."""
    # Django is set up by the caller: settings and the sessions module load after it.
    from django.conf import settings

    from tenants.sessions import session_bind, session_binding

    client.force_login(user)
    session = client.session
    session_bind(session, session_binding(tenant))
    session.save()
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def recreate_database(base: str, name: str) -> str:
    import psycopg

    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{base}/{name}"


def _prepare_databases() -> str:
    """Recreate the two benchmark databases; point this process at the growing one."""
    base = server_url()
    os.environ["DATABASE_URL"] = recreate_database(base, BENCH_DB)
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    os.environ.pop("REDIS_URL", None)  # in-process: measure the database, not a broker
    return recreate_database(base, BENCH_DB_ONE_TENANT)


class LatencyWorker:
    """A ``bench.latency_worker`` process serving timed batches for one database."""

    def __init__(self, database_url: str, owner_email: str, *, seed: bool = False) -> None:
        env = {**os.environ, "DATABASE_URL": database_url}
        args = [sys.executable, "-m", "bench.latency_worker", owner_email, *(["--seed"] if seed else [])]
        self.proc = subprocess.Popen(
            args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=Path(__file__).resolve().parent.parent,
        )
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError("latency worker failed to start")

    def batch(self, size: int) -> list[float]:
        self.proc.stdin.write(f"{size}\n")
        self.proc.stdin.flush()
        timings = json.loads(self.proc.stdout.readline())
        if isinstance(timings, dict):
            raise RuntimeError(f"latency worker: {timings}")
        return timings

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


class Bench:
    def __init__(self, largest: int, one_tenant_url: str) -> None:
        import django

        django.setup()
        from django.core.management import call_command
        from django.test import Client

        from tenants.models import User

        call_command("migrate", interactive=False, verbosity=0)
        self.largest = largest
        self.client = Client()
        # A kept database (bench.scale) already has its owner and its tenants.
        self.owner = User.objects.filter(email=OWNER_EMAIL).first() or User.objects.create_user(
            email=OWNER_EMAIL, password="bench-password-1"
        )
        self.one_tenant = LatencyWorker(one_tenant_url, OWNER_EMAIL, seed=True)
        self.client.force_login(self.owner)
        self.serial = self.tenant_count()
        self.results: dict = {"provisioning": {}, "request_latency": {}, "migrate_noop": {}}

    # -- helpers ---------------------------------------------------------------------

    def tenant_count(self) -> int:
        from tenants.models import Tenant

        return Tenant.objects.count()

    def owner_for(self, serial: int):
        """The owner of the ``serial``-th tenant: the bench's owner for the first, a user of
        its own for every other, as workspaces have. One owner of thousands of workspaces
        would make every page of theirs list them all, which is not what is measured."""
        from tenants.models import User

        if serial == 1:
            return self.owner
        email = f"owner-{serial}@bench.test"
        return User.objects.filter(email=email).first() or User.objects.create_user(
            email=email, password=None
        )

    def provision(self, owner=None):
        from tenants.services import tenant_provision

        self.serial += 1
        owner = owner or self.owner_for(self.serial)
        tenant = tenant_provision(slug=f"bench-{self.serial}", name=f"Bench {self.serial}", owner=owner)
        tenant.bench_owner = owner
        return tenant

    def request(self, tenant) -> None:
        login_bound(self.client, tenant.bench_owner, tenant)  # as the hand-off to the new host does
        response = self.client.get("/dashboard/", HTTP_HOST=f"{tenant.slug}.bench.test")
        if response.status_code != 200 or not response.wsgi_request.user.is_authenticated:
            raise RuntimeError(f"tenant {tenant.slug} answered {response.status_code} (signed in: no)")

    def grow_to(self, n: int) -> None:
        started = time.perf_counter()
        self.empty_pool()
        have = self.tenant_count()
        while have < n:
            self.provision()
            have += 1
            if have % 100 == 0:
                print(f"    ... {have} tenants ({time.perf_counter() - started:.0f} s)", flush=True)

    def empty_pool(self) -> None:
        from tenants.models import SpareSchema
        from tenants.services import schema_drop

        for spare in SpareSchema.objects.all():
            schema_drop(schema_name=spare.schema_name)
            spare.delete()

    # -- measurements ----------------------------------------------------------------

    def measure_provisioning(self, n: int, *, pooled: bool, samples: int) -> dict:
        from tenants.services import tenant_pool_refill

        self.empty_pool()
        if pooled:
            tenant_pool_refill(size=samples)
        timings = []
        for _ in range(samples):
            owner = self.owner_for(self.serial + 1)  # signed up before the timer starts
            started = time.perf_counter()
            tenant = self.provision(owner)
            self.request(tenant)
            timings.append(time.perf_counter() - started)
        summary = {
            "p50_ms": pct(timings, 0.5) * 1000,
            "p95_ms": pct(timings, 0.95) * 1000,
            "samples": samples,
        }
        label = "with pool   " if pooled else "without pool"
        print(
            f"  provisioning {label} at {n:>5} tenants: p50 {ms(pct(timings, 0.5))}  p95 {ms(pct(timings, 0.95))}"
        )
        return summary

    def measure_request_latency(self, n: int, rounds: int = 7, per_batch: int = 150) -> dict:
        """The owner's dashboard at ``n`` tenants vs in a database holding one tenant.

        Batches alternate between the two databases so both see the same machine load; the
        figure is the median of the batches' p50s.
        """
        many = LatencyWorker(os.environ["DATABASE_URL"], OWNER_EMAIL)
        try:
            one_p50s, many_p50s, one_all, many_all = [], [], [], []
            for _ in range(rounds):
                for worker, p50s, everything in (
                    (self.one_tenant, one_p50s, one_all),
                    (many, many_p50s, many_all),
                ):
                    timings = worker.batch(per_batch)
                    p50s.append(pct(timings, 0.5))
                    everything += timings
        finally:
            many.close()
        one, many_ = statistics.median(one_p50s), statistics.median(many_p50s)
        ratio = many_ / one
        print(
            f"  trivial tenant request: 1 tenant p50 {one:6.2f} ms p95 {pct(one_all, 0.95):6.2f} ms | "
            f"{n} tenants p50 {many_:6.2f} ms p95 {pct(many_all, 0.95):6.2f} ms | x{ratio:.3f} (target <= 1.10)"
        )
        return {
            "tenants": n,
            "one_tenant_p50_ms": one,
            "one_tenant_p95_ms": pct(one_all, 0.95),
            "p50_ms": many_,
            "p95_ms": pct(many_all, 0.95),
            "ratio_p50": ratio,
            "requests_each": rounds * per_batch,
        }

    def measure_migrate_noop(self) -> dict:
        from django.core.management import call_command
        from django_tenants.management.commands.migrate_schemas import MigrateSchemasCommand

        from tenants.models import Tenant

        n = self.tenant_count()
        runs = []
        for _ in range(3):
            started = time.perf_counter()
            call_command("migrate_schemas", interactive=False, verbosity=0)
            runs.append(time.perf_counter() - started)
        ours = min(runs)

        # Baseline: the stock django-tenants command, one schema at a time, same run.
        sample = list(Tenant.objects.order_by("id").values_list("schema_name", flat=True)[:25])
        started = time.perf_counter()
        for schema in sample:
            call_command(MigrateSchemasCommand(), schema_name=schema, interactive=False, verbosity=0)
        stock_per_schema = (time.perf_counter() - started) / len(sample)
        stock_total = stock_per_schema * n
        print(
            f"  no-op migrate_schemas, {n} tenants: {ours:.2f} s (best of 3); stock command "
            f"{stock_per_schema * 1000:.0f} ms/schema -> ~{stock_total:.0f} s "
            f"(x{stock_total / ours:.0f} slower)"
        )
        return {
            "tenants": n,
            "seconds": ours,
            "runs": runs,
            "stock_ms_per_schema": stock_per_schema * 1000,
            "stock_estimated_seconds": stock_total,
        }

    def run(self) -> dict:
        stages = [n for n in (1, 100, 1000) if n <= self.largest] or [self.largest]
        if self.largest not in stages:
            stages.append(self.largest)
        for n in stages:
            print(f"\n== {n} tenant(s)", flush=True)
            self.grow_to(n)
            actual = self.tenant_count()
            self.results["request_latency"][n] = self.measure_request_latency(actual)
            self.results["provisioning"][f"{n}/pool"] = self.measure_provisioning(
                actual, pooled=True, samples=20
            )
            self.results["provisioning"][f"{n}/no-pool"] = self.measure_provisioning(
                actual, pooled=False, samples=10
            )
        print("\n== migrations", flush=True)
        self.results["migrate_noop"] = self.measure_migrate_noop()
        self.one_tenant.close()
        return self.results


def main() -> int:
    largest = int(os.environ.get("BENCH_TENANTS", "1000"))
    print(f"Tenancy benchmark: database {BENCH_DB}, up to {largest} tenants", flush=True)
    one_tenant_url = _prepare_databases()
    started = time.perf_counter()
    results = Bench(largest, one_tenant_url).run()
    results["total_seconds"] = time.perf_counter() - started
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2, default=str))
    print(f"\nDone in {results['total_seconds']:.0f} s; figures in {RESULTS / 'latest.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
