"""saas.settings.production: `manage.py check --deploy` is clean with production settings
and its secrets set, and production refuses to start without them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.db import connection

BASE_DIR = Path(__file__).resolve().parents[3]


def _run(extra_env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            (
                "DJANGO_",
                "DATABASE_URL",
                "REDIS_URL",
                "BASE_DOMAIN",
                "SECRET_ENCRYPTION_KEYS",
                "STRIPE_",
                "BILLING_",
            )
        )
    }
    env.update({"DJANGO_SETTINGS_MODULE": "saas.settings.production", **extra_env})
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def test_check_deploy_is_clean_with_production_settings(db):
    result = _run(
        {
            "DJANGO_SECRET_KEY": "x" * 20 + "production-like-secret-key-with-enough-entropy-1234567890",
            "BASE_DOMAIN": "chat.example.com",
            "DATABASE_URL": _database_url(),
            "REDIS_URL": "redis://127.0.0.1:6379/15",
            "SECRET_ENCRYPTION_KEYS": "kZ2m2QmSWcJw9u1kqYJ0b3k8m3x1G0n9b2Y7c6d5e4Q=",
            "STRIPE_SECRET_KEY": "sk_live_example",
            "STRIPE_WEBHOOK_SECRET": "whsec_example",
        },
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_its_secrets(db):
    complete = {
        "DJANGO_SECRET_KEY": "y" * 60,
        "BASE_DOMAIN": "chat.example.com",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": "redis://127.0.0.1:6379/15",
        "SECRET_ENCRYPTION_KEYS": "kZ2m2QmSWcJw9u1kqYJ0b3k8m3x1G0n9b2Y7c6d5e4Q=",
        "STRIPE_SECRET_KEY": "sk_live_example",
        "STRIPE_WEBHOOK_SECRET": "whsec_example",
    }
    for missing in complete:
        result = _run({k: v for k, v in complete.items() if k != missing}, "check")
        assert result.returncode != 0, missing
        assert missing in result.stderr, result.stderr[-500:]
    # Demo billing in production only when asked for by name.
    no_stripe = {k: v for k, v in complete.items() if not k.startswith("STRIPE_")}
    assert _run({**no_stripe, "BILLING_DEMO": "true"}, "check").returncode == 0
