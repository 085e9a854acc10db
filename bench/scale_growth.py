"""Growing the scale benchmark's database to BENCH_SCALE_TENANTS workspaces (``bench/scale.py``).

Migrating a schema takes about 2 s here (Django's migration executor in Python), so 10,000
workspaces through ``tenant_provision``'s slow path would take over five hours. Instead:

1. one spare schema is made by ``tenant_pool_refill``, the real migrations;
2. ``pg_dump`` of that schema (its DDL and its rows: ``django_migrations``) is replayed under
   new schema names by ``CLONE_CONNECTIONS`` connections in parallel, ``CLONE_BATCH``
   schemas per transaction, each recorded as a spare in the same transaction; the first
   clone's shape (every column's type, every index, constraint and trigger) is compared with
   the migrated template before any other is made, so a clone is the schema migrations make;
3. every workspace is created by ``tenant_provision`` claiming a spare: the real fast path
   (tenant, domain, membership, the workspace's defaults), while the clones are being made.

This is not django-tenants' ``clone_schema`` (which loses the dimension of ``vector(N)``
columns): ``pg_dump`` writes the types as the catalogue has them. The provisioning the bench
measures never uses a clone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
import warnings
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

CLONE_BATCH = 25
CLONE_CONNECTIONS = 2
PROGRESS_EVERY = 500

CATALOGUE_SQL = """
SELECT
    (SELECT count(*) FROM pg_namespace WHERE nspname ~ '^t_[a-z2-7]{16}$') AS schemas,
    (SELECT count(*) FROM pg_class) AS pg_class_rows,
    (SELECT count(*) FROM pg_attribute) AS pg_attribute_rows,
    (SELECT count(*) FROM pg_namespace) AS pg_namespace_rows,
    (SELECT count(*) FROM pg_depend) AS pg_depend_rows,
    (SELECT count(*) FROM pg_type) AS pg_type_rows,
    (SELECT count(*) FROM pg_constraint) AS pg_constraint_rows,
    (SELECT count(*) FROM pg_index) AS pg_index_rows,
    (SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c
      WHERE c.relnamespace = 'pg_catalog'::regnamespace AND c.relkind = 'r') AS catalogue_bytes,
    (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname ~ '^t_[a-z2-7]{16}$') AS tenant_relations,
    pg_database_size(current_database()) AS database_bytes
"""
LARGEST_CATALOGUE_TABLES_SQL = """
SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c
WHERE c.relnamespace = 'pg_catalog'::regnamespace AND c.relkind = 'r'
ORDER BY 2 DESC LIMIT 6
"""
# A schema's shape, with its own name taken out of the definitions.
SHAPE_SQL = """
SELECT 'column', c.relname || '.' || a.attname,
       format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE c.relnamespace = %(schema)s::text::regnamespace
UNION ALL
SELECT 'index', indexname::text, replace(indexdef, %(schema)s::text, '')
  FROM pg_indexes WHERE schemaname = %(schema)s::text
UNION ALL
SELECT 'constraint', c.relname || '.' || k.conname, replace(pg_get_constraintdef(k.oid), %(schema)s::text, '')
  FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
 WHERE k.connamespace = %(schema)s::text::regnamespace
UNION ALL
SELECT 'trigger', c.relname || '.' || t.tgname, replace(pg_get_triggerdef(t.oid), %(schema)s::text, '')
  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
 WHERE c.relnamespace = %(schema)s::text::regnamespace AND NOT t.tgisinternal
