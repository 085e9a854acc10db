"""The Celery worker's liveness probe: ``python -m scheduler.probe``.

Exits 0 when the worker's heartbeat file (``WORKER_HEARTBEAT_FILE``, written every
``WORKER_HEARTBEAT_SECONDS`` by ``scheduler.heartbeat`` from the worker's event loop) is
younger than ``WORKER_HEARTBEAT_MAX_AGE`` seconds, 1 otherwise. Kubernetes runs it as the
worker container's exec liveness probe. The standard library only: it does not start Django,
touch the database or Redis (a probe that waits on a dependency restarts healthy workers
when that dependency is down), and it runs in a few milliseconds.

``--file`` and ``--max-age`` override the environment.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

DEFAULT_FILE = "/tmp/saas-worker-heartbeat"  # noqa: S108 - the container's own /tmp
DEFAULT_MAX_AGE = 60.0


def heartbeat_age(path: str, *, now: float | None = None) -> float | None:
    """Seconds since the last heartbeat written to ``path``; None when there is none."""
    try:
        with open(path, encoding="ascii") as handle:
            written = float(handle.read().strip())
    except (OSError, ValueError):
        return None
    return max(0.0, (time.time() if now is None else now) - written)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scheduler.probe", description=__doc__.split("\n")[0])
    parser.add_argument("--file", default=os.environ.get("WORKER_HEARTBEAT_FILE", DEFAULT_FILE))
    parser.add_argument(
        "--max-age", type=float, default=float(os.environ.get("WORKER_HEARTBEAT_MAX_AGE", DEFAULT_MAX_AGE))
    )
    options = parser.parse_args(argv)
    age = heartbeat_age(options.file)
    if age is None:
        print(f"worker: no heartbeat in {options.file}", file=sys.stderr)
        return 1
    if age > options.max_age:
        print(f"worker: last heartbeat {age:.0f} s ago (limit {options.max_age:.0f} s)", file=sys.stderr)
        return 1
    print(f"worker: alive, last heartbeat {age:.1f} s ago")
    return 0


if __name__ == "__main__":
    sys.exit(main())
