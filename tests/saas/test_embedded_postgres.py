"""The embedded PostgreSQL says clearly what to do when its port is taken."""

from __future__ import annotations

import socket

import pytest

from saas.embedded_postgres import EmbeddedPostgres, EmbeddedPostgresError


def test_taken_port_is_a_clear_error(tmp_path):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        server = EmbeddedPostgres(data_dir=tmp_path / "pg", port=port)
        with pytest.raises(EmbeddedPostgresError) as info:
            server.ensure_running()
    message = str(info.value)
    assert f"Port {port}" in message and "EMBEDDED_DB_PORT" in message and "DATABASE_URL" in message
    assert not (tmp_path / "pg" / "PG_VERSION").exists()  # refused before touching anything


def test_a_stopped_server_is_reported_as_not_running(tmp_path):
    assert not EmbeddedPostgres(data_dir=tmp_path / "none", port=1).is_running()


def test_the_suite_runs_on_postgres_16_with_pgvector(db):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('server_version_num')::int")
        assert cursor.fetchone()[0] >= 160000
        cursor.execute(
            "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
            "WHERE e.extname = 'vector'"
        )
        assert cursor.fetchone()[0] == "public"
