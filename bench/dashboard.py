"""Dashboard front-end benchmarks (`make bench BENCH_ARGS=dashboard` or `python -m bench dashboard`).

Headless Chromium against the production server (uvicorn, one process of its own, with
bench.settings: DEBUG off; whitenoise serves the static files as in production) and a workspace seeded as one in use (the browser sweep's:
tests/browser/conftest.py, ``seed_sweep_workspace``), signed in as its owner.

1. CSS + JS transferred on a first load (empty cache) of the dashboard home, the widget
   builder and the conversation list: per file, the bytes on the wire, the raw size and
   the gzip -9 size (what a compressing server or whitenoise's .gz after collectstatic
   sends); target <= 60 KB gzipped per page.
2. Time from navigation start to the page being usable: ``document.readyState`` is
   "complete" (loadEventEnd) and a real click on a sidebar link, sent as soon as the link
   is visible, is handled: usable = loadEventEnd + how long that click waited for the main
   thread (a capturing listener notes it by the page's clock and keeps the page). When the
   click's handler ran is printed too; it includes Playwright's round trips (the blank
   page shows how much). TTFB, when the last stylesheet or script arrived, DOMContentLoaded
   and the server's own time (in-process, with its SQL query count) say where the time goes.
   Median and p95 over repeated loads, cold (a new browser context each: empty cache) and
   warm (the same page again in that context), for the same three pages; target <= 300 ms. The same measure for a blank static HTML page served by
   the same server, in the same run, is the baseline (ratio).
"""

from __future__ import annotations

import gzip
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

from bench.chat import _free_port, _wait_http
from bench.tenancy import RESULTS, django_start

BENCH_DB = "saas_bench_dashboard"
LOADS = int(os.environ.get("BENCH_DASHBOARD_LOADS", "20"))
WARMUP = 2  # first loads warm the server's caches (templates, URL resolvers, connections)
SIZE_TARGET_BYTES = 60 * 1024
USABLE_TARGET_MS = 300.0

# Installed before any script of the page: the first click on ``link`` is noted (ms since
# navigation start, and how long the input waited for the page) and does not navigate.
FIRST_CLICK_JS = """
window.__firstClick = undefined;
document.addEventListener("click", function (e) {
  e.preventDefault();
  if (window.__firstClick === undefined && e.target.closest && e.target.closest(%s))
    window.__firstClick = {handled: performance.now(), delay: performance.now() - e.timeStamp};
}, true);
"""
SIDEBAR_LINK = "#sidebar nav a"


def _setup():
    django_start(BENCH_DB)
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    # the browser sweep's workspace (imported here: Django must be set up first)
    from tests.browser.conftest import seed_sweep_workspace

    return seed_sweep_workspace()


def _session_cookie(workspace, host: str) -> dict:
    """A session of the workspace's owner, bound to the workspace (as a sign-in there)."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from tenants.sessions import session_bind, session_binding

    session = SessionStore()
    session[SESSION_KEY] = str(workspace.owner.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = workspace.owner.get_session_auth_hash()
    session_bind(session, session_binding(workspace.tenant))
    session.create()
    return {"name": settings.SESSION_COOKIE_NAME, "value": session.session_key, "domain": host, "path": "/"}


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def transferred(browser, cookie: dict, url: str) -> dict:
    """CSS and JS of a first load of ``url`` (empty cache), per file."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_cookies([cookie])
    page = context.new_page()
    responses = []
    page.on("response", lambda response: responses.append(response))
    page.goto(url, wait_until="load")
    files = []
    for response in responses:
        kind = response.request.resource_type
        if kind not in ("stylesheet", "script"):
            continue
        body = response.body()
        files.append(
            {
                "url": response.url.split("/", 3)[3],
                "kind": kind,
                "encoding": response.headers.get("content-encoding", "identity"),
                "wire_bytes": response.request.sizes()["responseBodySize"],
                "raw_bytes": len(body),
                "gzip_bytes": len(gzip.compress(body, compresslevel=9, mtime=0)),
            }
        )
    context.close()
    return {
        "files": files,
        "wire_bytes": sum(f["wire_bytes"] for f in files),
        "raw_bytes": sum(f["raw_bytes"] for f in files),
        "gzip_bytes": sum(f["gzip_bytes"] for f in files),
    }


