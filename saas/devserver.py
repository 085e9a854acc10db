"""`make run`: migrate, seed the demo, print where everything is, and serve.

With a broker configured (REDIS_URL or CELERY_BROKER_URL) a Celery worker with the beat
scheduler runs beside the web server; without one, tasks run in-process. The embedding
server (``python -m knowledge.embeddings.server``, on 127.0.0.1:EMBEDDING_SERVER_PORT,
default 8765) runs beside them and holds the one copy of the local embedding model that
the web server and the worker use (EMBEDDING_SERVER_URL); set EMBEDDING_SERVER_URL
yourself to use another server, or to ``none`` to load the model in each process.
"""

from __future__ import annotations

import os
import subprocess
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "saas.settings.local")
HOST = os.environ.get("HOST", "127.0.0.1")
# WebSockets: no per-message compression (it costs ~90 KB of memory per open socket for
# frames of a few hundred bytes) and frames of at most 64 KB (docs/deployment.md).
WS_OPTIONS = ["--ws", "websockets", "--ws-per-message-deflate", "false", "--ws-max-size", "65536"]
PORT = os.environ.get("PORT", "8000")
EMBEDDING_SERVER_PORT = os.environ.get("EMBEDDING_SERVER_PORT", "8765")


def _embedding_server() -> subprocess.Popen[bytes] | None:
    """Start the machine's embedding server unless one is named (or refused with ``none``);
    the processes started after this read EMBEDDING_SERVER_URL from the environment."""
    named = os.environ.get("EMBEDDING_SERVER_URL", "")
    if named.lower() == "none":
        os.environ["EMBEDDING_SERVER_URL"] = ""
        return None
    if named:
        return None
    os.environ["EMBEDDING_SERVER_URL"] = f"http://127.0.0.1:{EMBEDDING_SERVER_PORT}"
    return subprocess.Popen(  # noqa: S603 - our own module
        [sys.executable, "-m", "knowledge.embeddings.server", "--bind", f"127.0.0.1:{EMBEDDING_SERVER_PORT}"]
    )


def main() -> int:
    # Django loads after this module has set DJANGO_SETTINGS_MODULE (imported as a script).
    import django
    from django.conf import settings
    from django.core.management import call_command

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)
    call_command("seed_demo")
    call_command("collectstatic", interactive=False, verbosity=0)

    embedder = _embedding_server()
    base = f"http://{settings.BASE_DOMAIN}:{PORT}"
    demo = f"http://demo.{settings.BASE_DOMAIN}:{PORT}"
    database = (
        "embedded PostgreSQL (.data/postgres)" if not os.environ.get("DATABASE_URL") else "DATABASE_URL"
    )
    broker = "Redis" if settings.REDIS_URL else "none (tasks run in-process)"
    print(
        f"""
  Platform is starting.

    Public site       {base}/
    Platform admin    {base}/admin/
                      staff login: {settings.DEMO_STAFF_EMAIL} / {settings.DEMO_STAFF_PASSWORD}
    Demo workspace    {demo}/dashboard/   (sign in at {base}/accounts/login/)
                      owner login: {settings.DEMO_OWNER_EMAIL} / {settings.DEMO_OWNER_PASSWORD}
    Sign up           {base}/accounts/signup/   (confirmation emails print here)
    Health            {base}/healthz  {base}/readyz

    Database: {database}.  Broker: {broker}.  Email: printed to this console.
    Embedding model: {os.environ.get("EMBEDDING_SERVER_URL") or "in each process"}.
    Stop with Ctrl-C.
""",
        flush=True,
    )

    worker = None
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "saas",
                "worker",
                "--beat",
                # Schedules in the database, staff's changes kept (CELERY_BEAT_SCHEDULER).
                "--scheduler",
                "scheduler.beat:ProjectScheduler",
                "--loglevel",
                "INFO",
                "--concurrency",
                "2",
            ]
        )
    try:
        return subprocess.call(  # noqa: S603
            [
                sys.executable,
                "-m",
                "uvicorn",
                "saas.asgi:application",
                "--host",
                HOST,
                "--port",
                PORT,
                *WS_OPTIONS,
            ]
        )
    except KeyboardInterrupt:
        return 0
    finally:
        for process in (worker, embedder):
            if process is not None:
                process.terminate()
                process.wait(timeout=20)


if __name__ == "__main__":
    sys.exit(main())
