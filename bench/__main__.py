"""`make bench`: every benchmark suite, each in its own process (and database).

python -m bench                 # all suites
python -m bench widget          # one suite: tenancy, widget, chat, knowledge, dashboard, realtime, insights, exports, webhooks, api, lifecycle, actions, scale
"""

from __future__ import annotations

import subprocess
import sys

SUITES = [
    "tenancy",
    "widget",
    "chat",
    "knowledge",
    "dashboard",
    "realtime",
    "insights",
    "exports",
    "webhooks",
    "api",
    "lifecycle",
    "actions",
    "scale",
]


def main(argv: list[str]) -> int:
    chosen = argv or SUITES
    unknown = set(chosen) - set(SUITES)
    if unknown:
        print(
            f"unknown suite(s): {', '.join(sorted(unknown))}; choose from {', '.join(SUITES)}",
            file=sys.stderr,
        )
        return 2
    failed = 0
    for suite in chosen:
        print(f"\n######## {suite}", flush=True)
        failed |= subprocess.call([sys.executable, "-m", f"bench.{suite}"])
    return failed


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
