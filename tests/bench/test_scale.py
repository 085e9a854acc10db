"""The ``scale`` benchmark suite (bench/scale.py): registered, importable, and its arithmetic
and catalogue reading right. The benchmark itself is not run here (it grows 10,000 tenants)."""

from __future__ import annotations

import importlib

import pytest
from django.db import connection

from bench import scale, scale_growth, scale_model
from bench.__main__ import SUITES


def test_the_scale_suite_is_registered_and_its_modules_import():
    assert "scale" in SUITES
    for module in ("bench.scale", "bench.scale_growth", "bench.scale_backend", "bench.scale_model"):
        assert importlib.import_module(module)


def test_a_line_through_points_on_it_fits_exactly():
    fit = scale_model.linear_fit([(100, 1_000), (1_000, 10_000), (10_000, 100_000)])
    assert fit["slope"] == pytest.approx(10)
    assert fit["intercept"] == pytest.approx(0, abs=1e-6)
    assert fit["r2"] == pytest.approx(1)


def test_a_line_through_scattered_points_says_how_well_it_fits():
    fit = scale_model.linear_fit([(1, 1), (2, 3), (3, 2), (4, 5)])
    assert fit["slope"] == pytest.approx(1.1)
    assert 0 < fit["r2"] < 0.9


@pytest.mark.parametrize("points", [[(1, 2)], [(5, 1), (5, 2)]])
def test_no_line_without_two_distinct_populations(points):
    with pytest.raises(ValueError, match="line"):
        scale_model.linear_fit(points)


def test_extrapolation_follows_the_fitted_line_with_its_fixed_part():
    at = scale_model.extrapolate([(1_000, 3_000 + 1_000 * 700), (2_000, 3_000 + 2_000 * 700)], [100_000])
    assert at[100_000] == pytest.approx(3_000 + 100_000 * 700)


def test_per_tenant_costs_are_measured_against_the_one_tenant_database():
    one = {"pg_class_rows": 1_000, "database_bytes": 10_000_000, "only_here": 1}
    many = {"pg_class_rows": 1_000 + 260 * 9_999, "database_bytes": 10_000_000 + 2_500_000 * 9_999}
    assert scale_model.per_tenant(one, many, 10_000) == {
        "pg_class_rows": pytest.approx(260),
        "database_bytes": pytest.approx(2_500_000),
    }
    with pytest.raises(ValueError):
        scale_model.per_tenant(one, many, 1)


def test_series_orders_samples_by_population_and_skips_missing_figures():
    samples = {5_000: {"x": 50}, 1_000: {"x": 10}, 2_000: {"y": 1}}
    assert scale_model.series(samples, "x") == [(1_000.0, 10.0), (5_000.0, 50.0)]


def test_the_noop_migrate_scales_with_the_schemas():
    assert scale_model.noop_migrate_seconds(12.0, 10_000, 100_000) == pytest.approx(120.0)
    with pytest.raises(ValueError):
        scale_model.noop_migrate_seconds(1.0, 0, 10)


@pytest.mark.parametrize(
    ("value", "text"),
    [(0, "0 B"), (1023, "1023 B"), (1536, "1.5 KiB"), (3 * 1024**3, "3.0 GiB"), (-2048, "-2.0 KiB")],
)
def test_human_bytes(value, text):
    assert scale_model.human_bytes(value) == text


def test_a_backend_status_file_gives_its_memory_in_bytes():
    status = (
        "Name:\tpostgres\nVmPeak:\t  300000 kB\nVmRSS:\t   20480 kB\n"
        "RssAnon:\t    4096 kB\nRssShmem:\t 16000 kB\n"
    )
    assert scale_model.parse_proc_status(status) == {
        "VmRSS": 20480 * 1024,
        "RssAnon": 4096 * 1024,
        "RssShmem": 16000 * 1024,
    }


def test_stages_and_samples_end_at_the_population_asked_for():
    assert scale.backend_stages(2_000) == [1, 10, 100, 1_000, 2_000]
    assert scale.backend_stages(1) == [1]
    assert scale.sample_points(10_000) == {100, 500, 1_000, 2_000, 5_000, 10_000}
    assert scale.sample_points(300) == {100, 300}


def test_clones_are_dealt_in_batches_to_every_connection():
    dealt = scale_growth._batches(107)
    assert len(dealt) == scale_growth.CLONE_CONNECTIONS
    assert sum(map(sum, dealt)) == 107
    assert max(max(batches) for batches in dealt) <= scale_growth.CLONE_BATCH
    assert scale_growth._batches(0) == [[] for _ in range(scale_growth.CLONE_CONNECTIONS)]


def test_an_index_predicate_spelled_either_way_reads_the_same():
    # What pg_dump's round trip made of the unread-conversations index.
    migrated = (
        "CREATE INDEX i ON .c USING btree (w) WHERE (((status)::text = ANY "
        "((ARRAY['waiting'::character varying, 'agent'::character varying])::text[])) AND (a > b))"
    )
    restored = (
        "CREATE INDEX i ON .c USING btree (w) WHERE (((status)::text = ANY "
        "(ARRAY[('waiting'::character varying)::text, ('agent'::character varying)::text])) AND (a > b))"
    )
    assert scale_growth._canonical(migrated) == scale_growth._canonical(restored)
    assert scale_growth._canonical(migrated) != scale_growth._canonical(migrated.replace("a > b", "a >= b"))


def test_two_migrated_tenant_schemas_have_the_same_shape_and_a_third_differs(tenant_a, tenant_b):
    conn = connection.connection
    shape_a = scale_growth.schema_shape(conn, tenant_a.tenant.schema_name)
    assert shape_a == scale_growth.schema_shape(conn, tenant_b.tenant.schema_name)
    assert ("rows", "django_migrations", "0") not in shape_a
    assert any(kind == "column" and definition.startswith("vector(") for kind, _, definition in shape_a)
    with connection.cursor() as cursor:
        cursor.execute(f'ALTER TABLE "{tenant_b.tenant.schema_name}".chat_contact ADD COLUMN probe integer')
    assert scale_growth.schema_shape(conn, tenant_b.tenant.schema_name) != shape_a


def test_the_catalogue_counts_the_tenant_schemas_and_their_relations(tenant_a, tenant_b):
    figures = scale_growth.catalogue(connection.connection)
    assert figures["schemas"] >= 2
    assert figures["tenant_relations"] >= 2 * 100
    assert figures["pg_attribute_rows"] > figures["pg_class_rows"] > figures["pg_namespace_rows"]
    assert 0 < figures["catalogue_bytes"] < figures["database_bytes"]
