"""Embedded PostgreSQL 16 + pgvector for machines without ``DATABASE_URL``.

The server binaries come from the ``pgserver`` PyPI package. The data directory lives
under ``.data/postgres`` and the server listens on ``127.0.0.1:EMBEDDED_DB_PORT`` only
(default 54329), with no Unix socket, so a long checkout path never breaks it.

Used three ways:

* settings call :func:`ensure_running` when ``DATABASE_URL`` is unset, so every process
  (``manage.py``, uvicorn, a Celery worker, pytest) finds the database up;
* ``python -m saas.embedded_postgres start|stop|status`` for the Makefile;
* ``python -m saas.embedded_postgres run -- CMD ...`` starts the server if needed, runs
  CMD, and stops the server afterwards only if this call was the one that started it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = BASE_DIR / ".data" / "postgres"
DEFAULT_PORT = 54329
SUPERUSER = "postgres"
DATABASE = "saas"
START_TIMEOUT_S = 30


def _pgserver_commands():
    # Importing pgserver warns about XDG_RUNTIME_DIR for a runtime path we never use.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pgserver import _commands  # under the filter: its import-time warning
    return _commands


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be started; the message says what to do."""


@dataclass(frozen=True)
class EmbeddedPostgres:
    data_dir: Path = DEFAULT_DATA_DIR
    port: int = DEFAULT_PORT

    @classmethod
    def from_env(cls) -> EmbeddedPostgres:
        data_dir = Path(os.environ.get("EMBEDDED_DB_DIR") or DEFAULT_DATA_DIR)
        try:
            port = int(os.environ.get("EMBEDDED_DB_PORT") or DEFAULT_PORT)
        except ValueError as exc:
            raise EmbeddedPostgresError("EMBEDDED_DB_PORT must be a port number") from exc
        return cls(data_dir=data_dir.resolve(), port=port)

    # -- addresses -------------------------------------------------------------------

    def url(self, database: str = DATABASE) -> str:
        return f"postgres://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    # -- state -----------------------------------------------------------------------

    def running_pid(self) -> int | None:
        """PID of the postmaster serving this data directory, if it is alive."""
        pid_file = self.data_dir / "postmaster.pid"
        try:
            lines = pid_file.read_text().splitlines()
        except (FileNotFoundError, PermissionError):
            return None
        if not lines or not lines[0].strip().isdigit():
            return None
        pid = int(lines[0])
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass  # alive, owned by the unprivileged postgres user
        # line 4 is the port, line 8 the status ("ready" once accepting connections)
        if len(lines) >= 8 and lines[3].strip() == str(self.port) and lines[7].strip() == "ready":
            return pid
        return None

    def is_running(self) -> bool:
        return self.running_pid() is not None

    # -- control ---------------------------------------------------------------------

    def ensure_running(self) -> bool:
        """Start the server unless it already runs. Returns True when this call started it."""
        if self.is_running():
            return False
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        with self._lock():
            if self.is_running():
                return False
            self._refuse_taken_port()
            self._init_data_dir()
            self._pg_ctl(
                [
                    "-w",
                    "-t",
                    str(START_TIMEOUT_S),
                    "-l",
                    str(self.data_dir / "server.log"),
                    "-o",
                    f"-h 127.0.0.1 -p {self.port} -k ''"
                    " -c max_connections=300 -c synchronous_commit=off"
                    " -c shared_buffers=256MB",
                    "start",
                ]
            )
            self._ensure_database()
            return True

    def stop(self) -> bool:
        if not self.is_running():
            return False
        with self._lock():
            self._pg_ctl(["-w", "-m", "fast", "stop"])
        return True

    # -- internals -------------------------------------------------------------------

    @contextlib.contextmanager
    def _lock(self):
        lock_path = self.data_dir.parent / "postgres.lock"
        with open(lock_path, "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _system_user(self) -> str | None:
        # PostgreSQL refuses to run as root; pgserver creates an unprivileged user.
        if os.geteuid() != 0:
            return None
        _pgserver_commands()
        # After _pgserver_commands() silenced pgserver's import-time warning.
        from pgserver.utils import ensure_user_exists

        ensure_user_exists("pgserver")
        return "pgserver"

    def _init_data_dir(self) -> None:
        _commands = _pgserver_commands()

        user = self._system_user()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if user is not None:
            # Only when running as root (the data directory is handed to a system user).
            import pwd
            import stat

            from pgserver.utils import ensure_folder_permissions, ensure_prefix_permissions

            ensure_prefix_permissions(self.data_dir)
            ensure_prefix_permissions(_commands.POSTGRES_BIN_PATH)
            ensure_folder_permissions(
                _commands.POSTGRES_BIN_PATH, stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH
            )
            ensure_folder_permissions(_commands.POSTGRES_BIN_PATH.parent / "lib", stat.S_IRGRP | stat.S_IROTH)
            entry = pwd.getpwnam(user)
            os.chown(self.data_dir, entry.pw_uid, entry.pw_gid)
        if not (self.data_dir / "PG_VERSION").exists():
            _commands.initdb(
                ["--auth=trust", "--encoding=utf8", "--locale=C.UTF-8", "-U", SUPERUSER],
                pgdata=self.data_dir,
                user=user,
            )

    def _refuse_taken_port(self) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            taken = sock.connect_ex(("127.0.0.1", self.port)) == 0
        if taken:
            raise EmbeddedPostgresError(
                f"Port {self.port} on 127.0.0.1 is taken by another program, so the embedded "
                "PostgreSQL cannot start. Stop that program, or choose another port with "
                "EMBEDDED_DB_PORT=<port>, or use your own server with DATABASE_URL=postgres://..."
            )

    def _pg_ctl(self, args: list[str]) -> None:
        _commands = _pgserver_commands()

        try:
            _commands.pg_ctl(args, pgdata=self.data_dir, user=self._system_user())
        except subprocess.CalledProcessError as exc:
            log = self.data_dir / "server.log"
            tail = "\n".join(log.read_text().splitlines()[-20:]) if log.exists() else ""
            raise EmbeddedPostgresError(
                f"pg_ctl {args[-1]} failed for the embedded PostgreSQL in {self.data_dir}.\n{tail}"
            ) from exc

    def _ensure_database(self) -> None:
        # Settings import this module; the driver loads only when a server is started.
        import psycopg

        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                with psycopg.connect(self.url("postgres"), autocommit=True, connect_timeout=2) as conn:
                    exists = conn.execute(
                        "SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]
                    ).fetchone()
                    if not exists:
                        conn.execute(f'CREATE DATABASE "{DATABASE}"')
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)