def _load(context, url: str, link: str) -> dict:
    """One navigation to ``url``: its timings, in ms since navigation start."""
    page = context.pages[0] if context.pages else context.new_page()
    page.goto(url, wait_until="commit")
    # A real click (mouse down and up at the link's centre) as soon as the link is visible;
    # again if it missed (the link moved when the stylesheet arrived).
    for _ in range(100):
        box = page.wait_for_selector(link, state="visible", timeout=15_000).bounding_box()
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        if page.evaluate("() => window.__firstClick !== undefined"):
            break
    page.wait_for_function("() => document.readyState === 'complete' && window.__firstClick !== undefined")
    timing = page.evaluate(
        """() => { const n = performance.getEntriesByType("navigation")[0];
            const assets = performance.getEntriesByType("resource")
              .filter(r => r.initiatorType === "link" || r.initiatorType === "script");
            return {ttfb: n.responseStart, dcl: n.domContentLoadedEventEnd, load: n.loadEventEnd,
                    assets: Math.max(0, ...assets.map(r => r.responseEnd)),
                    click: window.__firstClick.handled, input_delay: window.__firstClick.delay}; }"""
    )
    if page.url != url:
        raise RuntimeError(f"{url} ended at {page.url}: not signed in?")
    # Usable: loaded, and a click handled without waiting. The input's wait is measured by
    # the page's own clock; the moment the click arrived also counts Playwright's round
    # trips (tens of ms on a busy machine: see the blank page), so it is reported apart.
    timing["usable"] = timing["load"] + timing["input_delay"]
    return timing


def time_to_usable(browser, cookie: dict | None, url: str, link: str, loads: int) -> dict:
    """Loads of ``url``, each in a new browser context (cold: empty cache) and then once
    more in the same context (warm: the static files cached or revalidated)."""
    cold, warm = [], []
    for _ in range(WARMUP + loads):
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        if cookie:
            context.add_cookies([cookie])
        context.add_init_script(FIRST_CLICK_JS % json.dumps(link))
        cold.append(_load(context, url, link))
        warm.append(_load(context, url, link))
        context.close()

    def summary(samples: list[dict]) -> dict:
        measured = samples[WARMUP:]
        figures = {
            key: {
                "median_ms": statistics.median(s[key] for s in measured),
                "p95_ms": _p95([s[key] for s in measured]),
            }
            for key in ("ttfb", "assets", "dcl", "load", "click", "input_delay", "usable")
        }
        return figures | {"samples": measured}

    return {"cold": summary(cold), "warm": summary(warm)}


def server_time(workspace, path: str, rounds: int = 10) -> dict:
    """The page rendered in-process (the whole middleware stack, no network): median ms and
    the number of SQL queries."""
    import time

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST=f"{workspace.tenant.slug}.bench.test")
    client.force_login(workspace.owner)
    from tenants.sessions import session_bind, session_binding

    session = client.session
    session_bind(session, session_binding(workspace.tenant))
    session.save()
    timings = []
    for _ in range(WARMUP + rounds):
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as queries:
            response = client.get(path)
        timings.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"{path} answered {response.status_code}")
    connection.set_schema_to_public()
    return {"median_ms": statistics.median(timings[WARMUP:]), "queries": len(queries.captured_queries)}


