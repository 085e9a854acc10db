"""The visitor's live events without a WebSocket: server-sent events read with ``fetch``
(the token stays in the ``Authorization`` header), and the visitor's typing and read
receipts as plain posts. Same guarantees as the socket: after ``Last-Event-ID`` (or
``?after=``), every message the visitor may see, in order, once."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from channels.layers import get_channel_layer
from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from saas import shutdown
from saas.request_body import SMALL_BODY_BYTES
from tenants.context import run_in_schema
from widget_builder.public_api import problem_responses

from ..realtime import events, queries
from ..services.inbox import conversation_read
from . import examples as ex
from .base import ConversationView
from .conversations import event_stream

TAGS = ["live events"]
KEEPALIVE_SECONDS = 15.0
POLL_SECONDS = 3.0  # without the channel layer (Redis down), the stream reads this often
PREVIEW_CHARS = 200


def _after(request: Any) -> int:
    value = request.headers.get("Last-Event-ID") or request.query_params.get("after") or "0"
    return int(value) if value.isascii() and value.isdigit() and len(value) < 10 else 0


def _sse(event: str, data: dict[str, Any], event_id: int | None = None) -> bytes:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


async def _frames(
    schema: str, conversation_id: int, event: dict[str, Any]
) -> list[tuple[str, dict[str, Any]]]:
    kind = event.get("type")
    if kind == "conv.status":
        frame = await run_in_schema(schema, queries.status_frame, conversation_id)
        return [("status", frame)] if frame else []
    if kind in ("conv.typing", "conv.read") and event.get("who") == "agent":
        keys = (
            ("conversation", "who", "name", "typing")
            if kind == "conv.typing"
            else ("conversation", "who", "seq")
        )
        return [(kind.split(".")[1], {k: event.get(k) for k in keys})]
    return []


async def _subscribe(layer: Any, group: str) -> str | None:
    """A channel in ``group``, or None when the layer is unreachable (Redis down): the
    stream then reads the database every ``POLL_SECONDS`` instead."""
    try:
        channel: str = await layer.new_channel()
        await layer.group_add(group, channel)
    except Exception as error:  # whatever the layer raises, the stream goes on by polling
        events.layer_failed(error)
        return None
    return channel


STOP: dict[str, Any] = {"type": "process.stop"}  # the process is shutting down (saas.shutdown)


async def _wait(
    layer: Any, channel: str | None, timeout: float, stop: asyncio.Future[None]
) -> tuple[dict[str, Any] | None, str | None]:
    """The next wake-up (None after ``timeout``: send a keep-alive; ``STOP`` when the
    process stops), and the channel still usable (None once the layer failed: poll from
    then on)."""
    if channel is None:
        await asyncio.wait({stop}, timeout=min(POLL_SECONDS, timeout))
        return (STOP if stop.done() else {"type": "conv.message"}), None  # read the database again
    receiving = asyncio.ensure_future(layer.receive(channel))
    try:
        await asyncio.wait({receiving, stop}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not receiving.done():
            receiving.cancel()
            with contextlib.suppress(BaseException):  # the cancelled receive's own end
                await receiving
    if receiving.done() and not receiving.cancelled():
        error = receiving.exception()
        if error is None:
            return receiving.result(), channel
        events.layer_failed(error)  # the layer went away mid-stream: poll
        return {"type": "conv.message"}, None
    return (STOP if stop.done() else None), channel


async def live_events(
    schema: str, conversation_id: int, after: int, seconds: float | None = None
) -> AsyncIterator[bytes]:
    """Replay after ``after``, then what happens, for ``seconds`` (default
    ``CHAT_EVENTS_STREAM_SECONDS``; then the client reconnects with the last id: proxies
    recycle long idle streams). Without the channel layer (Redis down) it polls. Ends at
    once when the process stops (``event_stream`` then adds ``reconnect``)."""
    layer = get_channel_layer()
    group = events.conversation_group(schema, conversation_id)
    channel = await _subscribe(layer, group)
    stop = asyncio.ensure_future(shutdown.stop_requested())
    loop = asyncio.get_running_loop()
    deadline = loop.time() + (settings.CHAT_EVENTS_STREAM_SECONDS if seconds is None else seconds)
    sent = after
    try:
        yield b"retry: 2000\n\n"
        wake: dict[str, Any] | None = {"type": "conv.message"}
        while True:
            if wake is not None and wake.get("type") == "conv.message":
                for payload in await run_in_schema(
                    schema, queries.messages_after, conversation_id, sent, for_visitor=True
                ):
                    sent = payload["seq"]
                    yield _sse("message", payload, sent)
            elif wake is not None:
                for name, data in await _frames(schema, conversation_id, wake):
                    yield _sse(name, data)
            left = deadline - loop.time()
            if left <= 0:
                return
            polling = channel is None
            wake, channel = await _wait(layer, channel, min(KEEPALIVE_SECONDS, left), stop)
            if wake is STOP:
                return
            if wake is None or polling:
                yield b": keep-alive\n\n"
    finally:
        stop.cancel()
        if channel is not None:
            with contextlib.suppress(Exception):  # leaving: a failing layer changes nothing
                await layer.group_discard(group, channel)


class TypingInput(serializers.Serializer):
    typing = serializers.BooleanField()
    text = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class TypingOutput(serializers.Serializer):
    typing = serializers.BooleanField()


class ReadInput(serializers.Serializer):
    seq = serializers.IntegerField(min_value=0)


class ReadOutput(serializers.Serializer):
    seq = serializers.IntegerField(help_text="The highest number the visitor has now seen.")


class ConversationEventsApi(ConversationView):
    """The conversation's live events as server-sent events (the fallback when WebSockets
    are blocked)."""

    def perform_content_negotiation(self, request, force=False):
        return (JSONRenderer(), JSONRenderer.media_type)

    @extend_schema(
        operation_id="conversation_events",
        tags=TAGS,
        description="Server-sent events for one of the visitor's conversations: `message` (id: its "
        "number; every message after `Last-Event-ID` or `after`, in order, once), `typing` and "
        "`read` from the agent, `status`; comments keep the stream alive. The stream ends after "
        "about a minute: reconnect with the last id. A web process shutting down ends it at once "
        "with `reconnect` (`retry:` hint in milliseconds): reconnect at once with the last id. Read "
        "it with `fetch` to send the token in the `Authorization` header.",
        parameters=[
            OpenApiParameter("after", int, required=False, description="Only messages after this number.")
        ],
        responses={
            (200, "text/event-stream"): OpenApiResponse(OpenApiTypes.STR),
            **problem_responses(401, 403, 404, 429, 503),
        },
        examples=[
            OpenApiExample(
                "An agent's reply",
                value='event: typing\ndata: {"who": "agent", "name": "Sam", "typing": true}\n\n'
                'id: 6\nevent: message\ndata: {"seq": 6, "role": "agent", "text": "Hi Ada, Sam here.", '
                '"author_name": "Sam"}\n\n'
                ": keep-alive\n\n",
                response_only=True,
                status_codes=["200"],
                media_type="text/event-stream",
            )
        ],
    )
    def get(self, request, widget_key: str, conversation_id: int):
        conversation = self.conversation(conversation_id)
        # A WSGI server gives each open stream a worker thread: there the stream only replays
        # and ends, and the client reconnects (as often as it would poll).
        seconds = 0.0 if "wsgi.input" in request.META else None
        return event_stream(live_events(self.tenant.schema_name, conversation.pk, _after(request), seconds))


class ConversationTypingApi(ConversationView):
    """The visitor is typing (or stopped): agents watching the conversation see it."""

    max_body_bytes = SMALL_BODY_BYTES

    @extend_schema(
        operation_id="conversation_typing",
        tags=TAGS,
        request=TypingInput,
        responses={200: TypingOutput, **problem_responses(401, 403, 404, 422, 429, 503)},
        examples=[
            ex.request_example("Typing", {"typing": True, "text": "Do you ship"}),
            ex.response_example("Shown", {"typing": True}),
        ],
    )
    def post(self, request, widget_key: str, conversation_id: int):
        conversation = self.conversation(conversation_id)
        data = TypingInput(data=request.data)
        data.is_valid(raise_exception=True)
        on = data.validated_data["typing"]
        events.ephemeral(
            conversation.pk,
            {
                "type": "conv.typing",
                "conversation": conversation.pk,
                "who": "visitor",
                "name": "",
                "typing": on,
                "preview": data.validated_data.get("text", "")[:PREVIEW_CHARS] if on else "",
            },
        )
        return Response({"typing": on})


class ConversationReadApi(ConversationView):
    """The visitor has seen the conversation up to a number (the agent sees "Seen")."""

    max_body_bytes = SMALL_BODY_BYTES

    @extend_schema(
        operation_id="conversation_read",
        tags=TAGS,
        request=ReadInput,
        responses={200: ReadOutput, **problem_responses(401, 403, 404, 422, 429, 503)},
        examples=[ex.request_example("Seen up to 3", {"seq": 3}), ex.response_example("Seen", {"seq": 3})],
    )
    def post(self, request, widget_key: str, conversation_id: int):
        conversation = self.conversation(conversation_id)
        data = ReadInput(data=request.data)
        data.is_valid(raise_exception=True)
        seq = conversation_read(conversation=conversation, side="visitor", seq=data.validated_data["seq"])
        return Response({"seq": seq})
