"""The web container's health check: ``python -m saas.http_probe``.

Exits 0 when ``GET http://127.0.0.1:$PORT/healthz`` (``PORT`` as ``scripts/web`` reads it,
default 8000) answers 200 within the timeout, 1 otherwise. The Dockerfile's HEALTHCHECK and
docker-compose.yml run it; the slim image has no curl or wget, and this needs the standard
library only (no Django start-up, a few milliseconds). ``--url`` probes another address
(the embedding server's ``/healthz``).
"""

from __future__ import annotations

import argparse
import os
import sys
import urllib.error
import urllib.request


def default_url() -> str:
    return f"http://127.0.0.1:{os.environ.get('PORT') or '8000'}/healthz"


def probe(url: str, *, timeout: float) -> str | None:
    """None when ``url`` answers 200, else what went wrong."""
    if not url.startswith(("http://", "https://")):
        return f"not an http(s) URL: {url}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - scheme checked above
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (OSError, ValueError) as exc:
        return f"{url}: {exc}"
    return None if status == 200 else f"{url}: HTTP {status}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m saas.http_probe", description=__doc__.split("\n")[0])
    parser.add_argument("--url", default=default_url())
    parser.add_argument("--timeout", type=float, default=3.0)
    options = parser.parse_args(argv)
    problem = probe(options.url, timeout=options.timeout)
    if problem:
        print(f"unhealthy: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
