"""saas.asgi: web processes borrow database connections from a pool by default; nothing
else does unless told (a process the server starts does not inherit the default)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = "from django.conf import settings; print(settings.DATABASE_POOL_MAX_SIZE, "


def _run(code: str, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k not in ("DATABASE_POOL_MAX_SIZE", "SAAS_ASGI_SERVER")}
    clean.update(
        DJANGO_SETTINGS_MODULE="saas.settings.test",
        DATABASE_URL="postgres://nobody:none@127.0.0.1:9/none",  # nothing connects
        **env,
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=clean, cwd=ROOT, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_the_asgi_application_pools_connections_by_default():
    code = f"import os, saas.asgi; {SETTINGS}settings.DATABASES['default']['OPTIONS']['pool']['max_size'], "
    code += "'SAAS_ASGI_SERVER' in os.environ)"
    assert _run(code) == "20 20 False"  # and the mark is taken back


def test_other_processes_and_a_size_of_zero_open_a_connection_per_request():
    code = f"import django; django.setup(); {SETTINGS}'pool' in settings.DATABASES['default']['OPTIONS'])"
    assert _run(code) == "0 False"
    asgi = f"import saas.asgi; {SETTINGS}'pool' in settings.DATABASES['default']['OPTIONS'])"
    assert _run(asgi, DATABASE_POOL_MAX_SIZE="0") == "0 False"


def test_the_web_process_keeps_its_start_up_objects_out_of_the_collector():
    code = "import gc, saas.asgi; print(gc.get_threshold()[0], gc.get_freeze_count() > 10_000)"
    assert _run(code) == "5000 True"