def ensure_running() -> str:
    """Start the embedded server if needed and return the project database's URL."""
    server = EmbeddedPostgres.from_env()
    server.ensure_running()
    return server.url()


def main(argv: list[str]) -> int:
    server = EmbeddedPostgres.from_env()
    command = argv[0] if argv else "status"
    try:
        if command == "start":
            started = server.ensure_running()
            print(f"embedded PostgreSQL {'started' if started else 'already running'}: {server.url()}")
        elif command == "stop":
            print("embedded PostgreSQL stopped" if server.stop() else "embedded PostgreSQL was not running")
        elif command == "status":
            running = server.is_running()
            print(f"embedded PostgreSQL {'running' if running else 'stopped'} ({server.data_dir})")
            return 0 if running else 3
        elif command == "url":
            print(server.url())
        elif command == "run":
            cmd = argv[2:] if argv[1:2] == ["--"] else argv[1:]
            # A real database is configured: nothing to start.
            started = False if os.environ.get("DATABASE_URL") else server.ensure_running()
            try:
                return subprocess.call(cmd)
            except KeyboardInterrupt:
                return 130
            finally:
                if started:
                    server.stop()
        else:
            print("usage: python -m saas.embedded_postgres start|stop|status|url|run -- CMD", file=sys.stderr)
            return 2
    except EmbeddedPostgresError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
