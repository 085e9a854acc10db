"""scripts/web, the production web command: uvicorn with one process per core."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _uvicorn_arguments(tmp_path: Path, **env: str) -> list[str]:
    """What scripts/web runs uvicorn with (a stand-in uvicorn first on PATH prints it)."""
    fake = tmp_path / "uvicorn"
    fake.write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    fake.chmod(0o755)
    environment = {k: v for k, v in os.environ.items() if k != "WEB_CONCURRENCY"}
    environment |= {"PATH": f"{tmp_path}:{os.environ['PATH']}", **env}
    result = subprocess.run(
        ["sh", str(ROOT / "scripts" / "web"), "--log-level", "info"],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.split()


def _workers(arguments: list[str]) -> int:
    return int(arguments[arguments.index("--workers") + 1])


def test_one_process_per_cpu_this_process_may_use_unless_told(tmp_path):
    arguments = _uvicorn_arguments(tmp_path)
    cpus = len(os.sched_getaffinity(0))
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if quota != "max":
            cpus = min(cpus, -(-int(quota) // int(period)))
    except OSError:
        pass
    assert _workers(arguments) == cpus
    assert arguments[:1] == ["saas.asgi:application"] and arguments[-2:] == ["--log-level", "info"]
    assert "--proxy-headers" in arguments and arguments[arguments.index("--ws-max-size") + 1] == "65536"
    assert _workers(_uvicorn_arguments(tmp_path, WEB_CONCURRENCY="3")) == 3


def test_uvicorn_cuts_what_is_left_five_seconds_after_the_apps_grace_period(tmp_path):
    def bound(**env: str) -> int:
        arguments = _uvicorn_arguments(tmp_path, **env)
        return int(arguments[arguments.index("--timeout-graceful-shutdown") + 1])

    assert bound(SHUTDOWN_GRACE_SECONDS="25") == 30
    assert bound(SHUTDOWN_GRACE_SECONDS="7.5") == 12


def test_a_grace_period_that_is_not_a_number_stops_the_start(tmp_path):
    fake = tmp_path / "uvicorn"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    result = subprocess.run(
        ["sh", str(ROOT / "scripts" / "web")],
        env={**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}", "SHUTDOWN_GRACE_SECONDS": "soon"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2 and "SHUTDOWN_GRACE_SECONDS" in result.stderr