"""


def pg_dump_command() -> str:
    """The ``pg_dump`` matching the embedded server (pgserver's), else the one on PATH."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pgserver warns about a runtime directory it never uses
        try:
            from pgserver import _commands
        except ImportError:
            _commands = None
    if _commands is not None and (Path(_commands.POSTGRES_BIN_PATH) / "pg_dump").exists():
        return str(Path(_commands.POSTGRES_BIN_PATH) / "pg_dump")
    found = shutil.which("pg_dump")
    if not found:
        raise RuntimeError("pg_dump is needed to grow the scale benchmark's database")
    return found


def schema_sql(database_url: str, schema: str) -> str:
    """DDL and rows of ``schema`` as SQL statements (no COPY), ready to replay renamed."""
    common = [pg_dump_command(), "--no-owner", "--no-privileges", "--schema", schema, database_url]
    ddl = subprocess.run([*common, "--schema-only"], capture_output=True, text=True, check=True).stdout
    rows = subprocess.run(
        [*common, "--data-only", "--inserts"], capture_output=True, text=True, check=True
    ).stdout
    return ddl + rows


def _canonical(definition: str) -> str:
    """An index or constraint definition without its casts, brackets and spaces: pg_dump's
    round trip may spell an index predicate's casts differently (``(ARRAY['a'::character
    varying])::text[]`` comes back as ``ARRAY[('a'::character varying)::text]``)."""
    for noise in ("::character varying[]", "::character varying", "::text[]", "::text", "(", ")", " "):
        definition = definition.replace(noise, "")
    return definition


def schema_shape(conn, schema: str) -> list[tuple]:
    rows = [
        (kind, name, _canonical(definition) if kind != "column" else definition)
        for kind, name, definition in conn.execute(SHAPE_SQL, {"schema": schema}).fetchall()
    ]
    (migrations,) = conn.execute(f'SELECT count(*) FROM "{schema}".django_migrations').fetchone()
    return [*sorted(tuple(row) for row in rows), ("rows", "django_migrations", str(migrations))]


def catalogue(conn) -> dict:
    """Rows and bytes of the catalogue, the tenant schemas and the database, now."""
    cursor = conn.execute(CATALOGUE_SQL)
    names = [column.name for column in cursor.description]
    return {name: int(value or 0) for name, value in zip(names, cursor.fetchone(), strict=True)}


def largest_catalogue_tables(conn) -> dict[str, int]:
    return dict(conn.execute(LARGEST_CATALOGUE_TABLES_SQL).fetchall())


def _clone(database_url: str, sql: str, template: str, batches: list[int], stop: threading.Event) -> int:
    import psycopg  # the grower's own connections, outside Django's

    from tenants.models import SpareSchema, new_schema_name

    made = 0
    with psycopg.connect(database_url, autocommit=True) as conn:
        for size in batches:
            if stop.is_set():
                break
            names = [new_schema_name() for _ in range(size)]
            with conn.transaction():
                for name in names:
                    conn.execute(sql.replace(template, name))
                conn.execute(
                    f"INSERT INTO public.{SpareSchema._meta.db_table} (schema_name, created_at) "  # a model's table name
                    "SELECT unnest(%s::text[]), now()",
                    [names],
                )
            made += size
    return made


def _fsync_off(conn) -> bool:
    """Creating an index syncs its new file at once (``DataFileImmediateSync``): 136 syncs
    per schema made the growth wait on the disk. With ``fsync`` off on the bench's server
    while it grows (a superuser's ``ALTER SYSTEM``; where refused, it grows at the disk's
    pace). Nothing is measured meanwhile; ``_fsync_restore`` puts it back before anything is."""
    import psycopg  # as the caller's connection

    try:
        conn.execute("ALTER SYSTEM SET fsync = off")
        conn.execute("SELECT pg_reload_conf()")
    except psycopg.Error as exc:
        print(f"    fsync stays on ({exc.sqlstate}): growing at the disk's pace", flush=True)
        return False
    return True


def _fsync_restore(conn) -> None:
    """``fsync`` back on, then a checkpoint, so every file the growth wrote is on disk before
    the measurements start (and no checkpoint of the growth's writes runs during them)."""
    conn.execute("ALTER SYSTEM RESET fsync")
    conn.execute("SELECT pg_reload_conf()")
    started = time.perf_counter()
    conn.execute("CHECKPOINT")
    print(
        f"    fsync on again; checkpoint of the growth's writes took {time.perf_counter() - started:.0f} s",
        flush=True,
    )


def _batches(count: int) -> list[list[int]]:
    """``count`` clones in batches of CLONE_BATCH, dealt to the CLONE_CONNECTIONS."""
    sizes = [min(CLONE_BATCH, count - start) for start in range(0, count, CLONE_BATCH)]
    return [sizes[i::CLONE_CONNECTIONS] for i in range(CLONE_CONNECTIONS)]


class _Growth:
    """One growth run: the template, the clones in flight, the claims, the samples."""

    def __init__(self, bench, target: int, database_url: str, sample_at: set[int], budget_s: float | None):
        self.bench, self.target, self.url, self.sample_at = bench, target, database_url, sample_at
        self.have = self.start = bench.tenant_count()
        self.samples: dict[int, dict] = {}
        self.started = time.perf_counter()
        self.deadline = self.started + budget_s if budget_s else float("inf")
        self.stop = threading.Event()
        self.since, self.since_at = self.started, self.have

    def template(self, conn) -> tuple[str, str]:
        """A spare migrated for real, its SQL, and a first clone checked against it."""
        # Django is set up by the bench before growing: models and services load then.
        from tenants.models import SpareSchema
        from tenants.services import tenant_pool_refill

        self.bench.empty_pool()
        tenant_pool_refill(size=1)
        template = SpareSchema.objects.get().schema_name
        sql = schema_sql(self.url, template)
        if self.target - self.have > 1:
            _clone(self.url, sql, template, [1], threading.Event())
            first = SpareSchema.objects.exclude(schema_name=template).get().schema_name
            if schema_shape(conn, first) != schema_shape(conn, template):
                raise RuntimeError(f"the clone {first} differs from the migrated {template}")
        return template, sql

    def sample(self, conn) -> None:
        self.samples[self.have] = catalogue(conn) | {"tenants": self.have, "load_average": os.getloadavg()}

    def progress(self) -> None:
        now = time.perf_counter()
        print(
            f"    ... {self.have} tenants ({now - self.started:.0f} s, {(self.have - self.since_at) / (now - self.since):.1f}"
            f" tenants/s lately; load average {os.getloadavg()[0]:.1f})",
            flush=True,
        )
        self.since, self.since_at = now, self.have

    def claim_all(self, conn, futures: list[Future]) -> bool:
        """Create tenants from the spares as they come until the target or the deadline;
        returns whether the deadline stopped it."""
        # Django is set up by the bench before growing.
        from tenants.models import SpareSchema

        while self.have < self.target:
            if time.perf_counter() > self.deadline:
                self.stop.set()
                print(f"    growth budget spent at {self.have} tenants: measuring there", flush=True)
                return True
            if not SpareSchema.objects.exists():
                if all(f.done() for f in futures):
                    for f in futures:
                        f.result()  # a clone's error, raised here
                    raise RuntimeError(f"no spare schema left at {self.have} tenants")
                time.sleep(0.05)
                continue
            self.bench.provision()
            self.have += 1
            if self.have in self.sample_at:
                self.sample(conn)
            if self.have % PROGRESS_EVERY == 0:
                self.progress()
        return False

    def run(self) -> dict:
        import psycopg  # the grower's own connection, outside Django's

        with psycopg.connect(self.url, autocommit=True) as conn:
            unsynced = _fsync_off(conn)
            try:
                return self._run(conn)
            finally:
                if unsynced:
                    _fsync_restore(conn)

    def _run(self, conn) -> dict:
        if self.have:  # a kept database grows on: where it starts is a sample too
            self.sample(conn)
        template, sql = self.template(conn)
        clones = max(0, self.target - self.have - 2)  # the template and the checked clone
        print(
            f"    template {template} dumped and cloned once, same shape; cloning {clones} more",
            flush=True,
        )
        with ThreadPoolExecutor(CLONE_CONNECTIONS) as pool:
            futures = [
                pool.submit(_clone, self.url, sql, template, batches, self.stop)
                for batches in _batches(clones)
                if batches
            ]
            stopped_early = self.claim_all(conn, futures)
            for f in futures:
                f.result()
        self.bench.empty_pool()
        if self.have not in self.samples:
            self.sample(conn)
        return {
            "grown": self.have - self.start,
            "seconds": time.perf_counter() - self.started,
            "samples": self.samples,
            "stopped_early": stopped_early,
        }


def grow(bench, target: int, database_url: str, sample_at: set[int], budget_s: float | None = None) -> dict:
    """Grow ``bench``'s database (a ``bench.tenancy.Bench``) to ``target`` tenants, or as far
    as ``budget_s`` seconds allow; spare schemas left over are dropped.

    Returns what the growth took and the catalogue samples taken as it passed ``sample_at``
    (and where it stopped), keyed by the number of tenants at the time."""
    if bench.tenant_count() >= target:
        return {"grown": 0, "seconds": 0.0, "samples": {}, "stopped_early": False}
    return _Growth(bench, target, database_url, sample_at, budget_s).run()
