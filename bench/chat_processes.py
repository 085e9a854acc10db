"""The processes of the chat benchmark: the fake LLM, uvicorn (one process or several), the
embedding server, a Redis of its own (never the developers' one at 6379) and a TCP proxy in
front of the bench's PostgreSQL that can cut every connection (never the server itself)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)  # noqa: S310 - our own loopback server
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def stop(*processes: subprocess.Popen | None) -> None:
    for process in processes:
        if process is not None and process.poll() is None:
            process.terminate()
    for process in processes:
        if process is not None:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def start_llm(port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.llm_server", "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    wait_http(f"http://127.0.0.1:{port}/healthz")
    return process


def start_embedder(port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "knowledge.embeddings.server", "--bind", f"127.0.0.1:{port}"],
        cwd=ROOT,
        stderr=subprocess.DEVNULL,
    )
    wait_http(f"http://127.0.0.1:{port}/healthz", timeout=180)
    return process


def start_web(
    port: int, *, workers: int = 1, env: dict[str, str] | None = None, log=None
) -> subprocess.Popen:
    """uvicorn serving the platform, ``workers`` processes (one: no supervisor); its output
    goes to ``log`` (a file) when given."""
    command = [sys.executable, "-m", "uvicorn", "saas.asgi:application", "--port", str(port)]
    command += ["--no-access-log", "--lifespan", "off", "--log-level", "warning"]
    if workers > 1:
        command += ["--workers", str(workers)]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        stdout=log,
        stderr=subprocess.STDOUT if log is not None else None,
    )
    wait_http(f"http://127.0.0.1:{port}/healthz")
    if workers > 1:  # every worker up: each answers before the figures start
        deadline = time.monotonic() + 60
        while len(web_processes(process)) < workers and time.monotonic() < deadline:
            time.sleep(0.2)
    return process


def web_processes(server: subprocess.Popen) -> list[int]:
    """The pids serving requests: the process itself, or uvicorn's worker processes."""
    children = []
    try:
        with open(f"/proc/{server.pid}/task/{server.pid}/children") as file:
            pids = [int(pid) for pid in file.read().split()]
    except OSError:
        return [server.pid]
    for pid in pids:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as file:
                if b"spawn_main" in file.read():
                    children.append(pid)
        except OSError:
            continue
    return children or [server.pid]


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as file:
        for line in file:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) the process has used so far."""
    try:
        with open(f"/proc/{pid}/stat") as file:
            fields = file.read().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime (fields 14 and 15)


def machine_busy_seconds() -> float:
    """CPU time every core of the machine has spent busy so far (all but idle and iowait)."""
    with open("/proc/stat") as file:
        ticks = [int(value) for value in file.readline().split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / _TICKS


_KINDS = (
    ("web", (b"uvicorn", b"saas.asgi")),
    ("embedding server", (b"knowledge.embeddings.server",)),
    ("provider (fake)", (b"tests.fakes.llm_server",)),
    ("postgresql", (b"postgres",)),
    ("redis", (b"redis-server",)),
    ("load generator", (b"-m\x00bench",)),
)


def cpu_by_kind() -> dict[str, float]:
    """CPU seconds used so far by every process of the machine, summed by what it is
    (web, embedding server, fake provider, PostgreSQL, Redis, this load generator, other)."""
    totals: dict[str, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as file:
                command = file.read()
        except OSError:
            continue
        kind = next((name for name, marks in _KINDS if any(mark in command for mark in marks)), "other")
        totals[kind] = totals.get(kind, 0.0) + cpu_seconds(int(entry))
    return totals
