"""The two sockets: agents in the dashboard (``/ws/agent/`` on the workspace's host) and
visitors in the widget (``/ws/widget/v1/<widget key>`` on the public host).

Both keep, per conversation, the highest number they sent; a wake-up (``conv.message``)
makes them read from the database everything after it, so a lost, late or doubled wake-up
never loses or repeats a message, and a client that reconnects with the last number it
saw gets exactly what it missed (docs/architecture.md, "Realtime").
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from typing import Any

from asgiref.sync import sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from saas.observability.metrics import REALTIME_CONNECTIONS
from tenants.context import run_in_schema
from tenants.selectors import widget_route_resolve
from widget_builder.origins import origin_allowed

from ..models import Conversation
from ..services.agents import agent_heartbeat
from ..services.inbox import conversation_read
from ..visitor_tokens import VisitorTokenExpired, VisitorTokenInvalid
from . import events, queries

HELLO_SECONDS = 10
MAX_FRAME_CHARS = 4096
TYPING_EVERY = 1.0  # at most one typing frame per second and side is passed on
PREVIEW_CHARS = 200
COUNTS_DEBOUNCE = 0.3
VISIBILITY_SECONDS = 60.0  # how long a socket trusts what its agent may see
SHARED_ROWS = 256  # inbox rows kept per process, one read for all the sockets an event reaches

# (schema, conversation, event id) -> the row being read or read; every agent socket of this
# process that an inbox event reaches awaits the same read.
_rows: OrderedDict[tuple[str, int, str], asyncio.Future[dict[str, Any] | None]] = OrderedDict()


async def shared_row(schema: str, conversation_id: int, event_id: str) -> dict[str, Any] | None:
    key = (schema, conversation_id, event_id)
    future = _rows.get(key)
    if future is None:
        future = asyncio.ensure_future(run_in_schema(schema, queries.conversation_row, conversation_id))
        _rows[key] = future
        while len(_rows) > SHARED_ROWS:
            _rows.popitem(last=False)
    return await asyncio.shield(future)


# Frames a client may send: a burst of 20, then 2 a second (typing, reads and heartbeats
# stay far below); past it the socket is closed (4429) and the client reconnects later.
FRAME_BURST, FRAME_RATE = 20.0, 2.0
SUBSCRIPTIONS_MAX = 50  # conversations one agent socket watches at once

# Close codes (4000 to 4999 are the application's). A web process shutting down closes
# its sockets with 1012, service restart (uvicorn does; saas.shutdown): the widget
# reconnects at once, elsewhere.
UNAUTHORIZED, FORBIDDEN, NOT_FOUND, BAD_FRAME, TOO_MANY = 4401, 4403, 4404, 4400, 4429
# The channel layer is unreachable (Redis down): the widget falls back to events or polling.
TRY_AGAIN_LATER = 1013
LAYER_DOWN = (RedisConnectionError, RedisTimeoutError, OSError)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**31 else None


class _Base(AsyncJsonWebsocketConsumer):  # type: ignore[misc]  # channels ships no types
    schema: str
    sent: dict[int, int]
    closing = False
    later: asyncio.Future[Any] | None = None
    metrics_kind = "websocket"  # the open-connections gauge's label

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """A channel layer that fails (Redis down: joining a group, waiting on the socket's
        channel) closes the socket with 1013, logged once per state change, instead of a
        traceback per socket; the client falls back to events or polling."""
        gauge = REALTIME_CONNECTIONS.labels(self.metrics_kind)
        gauge.inc()
        try:
            await super().__call__(scope, receive, send)
        except LAYER_DOWN as error:
            events.layer_failed(error)
            with contextlib.suppress(Exception):  # the client may be gone already
                await self.close(code=TRY_AGAIN_LATER)
        finally:
            gauge.dec()

    async def send(
        self, text_data: str | None = None, bytes_data: bytes | None = None, close: bool = False
    ) -> None:
        # A wake-up handled while the socket closes has nobody to tell; one handled just
        # after the client dropped (its disconnect still queued behind it) neither.
        if self.closing:
            return
        try:
            await super().send(text_data=text_data, bytes_data=bytes_data, close=close)
        except (RuntimeError, OSError):
            self.closing = True

    async def close(self, code: int | bool | None = None, reason: str | None = None) -> None:
        if not self.closing:
            self.closing = True
            await super().close(code=code, reason=reason)

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        self.closing = True
        if self.later is not None:
            self.later.cancel()
        await super().websocket_disconnect(message)

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any
    ) -> None:
        if text_data is None or len(text_data) > MAX_FRAME_CHARS:
            await self.close(code=BAD_FRAME)
            return
        if not self._frame_allowed():
            await self.close(code=TOO_MANY)
            return
        await super().receive(text_data=text_data, bytes_data=bytes_data, **kwargs)

    def _frame_allowed(self) -> bool:
        now = time.monotonic()
        budget, at = getattr(self, "budget", (FRAME_BURST, now))
        budget = min(FRAME_BURST, budget + (now - at) * FRAME_RATE)
        self.budget = (budget - 1, now)
        return budget >= 1

    async def send_json(self, content: Any, close: bool = False) -> None:
        await self.send(text_data=await self.encode_json(content), close=close)

    @classmethod
    async def decode_json(cls, text_data: str) -> Any:
        try:
            return await super().decode_json(text_data)
        except ValueError:
            return {}

    async def refuse(self, code: int, error: str, detail: str) -> None:
        await self.send_json({"type": "error", "code": error, "detail": detail})
        await self.close(code=code)

    async def catch_up(self, conversation_id: int, *, for_visitor: bool) -> None:
        """Send every message after the last one this socket sent, in order, once."""
        after = self.sent.get(conversation_id)
        if after is None:
            return
        payloads = await run_in_schema(
            self.schema, queries.messages_after, conversation_id, after, for_visitor=for_visitor
        )
        for payload in payloads:
            if payload["seq"] <= self.sent.get(conversation_id, 0):
                continue
            self.sent[conversation_id] = payload["seq"]
            await self.send_json({"type": "message", "conversation": conversation_id, "message": payload})


class VisitorConsumer(_Base):
    """One visitor's socket on one conversation. The token comes in the first frame (never
    in the URL); the page's origin must be one the widget allows."""

    metrics_kind = "websocket_visitor"

    async def connect(self) -> None:
        self.sent, self.conversation_id, self.last_typing = {}, 0, 0.0
        key = self.scope["url_route"]["kwargs"]["widget_key"]
        resolve = sync_to_async(widget_route_resolve, thread_sensitive=True)
        tenant = await resolve(key) if self.scope.get("public") else None
        widget = await run_in_schema(tenant.schema_name, queries.widget_by_key, key) if tenant else None
        if tenant is None or widget is None or tenant.status != tenant.Status.ACTIVE or not widget.is_enabled:
            await self.close(code=NOT_FOUND)
            return
        origin = dict(self.scope.get("headers", [])).get(b"origin", b"").decode("latin-1")
        if not (self.scope.get("origin_ok") or origin_allowed(origin, widget.allowed_origins)):
            await self.close(code=FORBIDDEN)
            return
        # Ids only: a socket holds no model instances for its lifetime.
        self.tenant_id, self.widget_id, self.schema = tenant.pk, widget.pk, tenant.schema_name
        await self.accept()
        self.hello_timer = asyncio.get_running_loop().call_later(HELLO_SECONDS, self._hello_late)

    def _hello_late(self) -> None:
        if not self.conversation_id:
            self.later = asyncio.ensure_future(self.close(code=UNAUTHORIZED))

    async def disconnect(self, code: int) -> None:
        timer = getattr(self, "hello_timer", None)
        if timer is not None:
            timer.cancel()
        if self.conversation_id:
            await self.channel_layer.group_discard(
                events.conversation_group(self.schema, self.conversation_id), self.channel_name
            )

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if not self.conversation_id:
            if kind != "hello":
                await self.refuse(UNAUTHORIZED, "hello_required", "Send the hello frame first.")
                return
            await self.hello(content)
        elif kind == "typing":
            await self.typing(content)
        elif kind == "read" and _int(content.get("seq")) is not None:
            await run_in_schema(self.schema, self._read, content["seq"])
        elif kind == "ping":
            await self.send_json({"type": "pong"})

    async def hello(self, content: dict[str, Any]) -> None:
        token, conversation_id, after = (
            content.get("token"),
            _int(content.get("conversation")),
            _int(content.get("after")),
        )
        if not isinstance(token, str) or conversation_id is None:
            await self.refuse(
                UNAUTHORIZED, "visitor_token_invalid", "Send the visitor token and the conversation."
            )
            return
        try:
            conversation = await run_in_schema(
                self.schema,
                queries.visitor_conversation,
                self.widget_id,
                self.tenant_id,
                token,
                conversation_id,
            )
        except (VisitorTokenInvalid, VisitorTokenExpired) as exc:
            await self.refuse(UNAUTHORIZED, exc.code, str(exc.detail))
            return
        if conversation is None:
            await self.refuse(NOT_FOUND, "not_found", "No such conversation.")
            return
        self.conversation_id = conversation.pk
        self.hello_timer.cancel()
        self.sent[conversation.pk] = after or 0
        await self.channel_layer.group_add(
            events.conversation_group(self.schema, conversation.pk), self.channel_name
        )
        await self.send_json(
            {
                "type": "ready",
                "conversation": conversation.pk,
                "status": conversation.status,
                "agent_read_seq": conversation.agent_read_seq,
            }
        )
        await self.catch_up(conversation.pk, for_visitor=True)

    def _read(self, seq: int) -> None:
        conversation = Conversation.objects.filter(pk=self.conversation_id).first()
        if conversation is not None:
            conversation_read(conversation=conversation, side="visitor", seq=seq)

    async def typing(self, content: dict[str, Any]) -> None:
        on = bool(content.get("typing"))
        now = time.monotonic()
        if on and now - self.last_typing < TYPING_EVERY:
            return
        self.last_typing = now if on else 0.0
        text = content.get("text")
        preview = text if isinstance(text, str) else ""
        await self.channel_layer.group_send(
            events.conversation_group(self.schema, self.conversation_id),
            {
                "type": "conv.typing",
                "conversation": self.conversation_id,
                "who": "visitor",
                "name": "",
                "typing": on,
                "preview": preview[:PREVIEW_CHARS] if on else "",
            },
        )

    # Events from the channel layer.
    async def conv_message(self, event: dict[str, Any]) -> None:
        await self.catch_up(self.conversation_id, for_visitor=True)

    async def conv_status(self, event: dict[str, Any]) -> None:
        frame = await run_in_schema(self.schema, queries.status_frame, self.conversation_id)
        if frame is not None:
            await self.send_json(frame)

    async def conv_typing(self, event: dict[str, Any]) -> None:
        if event.get("who") == "agent":
            await self.send_json(
                {k: event.get(k) for k in ("conversation", "who", "name", "typing")} | {"type": "typing"}
            )

    async def conv_read(self, event: dict[str, Any]) -> None:
        if event.get("who") == "agent":
            await self.send_json(
                {"type": "read", "conversation": self.conversation_id, "who": "agent", "seq": event["seq"]}
            )

    async def conv_delta(self, event: dict[str, Any]) -> None:
        return None  # the visitor reads the bot's answer from their own request's stream


