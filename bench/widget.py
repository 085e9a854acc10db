"""Widget benchmarks (`make bench` or `python -m bench widget`).

1. Loader and chat UI size, gzipped (targets: <= 6 KB and <= 35 KB).
2. Time from the loader script arriving to the launcher on screen, in headless Chromium
   (target <= 100 ms), median of repeated page loads.
3. Requests per second through the whole middleware stack (in-process) for the widget
   config and session-start endpoints, as a ratio to a bare Django JSON view measured in
   the same run.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from bench.tenancy import RESULTS, django_start

BENCH_DB = "saas_bench_widget"
ORIGIN = "https://customer.example"


def _setup():
    django_start(BENCH_DB)
    from django.conf import settings
    from django.core.management import call_command

    settings.PUBLIC_SCHEMA_URLCONF = "bench.urls"
    settings.WIDGET_RATE_LIMITS = {
        "ip_per_minute": 10**9,
        "widget_per_minute": 10**9,
        "sessions_per_ip_per_hour": 10**9,
        "visitor_per_minute": 10**9,
    }
    call_command("migrate", interactive=False, verbosity=0)
    from django_tenants.utils import tenant_context

    from tenants.models import User
    from tenants.services import tenant_provision
    from widget_builder.models import Widget

    owner = User.objects.create_user(email="bench-widget@example.com", password="bench-password-1")
    tenant = tenant_provision(slug="bench-widget", name="Bench widget", owner=owner)
    with tenant_context(tenant):
        return Widget.objects.get()


def sizes() -> dict:
    from widget_builder.runtime_views import runtime_assets

    loader, chat, _ = runtime_assets()
    result = {"loader_gzip_bytes": len(loader.gzipped), "chat_ui_gzip_bytes": len(chat.gzipped)}
    print(
        f"  loader {result['loader_gzip_bytes']} B gzipped (target <= 6144); "
        f"chat UI {result['chat_ui_gzip_bytes']} B gzipped (target <= 35840)"
    )
    return result


def rps(widget) -> dict:
    from django.test import Client

    client = Client(HTTP_HOST="bench.test")
    headers = {"HTTP_ORIGIN": ORIGIN}

    def measure(call, seconds: float = 3.0) -> float:
        for _ in range(50):
            call()
        count, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            call()
            count += 1
        return count / (time.perf_counter() - started)

    bare = measure(lambda: client.get("/bench/bare", **headers))
    config = measure(lambda: client.get(f"/api/widget/v1/{widget.key}/config", **headers))
    session = measure(
        lambda: client.post(
            f"/api/widget/v1/{widget.key}/session", {}, content_type="application/json", **headers
        )
    )
    result = {
        "bare_rps": bare,
        "config_rps": config,
        "session_rps": session,
        "config_ratio": config / bare,
        "session_ratio": session / bare,
    }
    print(
        f"  bare JSON view {bare:7.0f} req/s | config {config:7.0f} req/s (x{config / bare:.2f}) | "
        f"session start {session:7.0f} req/s (x{session / bare:.2f})"
    )
    return result


def time_to_launcher(widget, rounds: int = 15) -> dict:
    chromium = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium")
    if not chromium:
        print("  time to launcher: skipped (no Chromium; apt-get install chromium)")
        return {"skipped": "no chromium"}
    from django.test.testcases import LiveServerThread
    from playwright.sync_api import sync_playwright

    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from django.contrib.staticfiles.handlers import StaticFilesHandler

    server = LiveServerThread("localhost", StaticFilesHandler, port=0)
    server.daemon = True
    server.start()
    server.is_ready.wait()
    if server.error:
        raise server.error
    page_html = (
        "<!doctype html><html><body><h1>Shop</h1>"
        "<script>new MutationObserver(function(m, o){ if (document.querySelector('[data-chat-widget]')) {"
        " var r = performance.getEntriesByType('resource').filter(function(e){return e.name.indexOf('loader.js')>0})[0];"
        " window.__launcherMs = performance.now() - r.responseEnd; o.disconnect(); }})"
        ".observe(document.documentElement, {childList: true, subtree: true});</script>"
        f'<script async src="http://bench.test:{server.port}/w/v1/loader.js" data-widget="{widget.key}"></script>'
        "</body></html>"
    )

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(page_html.encode())

        def log_message(self, *args):
            pass

    host = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=host.serve_forever, daemon=True).start()
    timings = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium,
                args=[
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--no-first-run",
                    "--host-resolver-rules=MAP bench.test 127.0.0.1, MAP customer.example 127.0.0.1",
                ],
            )
            for _ in range(rounds):
                context = browser.new_context()
                page = context.new_page()
                page.on(
                    "console",
                    lambda m: print("    console:", m.text) if m.type in ("error", "warning") else None,
                )
                page.on("pageerror", lambda e: print("    pageerror:", e))
                page.goto(f"http://customer.example:{host.server_address[1]}/")
                page.wait_for_function("window.__launcherMs !== undefined", timeout=10000)
                timings.append(page.evaluate("window.__launcherMs"))
                context.close()
            browser.close()
    finally:
        host.shutdown()
        server.terminate()
    median = statistics.median(timings[2:])  # the first loads warm caches on both sides
    print(
        f"  loader arrived -> launcher on screen: median {median:.1f} ms over {len(timings) - 2} loads "
        f"(target <= 100 ms; includes the config request)"
    )
    return {"median_ms": median, "samples_ms": timings}


def main() -> int:
    print(f"Widget benchmark: database {BENCH_DB}", flush=True)
    widget = _setup()
    results = {"sizes": sizes(), "rps": rps(widget), "time_to_launcher": time_to_launcher(widget)}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "widget.json").write_text(json.dumps(results, indent=2))
    print(f"  figures in {Path(RESULTS) / 'widget.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
