"""The processes and data of ``bench.realtime``: uvicorn servers (their memory, CPU and
logged exceptions from /proc and their stderr), the workspace, its API key, an agent's
session and the visitors' conversations and tokens."""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.tenancy import RESULTS, django_start

BENCH_DB = "saas_bench_realtime"
REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/6"
# redis-py 8 changed two defaults the channel layer meets: a 5 s read timeout, while
# channels_redis blocks 5 s in BZPOPMIN (idle sockets' consumers died), and async pools of at
# most 100 connections that refuse the 101st at once. The settings raise both now
# (CHANNEL_LAYERS); part 0 checks that on a server as configured. LAYER_URL is what the
# measured servers use: REDIS_URL, or BENCH_RT_LAYER_URL.
LAYER_URL = os.environ.get("BENCH_RT_LAYER_URL") or REDIS_URL
# The sockets as production serves them (saas.devserver, the image, compose).
UVICORN_WS = ["--ws", "websockets", "--ws-per-message-deflate", "false", "--ws-max-size", "65536"]
PUBLIC = "bench.test"
WORKSPACE = "realtime.bench.test"
ORIGIN = "https://customer.example"
ROOT = Path(__file__).resolve().parent.parent


# --- processes -----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"port {port} did not open")


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    def errors(self) -> dict[str, int]:
        """The exceptions the server logged, by last line (``Exception in ASGI application``)."""
        found: dict[str, int] = {}
        lines = self.log.read_text(errors="replace").splitlines()
        starts = [i for i, x in enumerate(lines) if x.startswith("ERROR:") and "Exception in ASGI" in x]
        for n, start in enumerate(starts):
            block = lines[start + 1 : starts[n + 1] if n + 1 < len(starts) else len(lines)]
            raised = [x for x in block if x and not x.startswith((" ", "Traceback", "During", "The above"))]
            kind = raised[-1].split(":", 1)[0] if raised else "?"  # the last of a chain
            found[kind] = found.get(kind, 0) + 1
        return found

    @property
    def pid(self) -> int:
        return self.proc.pid

    def rss_kb(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def uvicorn_start(app: str, env: dict[str, str]) -> Server:
    port = _free_port()
    log = RESULTS / f"realtime-server-{port}.log"
    RESULTS.mkdir(exist_ok=True)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            app,
            "--port",
            str(port),
            "--no-access-log",
            "--lifespan",
            "off",
            "--log-level",
            "warning",
            *UVICORN_WS,
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
        stderr=log.open("wb"),
    )
    _wait_port(port)
    return Server(proc, port, log)


def fd_limit_raise() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))  # the servers inherit it


# --- data ----------------------------------------------------------------------------------


@dataclass
class Setup:
    widget_key: str
    api_key: str
    session_cookie: str
    visitors: list[dict[str, Any]]  # {"conversation", "token"}
    schema: str


def setup_data(visitors: int) -> Setup:
    django_start(
        BENCH_DB,
        {"REDIS_URL": REDIS_URL, "CELERY_BROKER_URL": "memory://", "DATABASE_POOL_MAX_SIZE": "30"},
    )
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.core.management import call_command
    from django_tenants.utils import tenant_context

    from chat.models import Contact, Conversation
    from chat.visitor_tokens import visitor_token_issue
    from tenants.models import Membership, Tenant, User
    from tenants.services import tenant_provision
    from tenants.services.api_keys import api_key_create
    from tenants.sessions import session_bind, session_binding
    from widget_builder.models import Widget
    from widget_builder.services import widget_publish

    call_command("migrate", interactive=False, verbosity=0)
    owner = User.objects.create_user(email="bench-rt@example.com", password="bench-password-1")
    tenant = tenant_provision(slug="realtime", name="Realtime bench", owner=owner)
    Tenant.objects.filter(pk=tenant.pk).update(plan="business")
    membership = Membership.objects.get(tenant=tenant, user=owner)
    _key, secret = api_key_create(tenant=tenant, name="Bench helpdesk", role="agent", by=membership)
    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session[SESSION_KEY] = str(owner.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = owner.get_session_auth_hash()
    session_bind(session, session_binding(tenant))
    session.save()
    with tenant_context(tenant):
        widget = widget_publish(widget=Widget.objects.get())
        contacts = Contact.objects.bulk_create([Contact(widget=widget) for _ in range(visitors)])
        # A person has these conversations already: the bot stays quiet, replies add no
        # "joined" line, and every message is the bench's own.
        conversations = Conversation.objects.bulk_create(
            [
                Conversation(
                    widget=widget,
                    contact=c,
                    status=Conversation.Status.AGENT,
                    assignee_user_id=owner.pk,
                )
                for c in contacts
            ]
        )
        people = []
        for contact, conversation in zip(contacts, conversations, strict=True):
            token, _ = visitor_token_issue(
                tenant_id=tenant.pk, widget_id=widget.pk, contact_public_id=contact.public_id
            )
            people.append({"conversation": conversation.pk, "token": token})
    return Setup(
        widget.key,
        secret,
        f"{settings.SESSION_COOKIE_NAME}={session.session_key}",
        people,
        tenant.schema_name,
    )


def visible_seqs(schema: str, conversation_ids: list[int]) -> dict[int, list[int]]:
    from django_tenants.utils import schema_context

    from chat.models import Message

    found: dict[int, list[int]] = {c: [] for c in conversation_ids}
    with schema_context(schema):
        rows = (
            Message.objects.filter(conversation_id__in=conversation_ids)
            .exclude(role__in=Message.VISITOR_HIDDEN)
            .values_list("conversation_id", "seq")
        )
        for conversation_id, seq in rows:
            found[conversation_id].append(seq)
    return found
