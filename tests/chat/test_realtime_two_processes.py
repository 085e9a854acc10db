"""Two web processes on one Redis: an agent connected to one and a visitor to the other
talk live through the channel layer (CI has Redis; without it this test skips with a
notice, and fails under SAAS_REQUIRE_SERVICES=1)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings
from django.db import connection
from django_tenants.utils import tenant_context

from chat.models import Contact, Conversation
from chat.services.inbox import agent_reply_send, conversation_take_over
from tests.chat.realtime.sockets import agent_session
from tests.chat.visitors import ORIGIN, make_visitor
from tests.conftest import require_service
from tests.tenants.factories import MembershipFactory, UserFactory


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def _web_process(port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "saas.settings.test",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": settings.REDIS_URL,
    }
    args = [sys.executable, "-m", "uvicorn", "saas.asgi:application", "--host", "127.0.0.1"]
    args += ["--port", str(port), "--ws", "websockets", "--ws-per-message-deflate", "false"]
    args += ["--lifespan", "off", "--log-level", "warning"]
    return subprocess.Popen(args, env=env)


def _wait_until_up(port: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the web process stopped"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("the web process did not start")


@pytest.fixture
def two_processes(seeded, django_db_blocker):
    require_service(bool(settings.REDIS_URL), "Redis (REDIS_URL)")
    ports = [_free_port(), _free_port()]
    procs = [_web_process(port) for port in ports]
    try:
        for port, proc in zip(ports, procs, strict=True):
            _wait_until_up(port, proc)
        yield ports
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)


@pytest.fixture
def committed_world(seeded, django_db_blocker):
    """A visitor and an agent of tenant A, committed (the web processes read them), removed after."""
    tenant_a = seeded["a"]
    with django_db_blocker.unblock():
        agent = UserFactory(email="two-processes@example.com", first_name="Ana")
        MembershipFactory(tenant=tenant_a.tenant, user=agent, role="agent")
        visitor = make_visitor(tenant_a)
        key = agent_session(agent, tenant_a.tenant)
        yield tenant_a, visitor, agent, key
        with tenant_context(tenant_a.tenant):
            Conversation.objects.filter(pk=visitor.conversation.pk).delete()
            Contact.objects.filter(pk=visitor.contact.pk).delete()
        agent.delete()


async def _next(ws, kind: str) -> dict:
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if frame["type"] == kind:
            return frame


def test_an_agent_on_one_process_and_a_visitor_on_another_talk_live(
    two_processes, committed_world, django_db_blocker
):
    from websockets.asyncio.client import connect

    agent_port, visitor_port = two_processes
    tenant_a, visitor, agent, key = committed_world
    with django_db_blocker.unblock(), tenant_context(tenant_a.tenant):
        conversation_take_over(conversation=visitor.conversation, user=agent)  # the bot stays out

    def post_visitor_message(text: str) -> None:
        request = urllib.request.Request(
            f"http://127.0.0.1:{visitor_port}{visitor.messages_path}",
            data=json.dumps({"text": text}).encode(),
            headers={
                "Host": "saas.test",
                "Origin": ORIGIN,
                "Authorization": f"Bearer {visitor.token}",
                "Content-Type": "application/json",
            },
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - our own http URL
            assert response.status == 201

    async def scenario():
        agent_ws = await connect(
            f"ws://{tenant_a.host}/ws/agent/",
            host="127.0.0.1",
            port=agent_port,
            proxy=None,
            origin=f"http://{tenant_a.host}",
            additional_headers={"Cookie": f"{settings.SESSION_COOKIE_NAME}={key}"},
        )
        visitor_ws = await connect(
            "ws://saas.test/ws/widget/v1/" + visitor.widget.key,
            host="127.0.0.1",
            port=visitor_port,
            proxy=None,
            origin=ORIGIN,
        )
        await visitor_ws.send(
            json.dumps(
                {"type": "hello", "token": visitor.token, "conversation": visitor.conversation.pk, "after": 0}
            )
        )
        await _next(visitor_ws, "ready")

        def last_seq() -> int:
            with django_db_blocker.unblock(), tenant_context(tenant_a.tenant):
                try:
                    return Conversation.objects.get(pk=visitor.conversation.pk).last_seq
                finally:
                    connection.close()  # this thread's own connection

        last = await asyncio.to_thread(last_seq)
        await agent_ws.send(
            json.dumps({"type": "subscribe", "conversation": visitor.conversation.pk, "after": last - 1})
        )
        await _next(agent_ws, "message")  # the last one again: subscribed

        # Visitor (process 2) types and writes: the agent (process 1) sees both.
        await visitor_ws.send(json.dumps({"type": "typing", "typing": True, "text": "Hel"}))
        assert (await _next(agent_ws, "typing"))["preview"] == "Hel"
        await asyncio.to_thread(post_visitor_message, "Hello from process 2")
        got = await _next(agent_ws, "message")
        assert got["message"]["text"] == "Hello from process 2"

        # Agent (process 1) types and replies: the visitor (process 2) sees both.
        await agent_ws.send(
            json.dumps({"type": "typing", "conversation": visitor.conversation.pk, "typing": True})
        )
        assert (await _next(visitor_ws, "typing"))["name"] == "Ana"

        def reply() -> None:
            with django_db_blocker.unblock(), tenant_context(tenant_a.tenant):
                try:
                    agent_reply_send(
                        conversation=Conversation.objects.get(pk=visitor.conversation.pk),
                        user=agent,
                        text="Hi from process 1",
                    )
                finally:
                    connection.close()

        await asyncio.to_thread(reply)
        while True:
            frame = await _next(visitor_ws, "message")
            if frame["message"]["role"] == "agent":
                break
        assert frame["message"]["text"] == "Hi from process 1" and frame["message"]["author_name"] == "Ana"
        await agent_ws.close()
        await visitor_ws.close()

    # On a thread of its own: after the browser tests, Playwright keeps an event loop on
    # this thread, where asyncio.run() refuses to start another.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, scenario()).result()
