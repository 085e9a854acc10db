"""Tenancy at scale (`make bench BENCH_ARGS=scale` or `python -m bench scale`): the figures of
docs/scaling.md.

One database is grown to ``BENCH_SCALE_TENANTS`` (10,000) workspaces (how: ``bench/scale_growth.py``;
the catalogue is sampled on the way), then, at that population:

1. the catalogue: rows of pg_class, pg_attribute, pg_namespace, pg_depend (and more), the
   on-disk size of the pg_catalog tables, the database's size; per tenant against a database
   holding one tenant, a line through the samples, extrapolated (``bench/scale_model.py``);
2. a trivial tenant request (the owner's dashboard) at 1 vs N tenants, alternating batches
   (``bench.tenancy.Bench.measure_request_latency``);
3. what one PostgreSQL backend costs after serving 1 ... ``BENCH_SCALE_BACKEND_MAX`` (2,000)
   different tenants through a web process's pooled connection (``bench/scale_backend.py``);
4. provisioning p50/p95 through ``tenant_provision``, with the pool (refilled by the real
   migrations) and without;
5. a no-op ``migrate_schemas`` (ours, best of 3) and the stock command per schema, x N;
6. messages/s of the full chat path on one vs two uvicorn processes: the ``chat`` suite's
   ``load`` part (``BENCH_CHAT_PARTS=load``, 20 workspaces unless ``BENCH_CHAT_TENANTS`` says
   otherwise), run as a subprocess; its figures and the ratio are repeated here.

Knobs: ``BENCH_SCALE_TENANTS`` (10000); ``BENCH_SCALE_KEEP=1`` keeps the grown database
(``saas_bench_scale``, or ``BENCH_SCALE_DB``) between runs and grows it only if it holds fewer
tenants; ``BENCH_SCALE_GROW_SECONDS`` stops the growth after so many seconds and measures
at the population reached; ``BENCH_SCALE_PARTS`` (``tenancy,chat``); ``BENCH_SCALE_BACKEND_MAX`` (2000).
Figures are printed and written to ``bench/results/scale.json`` after every step.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bench import scale_model
from bench.tenancy import RESULTS, Bench, recreate_database, server_url

ROOT = Path(__file__).resolve().parent.parent
DATABASE = os.environ.get("BENCH_SCALE_DB", "saas_bench_scale")
TENANTS = int(os.environ.get("BENCH_SCALE_TENANTS", "10000"))
KEEP = os.environ.get("BENCH_SCALE_KEEP", "") == "1"
GROW_SECONDS = float(os.environ.get("BENCH_SCALE_GROW_SECONDS", "0")) or None
BACKEND_MAX = int(os.environ.get("BENCH_SCALE_BACKEND_MAX", "2000"))
PARTS = [p.strip() for p in os.environ.get("BENCH_SCALE_PARTS", "tenancy,chat").split(",") if p.strip()]
EXTRAPOLATE_TO = (10_000, 50_000, 100_000)
CATALOGUE_KEYS = (
    "pg_class_rows",
    "pg_attribute_rows",
    "pg_namespace_rows",
    "pg_depend_rows",
    "pg_type_rows",
    "pg_constraint_rows",
    "pg_index_rows",
    "tenant_relations",
    "catalogue_bytes",
    "database_bytes",
)


def sample_points(target: int) -> set[int]:
    """Populations at which the catalogue is sampled while the database grows."""
    points = {n for n in (100, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000) if n < target}
    return points | {target}


def backend_stages(limit: int) -> list[int]:
    """1, 10, 100, 1,000, ... then ``limit`` (each a cumulative number of tenants served)."""
    stages = [n for n in (1, 10, 100, 1000, 10_000, 100_000) if n < limit]
    return [*stages, limit]


def _database_exists(base: str, name: str) -> bool:
    import psycopg  # the bench's own connection to the server, before Django starts

    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


def prepare() -> tuple[str, str, bool]:
    """The grown database (kept when BENCH_SCALE_KEEP=1 and it exists) and a fresh database
    for one tenant; this process points at the grown one. Returns both URLs and whether
    the grown one was kept."""
    base = server_url()
    kept = KEEP and _database_exists(base, DATABASE)
    url = f"{base}/{DATABASE}" if kept else recreate_database(base, DATABASE)
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    os.environ.pop("REDIS_URL", None)  # in-process: measure the database, not a broker
    return url, recreate_database(base, f"{DATABASE}_one"), kept


def machine() -> dict:
    with open("/proc/meminfo") as file:
        memory_kib = int(file.readline().split()[1])
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kib / 1024**2, 1),
        "load_average_at_start": os.getloadavg(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def measure_catalogue(url: str, one_url: str, tenants: int, samples: dict) -> dict:
    import psycopg  # the bench's own connections, outside Django's

    from bench.scale_growth import catalogue, largest_catalogue_tables

    with psycopg.connect(url, autocommit=True) as conn:
        many = catalogue(conn)
        largest = largest_catalogue_tables(conn)
    with psycopg.connect(one_url, autocommit=True) as conn:
        one = catalogue(conn)
    samples = {int(n): s for n, s in samples.items()} | {many["schemas"]: many}
    points = {s["schemas"]: s for s in samples.values()}
    fits = {}
    for key in CATALOGUE_KEYS:
        xy = scale_model.series(points, key)
        if len(xy) >= 2:
            fit = scale_model.linear_fit(xy)
            fits[key] = fit | {"at": scale_model.extrapolate(xy, EXTRAPOLATE_TO)}
    each = scale_model.per_tenant(one, many, max(tenants, 2))
    print(
        f"  catalogue at {tenants} tenants ({many['schemas']} tenant schemas): pg_class {many['pg_class_rows']:,}"
        f" rows, pg_attribute {many['pg_attribute_rows']:,}, pg_namespace {many['pg_namespace_rows']:,},"
        f" pg_depend {many['pg_depend_rows']:,}; catalogue tables on disk"
        f" {scale_model.human_bytes(many['catalogue_bytes'])}, database {scale_model.human_bytes(many['database_bytes'])}",
        flush=True,
    )
    print(
        f"    per tenant: {each['pg_class_rows']:.0f} pg_class rows, {each['pg_attribute_rows']:.0f} pg_attribute,"
        f" {each['pg_depend_rows']:.0f} pg_depend; catalogue {scale_model.human_bytes(each['catalogue_bytes'])},"
        f" database {scale_model.human_bytes(each['database_bytes'])}",
        flush=True,
    )
    print(
        f"    largest catalogue tables: {', '.join(f'{k} {scale_model.human_bytes(v)}' for k, v in largest.items())}"
    )
    for key in ("catalogue_bytes", "database_bytes"):
        if key in fits:
            at = ", ".join(f"{n:,}: {scale_model.human_bytes(v)}" for n, v in fits[key]["at"].items())
            print(
                f"    {key} line through {len(points)} samples (r2 {fits[key]['r2']:.4f}): {at}", flush=True
            )
    return {
        "at_n": many,
        "one_tenant": one,
        "per_tenant": each,
        "largest_tables": largest,
        "samples": points,
        "fits": fits,
    }


def measure_backend(limit: int) -> dict:
    stages = backend_stages(limit)
    process = subprocess.run(
        [sys.executable, "-m", "bench.scale_backend", ",".join(map(str, stages))],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=dict(os.environ),
        check=False,
    )
    if process.returncode:
        raise RuntimeError(f"bench.scale_backend failed: {process.stderr[-2000:]}")
    lines = [json.loads(line) for line in process.stdout.splitlines() if line.startswith("{")]
    base = lines[0]["memory"]
    for line in lines[1:]:
        memory = line["memory"]
        rss = memory.get("RssAnon_bytes")
        print(
            f"  one pooled backend after {line['stage']:>5} different tenants: memory contexts"
            f" {scale_model.human_bytes(memory['contexts_bytes'])} (caches"
            f" {scale_model.human_bytes(memory['cache_contexts_bytes'])})"
            + (f", private RSS {scale_model.human_bytes(rss)}" if rss is not None else "")
            + f"; a tenant's first request p50 {line['first_request_ms']['p50']:.1f} ms,"
            f" a repeat p50 {line['repeat_request_ms']['p50']:.1f} ms",
            flush=True,
        )
    pids = {line["memory"]["pid"] for line in lines}
    grown = [(float(line["stage"]), float(line["memory"]["contexts_bytes"])) for line in lines[1:]]
    fit = scale_model.linear_fit(grown) if len(grown) >= 2 else None
    if fit:
        print(
            f"    each further tenant a backend serves adds {scale_model.human_bytes(fit['slope'])}"
            f" (r2 {fit['r2']:.3f}); one backend (pid kept: {len(pids) == 1})",
            flush=True,
        )
    return {"stages": lines, "baseline": base, "same_backend": len(pids) == 1, "bytes_per_tenant_served": fit}


def measure_migrate(bench: Bench) -> dict:
    figures = bench.measure_migrate_noop()
    figures["at"] = {
        n: scale_model.noop_migrate_seconds(figures["seconds"], figures["tenants"], n) for n in EXTRAPOLATE_TO
    }
    print(
        "    linear in schemas: " + ", ".join(f"{n:,} tenants ~{s:.0f} s" for n, s in figures["at"].items()),
        flush=True,
    )
    return figures


def run_chat() -> dict:
    """The chat suite's load part, in its own process and database."""
    env = {**os.environ, "BENCH_CHAT_PARTS": os.environ.get("BENCH_SCALE_CHAT_PARTS", "load")}
    env.setdefault("BENCH_CHAT_TENANTS", "20")
    started_load = os.getloadavg()
    code = subprocess.call([sys.executable, "-m", "bench.chat"], cwd=ROOT, env=env)
    if code:
        return {"error": f"bench.chat exited with {code}"}
    load = json.loads((RESULTS / "chat.json").read_text())["load"]
    one, two = load["one_process"]["per_second"], load["two_processes"]["per_second"]
    print(
        f"  full chat path: one uvicorn process {one:.1f} msg/s, two {two:.1f} msg/s: x{load['two_to_one']:.2f}"
        f" (load average before {started_load[0]:.1f}, after {os.getloadavg()[0]:.1f})",
        flush=True,
    )
    return {
        "one_process_per_second": one,
        "two_processes_per_second": two,
        "two_to_one": load["two_to_one"],
        "load": load,
        "load_average_before": started_load,
        "load_average_after": os.getloadavg(),
    }