def main() -> int:
    print(f"Dashboard front-end benchmark: database {BENCH_DB}", flush=True)
    chromium = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium")
    if not chromium:
        print("  skipped: no Chromium (apt-get install chromium)")
        return 0
    workspace = _setup()
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    # The production server, in a process of its own (one worker, as one pod's); whitenoise
    # (a middleware) serves /static/ as in production.
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "saas.asgi:application",
            "--port",
            str(port),
            "--no-access-log",
            "--lifespan",
            "off",
            "--log-level",
            "warning",
        ],
        cwd=Path(__file__).resolve().parent.parent,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    _wait_http(f"http://127.0.0.1:{port}/healthz")
    host = f"{workspace.tenant.slug}.bench.test"
    base = f"http://{host}:{port}"
    cookie = _session_cookie(workspace, host)
    pages = {
        "dashboard home": f"{base}/dashboard/",
        "widget builder": f"{base}/dashboard/widgets/{workspace.objects['widget_id']}/",
        "conversation list": f"{base}/dashboard/conversations/",
    }
    blank = f"http://bench.test:{port}/bench/blank/"
    results: dict = {"loads": LOADS, "sizes": {}, "usable": {}}
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium,
                args=[
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--no-first-run",
                    "--host-resolver-rules=MAP bench.test 127.0.0.1, MAP *.bench.test 127.0.0.1",
                ],
            )
            print("  the server's own time per page (in-process, median of 10):")
            for name, url in pages.items():
                figures = results.setdefault("server", {})[name] = server_time(
                    workspace, url.split(base, 1)[1]
                )
                print(f"    {name:18} {figures['median_ms']:6.1f} ms, {figures['queries']} SQL queries")
            print("  CSS + JS on a first load (target <= 60 KB gzipped):")
            for name, url in pages.items():
                sizes = results["sizes"][name] = transferred(browser, cookie, url)
                verdict = "ok" if sizes["gzip_bytes"] <= SIZE_TARGET_BYTES else "OVER"
                print(
                    f"    {name:18} {len(sizes['files'])} files: {sizes['raw_bytes'] / 1024:6.1f} KB raw, "
                    f"{sizes['gzip_bytes'] / 1024:5.1f} KB gzipped, {sizes['wire_bytes'] / 1024:6.1f} KB on the wire "
                    f"({', '.join(sorted({f['encoding'] for f in sizes['files']}))}) [{verdict}]"
                )
                for f in sizes["files"]:
                    print(
                        f"      {f['url']:40} {f['raw_bytes'] / 1024:6.1f} KB raw {f['gzip_bytes'] / 1024:5.1f} KB gz"
                    )

            print(f"  navigation start -> usable, {LOADS} loads each (target <= 300 ms):")
            for name, url, link in [
                ("blank page", blank, "a"),
                *[(n, u, SIDEBAR_LINK) for n, u in pages.items()],
            ]:
                results["usable"][name] = time_to_usable(
                    browser, None if name == "blank page" else cookie, url, link, LOADS
                )
            for cache in ("cold", "warm"):
                base_median = results["usable"]["blank page"][cache]["usable"]["median_ms"]
                for name, figures in results["usable"].items():
                    f = figures[cache]
                    usable = f["usable"]
                    verdict = (
                        ""
                        if name == "blank page"
                        else ("ok" if usable["p95_ms"] <= USABLE_TARGET_MS else "OVER")
                    )
                    print(
                        f"    {cache} {name:18} usable median {usable['median_ms']:6.1f} p95 {usable['p95_ms']:6.1f} ms "
                        f"(x{usable['median_ms'] / base_median:4.1f} blank) {verdict:4} | medians: TTFB "
                        f"{f['ttfb']['median_ms']:5.1f} CSS+JS in {f['assets']['median_ms']:5.1f} "
                        f"DCL {f['dcl']['median_ms']:5.1f} load {f['load']['median_ms']:5.1f} "
                        f"input delay {f['input_delay']['median_ms']:4.1f}; click handled at {f['click']['median_ms']:5.1f} ms"
                    )
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "dashboard.json").write_text(json.dumps(results, indent=2))
    print(f"  figures in {Path(RESULTS) / 'dashboard.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
