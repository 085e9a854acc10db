"""Wake-ups wait for the commit: a socket never hears of a row it cannot read yet, and a
rolled-back write wakes nobody."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async
from django.db import transaction
from django.test import TestCase
from django_tenants.utils import tenant_context

from chat.realtime import events
from chat.services.messages import message_append
from tests.chat.factories import ConversationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch):
    calls: list[tuple[str, dict]] = []
    monkeypatch.setattr(events, "send_now", lambda group, event: calls.append((group, event)))
    return calls


def test_a_stored_message_wakes_its_conversation_and_the_inbox_after_commit(tenant_a, sent):
    with tenant_context(tenant_a.tenant):
        conversation = ConversationFactory()
        with TestCase.captureOnCommitCallbacks(execute=True) as callbacks:
            message, _ = message_append(conversation=conversation, role="visitor", text="Hello")
            assert sent == []  # not before the commit
        # The two wake-ups (and the domain event chat_event, for webhooks: its own tests).
        assert len([c for c in callbacks if c.__qualname__.startswith("publish.")]) == 2
    schema = tenant_a.tenant.schema_name
    assert sent == [
        (
            f"{schema}.conv.{conversation.pk}",
            {"type": "conv.message", "conversation": conversation.pk, "seq": message.seq},
        ),
        (
            f"{schema}.inbox",
            {"type": "inbox.changed", "conversation": conversation.pk, "id": sent[1][1]["id"]},
        ),
    ]
    assert len(sent[1][1]["id"]) == 32  # every socket of a process shares one read per event id


def test_a_rolled_back_write_wakes_nobody(tenant_a, sent):
    with tenant_context(tenant_a.tenant):
        conversation = ConversationFactory()
        with TestCase.captureOnCommitCallbacks(execute=True):
            try:
                with transaction.atomic():
                    message_append(conversation=conversation, role="visitor", text="Hello")
                    raise RuntimeError("rolled back")
            except RuntimeError:
                pass
    assert sent == []


def test_a_layer_that_fails_never_fails_the_write(tenant_a, monkeypatch):
    class Broken:
        async def group_send(self, group, event):
            raise ConnectionError("Redis is down")

    monkeypatch.setattr(events, "get_channel_layer", lambda: Broken())
    with tenant_context(tenant_a.tenant):
        conversation = ConversationFactory()
        with TestCase.captureOnCommitCallbacks(execute=True):
            message, created = message_append(conversation=conversation, role="visitor", text="Hello")
    assert created and message.pk


def test_a_sync_view_under_asgi_hands_the_send_to_the_servers_loop_without_waiting(caplog):
    """From a thread the server's loop runs sync code in (a sync view under ASGI), the send
    is scheduled on that loop and the thread goes on at once; a send that fails later is
    logged as the layer's state, never raised."""
    received: list[tuple[str, dict]] = []

    class Held:
        def __init__(self) -> None:
            self.release = asyncio.Event()

        async def group_send(self, group, event):
            await self.release.wait()
            if event["type"] == "boom":
                raise ConnectionError("Redis is down")
            received.append((group, event))

    layer = Held()

    async def main() -> None:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(events, "get_channel_layer", lambda: layer)
            await sync_to_async(events.send_now)("s.conv.1", {"type": "conv.message"})
            await sync_to_async(events.send_now)("s.conv.1", {"type": "boom"})
            assert received == []  # both returned while the layer still held the sends
            layer.release.set()
            for _ in range(100):
                await asyncio.sleep(0)
        assert received == [("s.conv.1", {"type": "conv.message"})]

    asyncio.run(main())
    # Logged as the layer's state (once per change), never raised.
    assert "channel layer unreachable (ConnectionError: Redis is down)" in caplog.text