def _save(results: dict) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "scale.json").write_text(json.dumps(results, indent=2, default=str))


def run_tenancy(results: dict) -> None:
    from bench.scale_growth import grow

    url, one_url, kept = prepare()
    bench = Bench(TENANTS, one_url)
    print(f"\n== growing to {TENANTS} tenants ({'kept database' if kept else 'new database'})", flush=True)
    growth = grow(bench, TENANTS, url, sample_at=sample_points(TENANTS), budget_s=GROW_SECONDS)
    n = bench.tenant_count()
    samples = growth.pop("samples")
    previous = (
        json.loads((RESULTS / "scale.json").read_text()) if kept and (RESULTS / "scale.json").exists() else {}
    )
    if not samples and previous.get("catalogue"):  # kept: the samples of the run that grew it
        samples = previous["catalogue"]["samples"]
    results["growth"] = growth | {"tenants": n, "kept": kept}
    print(f"  {n} tenants; grew {growth['grown']} in {growth['seconds']:.0f} s", flush=True)
    steps = (
        ("catalogue", lambda: measure_catalogue(url, one_url, n, samples)),
        ("request_latency", lambda: bench.measure_request_latency(n)),
        ("backend_memory", lambda: measure_backend(min(BACKEND_MAX, n))),
        ("provisioning_pool", lambda: bench.measure_provisioning(n, pooled=True, samples=20)),
        ("provisioning_no_pool", lambda: bench.measure_provisioning(n, pooled=False, samples=10)),
        ("migrate_noop", lambda: measure_migrate(bench)),
    )
    for name, step in steps:
        print(f"\n== {name.replace('_', ' ')} (load average {os.getloadavg()[0]:.1f})", flush=True)
        results[name] = step() | {"load_average": os.getloadavg()}
        _save(results)
    bench.one_tenant.close()


def main() -> int:
    unknown = set(PARTS) - {"tenancy", "chat"}
    if unknown:
        print(f"unknown BENCH_SCALE_PARTS: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    results: dict = {"machine": machine(), "target_tenants": TENANTS}
    if "tenancy" not in PARTS and (RESULTS / "scale.json").exists():  # keep the last run's tenancy figures
        results = json.loads((RESULTS / "scale.json").read_text()) | results
    print(
        f"Scale benchmark: {TENANTS} tenants in {DATABASE}; parts {','.join(PARTS)}; {results['machine']['cores']}"
        f" cores, load average {results['machine']['load_average_at_start'][0]:.1f}",
        flush=True,
    )
    started = time.perf_counter()
    if "tenancy" in PARTS:
        run_tenancy(results)
    if "chat" in PARTS:
        print("\n== chat: one vs two web processes", flush=True)
        results["chat"] = run_chat()
    results["total_seconds"] = time.perf_counter() - started
    _save(results)
    print(f"\nDone in {results['total_seconds']:.0f} s; figures in {RESULTS / 'scale.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
