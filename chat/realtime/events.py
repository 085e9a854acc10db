"""What the services publish, after their transaction commits, to the channel layer.

Group names carry the tenant's schema, so a socket joins only its own workspace's groups:

* ``<schema>.conv.<conversation id>``: the visitor's socket and agents watching it;
* ``<schema>.inbox``: every agent socket of the workspace (each filters what its agent may see);
* ``<schema>.agent.<user id>``: one agent's sockets (assignments).

The layer delivers at most once: an event carries ids and numbers, and a
socket reads the rows from the database. Ephemeral events (typing, answer deltas) are the
exception, and losing one costs nothing.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
import uuid
import weakref
from typing import Any

from asgiref.sync import SyncToAsync, async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from saas.tenant_connection import connection

logger = logging.getLogger(__name__)


def conversation_group(schema: str, conversation_id: int) -> str:
    return f"{schema}.conv.{conversation_id}"


def inbox_group(schema: str) -> str:
    return f"{schema}.inbox"


def agent_group(schema: str, user_id: int) -> str:
    return f"{schema}.agent.{user_id}"


class _LayerState:
    """Whether this process last found the layer unreachable: one log line per change."""

    down = False
    failed_at = 0.0


RETRY_AFTER_S = 3.0  # a layer that failed is not asked again sooner by the queued sends


def layer_failed(error: BaseException) -> None:
    """The layer could not be reached (Redis down): logged once until it answers again."""
    _LayerState.failed_at = time.monotonic()
    if not _LayerState.down:
        _LayerState.down = True
        logger.warning(
            "realtime: channel layer unreachable (%s: %s); clients poll until it answers",
            type(error).__name__,
            error,
        )


def layer_answered() -> None:
    if _LayerState.down:
        _LayerState.down = False
        logger.warning("realtime: channel layer answers again")


def send_now(group: str, event: dict[str, Any]) -> None:
    """Send at once, from sync code (a service after commit, a task). A failing layer
    (Redis down) is logged once per state change, never raised: the rows are stored,
    sockets catch up on their next wake-up or reconnect, and clients poll meanwhile."""
    layer = get_channel_layer()
    if layer is None:
        return
    loop = getattr(SyncToAsync.threadlocal, "main_event_loop", None)
    if loop is not None and loop.is_running():
        # A sync view under ASGI: hand the send to the server's loop and go on (waiting for
        # it would hold the request's thread through a busy loop, once per event), in order.
        loop.call_soon_threadsafe(_queue, loop, layer, group, event)
        return
    try:
        async_to_sync(layer.group_send)(group, event)
    except Exception as error:  # a wake-up must never fail the write that caused it
        layer_failed(error)
        return
    layer_answered()


class _Outgoing:
    """The sends handed to one server loop, sent one after the other in the order they
    were handed over (``call_soon_threadsafe`` keeps that order): a socket in two groups
    (the inbox and its agent's) hears a request's events as the request made them."""

    def __init__(self) -> None:
        self.items: collections.deque[tuple[Any, str, dict[str, Any]]] = collections.deque()
        self.task: asyncio.Task[None] | None = None


MAX_OUTGOING = 10_000  # a layer that stopped answering: the oldest wake-ups go first
_outgoing: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Outgoing] = weakref.WeakKeyDictionary()


def _queue(loop: asyncio.AbstractEventLoop, layer: Any, group: str, event: dict[str, Any]) -> None:
    """On the server loop: queue one send, and start the sender if it is idle."""
    outgoing = _outgoing.get(loop)
    if outgoing is None:
        outgoing = _outgoing[loop] = _Outgoing()
    if len(outgoing.items) >= MAX_OUTGOING:
        outgoing.items.popleft()  # a wake-up lost: sockets catch up from the database
    outgoing.items.append((layer, group, event))
    if outgoing.task is None or outgoing.task.done():
        outgoing.task = loop.create_task(_send_queued(outgoing))


async def _send_queued(outgoing: _Outgoing) -> None:
    """Send what is queued, in order; a failure is the layer's state, logged once per change."""
    while outgoing.items:
        layer, group, event = outgoing.items.popleft()
        if _LayerState.down and time.monotonic() - _LayerState.failed_at < RETRY_AFTER_S:
            continue  # it failed a moment ago: dropped, not queued behind its timeouts
        try:
            await layer.group_send(group, event)
        except Exception as error:  # the rows are stored; sockets catch up
            layer_failed(error)
            continue
        layer_answered()


DRAIN_TIMEOUT_S = 2.0


async def sends_drained(timeout: float = DRAIN_TIMEOUT_S) -> None:
    """Until the wake-ups handed to the running loop have been sent (at most ``timeout``).

    A loop that ``async_to_sync`` made for sync code of its own (a Celery worker answering a
    visitor, a web process's owed answers thread) is also "the server's loop" to the sync
    code it runs, so its services' sends are queued on it; and it is closed, its pending
    tasks cancelled, as soon as its coroutine returns. Awaited before that, the stored
    answer's wake-up reaches the visitor's and the agents' sockets in other processes."""
    outgoing = _outgoing.get(asyncio.get_running_loop())
    deadline = time.monotonic() + timeout
    while outgoing is not None and outgoing.task is not None and not outgoing.task.done():
        left = deadline - time.monotonic()
        if left <= 0:
            return  # a layer that hangs: the rows are stored, sockets catch up on reconnect
        await asyncio.wait({outgoing.task}, timeout=left)


REMOVED_MAX = 200


def publish(group: str, event: dict[str, Any]) -> None:
    """Send once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: send_now(group, event))


def schema() -> str:
    return str(connection.schema_name)


def conversation_changed(conversation_id: int, *, seq: int = 0, kind: str = "message") -> None:
    """A message was stored (``kind`` message, with its ``seq``) or the conversation's
    state changed (``kind`` status): its watchers and the inbox are told after commit."""
    current = schema()
    publish(
        conversation_group(current, conversation_id),
        {"type": f"conv.{kind}", "conversation": conversation_id, "seq": seq},
    )
    publish(inbox_group(current), inbox_changed(conversation_id))


def inbox_changed(conversation_id: int) -> dict[str, Any]:
    """The inbox event for a conversation; its id lets every socket of a process share one
    read of the row."""
    return {"type": "inbox.changed", "conversation": conversation_id, "id": uuid.uuid4().hex}


def conversations_removed(conversation_ids: list[int]) -> None:
    """Conversations were deleted (a person, the API, a visitor, retention): the inbox lists
    drop them and an agent who has one open is told, after the commit. At most
    ``REMOVED_MAX`` ids are named; the lists refresh whatever the count."""
    publish(inbox_group(schema()), {"type": "inbox.removed", "conversations": conversation_ids[:REMOVED_MAX]})


def notify(kind: str, conversation_id: int, *, user_id: int | None = None) -> None:
    """A notification for agents: the whole inbox, or one agent (``user_id``)."""
    current = schema()
    group = agent_group(current, user_id) if user_id else inbox_group(current)
    publish(group, {"type": "inbox.notify", "kind": kind, "conversation": conversation_id})


def presence_changed(user_id: int, presence: str) -> None:
    publish(inbox_group(schema()), {"type": "inbox.presence", "user_id": user_id, "presence": presence})


def ephemeral(conversation_id: int, event: dict[str, Any], *, schema_name: str | None = None) -> None:
    """Typing, read receipts, answer deltas: sent at once, not tied to a transaction."""
    send_now(conversation_group(schema_name or schema(), conversation_id), event)


class DeltaRelay:
    """Agents watching a conversation see the bot's answer as it is written: deltas are
    grouped (at most one send every ``every`` seconds) and sent to the conversation's group,
    then ``delta_end``. Ephemeral: the stored answer arrives as a message; a relay that
    cannot reach the layer gives up silently and never slows the visitor's stream."""

    TIMEOUT = 0.5

    def __init__(self, schema_name: str, conversation_id: int, every: float = 0.15) -> None:
        self.group = conversation_group(schema_name, conversation_id)
        self.conversation_id, self.every = conversation_id, every
        self.parts: list[str] = []
        self.sent_at = 0.0
        self.layer = get_channel_layer()

    async def _send(self, kind: str, text: str) -> None:
        if self.layer is None:
            return
        event = {"type": "conv.delta", "conversation": self.conversation_id, "kind": kind, "text": text}
        try:
            await asyncio.wait_for(self.layer.group_send(self.group, event), self.TIMEOUT)
        except Exception as error:  # an unreachable layer costs the watchers the live text, nothing else
            layer_failed(error)
            self.layer = None

    async def add(self, text: str) -> None:
        self.parts.append(text)
        now = asyncio.get_running_loop().time()
        if now - self.sent_at >= self.every:
            self.sent_at = now
            await self.flush()

    async def flush(self) -> None:
        if self.parts:
            text, self.parts = "".join(self.parts), []
            await self._send("delta", text)

    async def end(self) -> None:
        await self.flush()
        await self._send("delta_end", "")