class AgentConsumer(_Base):
    """A member's dashboard socket: the workspace's inbox, their own notifications, and the
    conversations they open (subscribed one by one, each with the last number shown)."""

    metrics_kind = "websocket_agent"

    async def connect(self) -> None:
        self.sent, self.counts_pending = {}, False
        tenant, user, role = self.scope.get("tenant"), self.scope.get("user"), self.scope.get("role")
        if (
            tenant is None
            or user is None
            or not user.is_authenticated
            or not role
            or not self.scope.get("origin_ok")
        ):
            await self.close()  # before accepting: the handshake is refused (403)
            return
        self.schema, self.user, self.role = tenant.schema_name, user, role
        self.groups_joined = [events.inbox_group(self.schema), events.agent_group(self.schema, user.pk)]
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        await run_in_schema(self.schema, agent_heartbeat, user_id=user.pk)
        await self.send_counts()

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)
        for conversation_id in list(getattr(self, "sent", {})):
            await self.channel_layer.group_discard(
                events.conversation_group(self.schema, conversation_id), self.channel_name
            )

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if not isinstance(content, dict):
            return
        kind, conversation_id = content.get("type"), _int(content.get("conversation"))
        if kind == "heartbeat":
            await run_in_schema(
                self.schema, agent_heartbeat, user_id=self.user.pk, away=bool(content.get("away"))
            )
            await self.send_json({"type": "pong"})
        elif kind == "subscribe" and conversation_id is not None:
            await self.subscribe(conversation_id, _int(content.get("after")) or 0)
        elif kind == "unsubscribe" and conversation_id in self.sent:
            del self.sent[conversation_id]
            await self.channel_layer.group_discard(
                events.conversation_group(self.schema, conversation_id), self.channel_name
            )
        elif kind == "typing" and conversation_id in self.sent:
            await self.channel_layer.group_send(
                events.conversation_group(self.schema, conversation_id),
                {
                    "type": "conv.typing",
                    "conversation": conversation_id,
                    "who": "agent",
                    "name": self.user.get_full_name() or self.user.email.split("@")[0],
                    "typing": bool(content.get("typing")),
                    "sender": self.channel_name,
                },
            )
        elif kind == "read" and conversation_id in self.sent and _int(content.get("seq")) is not None:
            await run_in_schema(self.schema, self._read, conversation_id, content["seq"])

    def _read(self, conversation_id: int, seq: int) -> None:
        conversation = Conversation.objects.filter(pk=conversation_id).first()
        if conversation is not None:
            conversation_read(conversation=conversation, side="agent", seq=seq)

    async def subscribe(self, conversation_id: int, after: int) -> None:
        allowed = await run_in_schema(
            self.schema, queries.agent_may_see, conversation_id, self.user.pk, self.role
        )
        if not allowed:
            await self.send_json({"type": "error", "code": "not_found", "conversation": conversation_id})
            return
        if conversation_id not in self.sent and len(self.sent) >= SUBSCRIPTIONS_MAX:
            await self.send_json(
                {"type": "error", "code": "too_many_subscriptions", "conversation": conversation_id}
            )
            return
        if conversation_id not in self.sent:
            await self.channel_layer.group_add(
                events.conversation_group(self.schema, conversation_id), self.channel_name
            )
        self.sent[conversation_id] = after
        await self.catch_up(conversation_id, for_visitor=False)

    async def summary(self, event: dict[str, Any]) -> dict[str, Any] | None:
        """The inbox row an event is about, if this agent may see it: the row read once per
        process (``shared_row``), what the agent may see kept for a minute."""
        now = time.monotonic()
        if now - getattr(self, "widgets_at", -VISIBILITY_SECONDS) >= VISIBILITY_SECONDS:
            self.widgets = await run_in_schema(self.schema, queries.visible_widgets, self.user.pk, self.role)
            self.widgets_at = now
        if not event.get("id"):  # an event from an older publisher: read alone
            return await run_in_schema(
                self.schema, queries.conversation_summary, event["conversation"], self.user.pk, self.role
            )
        row = await shared_row(self.schema, event["conversation"], event["id"])
        if row is None or (self.widgets is not None and row["widget_id"] not in self.widgets):
            return None
        return row

    async def send_counts(self) -> None:
        counts = await run_in_schema(self.schema, queries.agent_counts, self.user.pk, self.role)
        await self.send_json({"type": "counts", "counts": counts})

    async def _counts_later(self) -> None:
        await asyncio.sleep(COUNTS_DEBOUNCE)
        self.counts_pending = False
        await self.send_counts()

    # Events from the channel layer.
    async def conv_message(self, event: dict[str, Any]) -> None:
        if event["conversation"] in self.sent:
            await self.catch_up(event["conversation"], for_visitor=False)

    async def conv_status(self, event: dict[str, Any]) -> None:
        return None  # the inbox event that comes with it carries the new state

    async def conv_typing(self, event: dict[str, Any]) -> None:
        if event.get("sender") != self.channel_name:
            frame = {k: event.get(k) for k in ("conversation", "who", "name", "typing", "preview")}
            await self.send_json(frame | {"type": "typing"})

    async def conv_read(self, event: dict[str, Any]) -> None:
        await self.send_json(
            {"type": "read", "conversation": event["conversation"], "who": event["who"], "seq": event["seq"]}
        )

    async def conv_delta(self, event: dict[str, Any]) -> None:
        await self.send_json(
            {
                "type": event.get("kind", "delta"),
                "conversation": event["conversation"],
                "text": event.get("text", ""),
            }
        )

    async def inbox_changed(self, event: dict[str, Any]) -> None:
        summary = await self.summary(event)
        if summary is None:
            return
        await self.send_json({"type": "conversation", "conversation": summary})
        if not self.counts_pending:
            self.counts_pending = True
            self.later = asyncio.ensure_future(self._counts_later())

    async def inbox_removed(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "removed", "conversations": event.get("conversations", [])})
        if not self.counts_pending:
            self.counts_pending = True
            self.later = asyncio.ensure_future(self._counts_later())

    async def inbox_notify(self, event: dict[str, Any]) -> None:
        frame = await run_in_schema(
            self.schema, queries.notification, event["kind"], event["conversation"], self.user.pk, self.role
        )
        if frame is not None:
            await self.send_json(frame)

    async def inbox_presence(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "presence", "user_id": event["user_id"], "presence": event["presence"]})
