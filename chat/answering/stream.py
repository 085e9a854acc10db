"""The provider call, streamed: a producer task passes the provider's deltas to a queue and
stores the answer however the call ends; the consumer turns them into events (server-sent
events for the widget, a collected result for sync callers). Everything that touches the
database runs through :func:`_db`, which enters the tenant's schema itself: the tenant
does not follow a coroutine into a worker thread (docs/architecture.md, "Outside the request thread")."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import json
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

from asgiref.sync import SyncToAsync, async_to_sync, sync_to_async
from django_tenants.utils import schema_context

from saas import shutdown
from saas.database_outage import is_database_unavailable
from saas.observability.metrics import CHAT_ANSWER_DURATION, CHAT_PROVIDER_ERRORS, CHAT_TIME_TO_FIRST_TOKEN
from saas.tenant_connection import connection
from tenants.contributions import ToolCard

from ..file_context import rows_cited
from ..llm.base import LLMRequest, Provider, ProviderError, Turn, Usage
from ..llm.clients import loop_clients_close
from ..llm.resilience import stream_resilient
from ..realtime.events import DeltaRelay, sends_drained
from ..services import MAX_ANSWER_CHARS
from .finish import answer_finish
from .outcome import Prepared
from .owed import answer_hand_over, owed_from_prepared
from .tools import MAX_TOOL_ROUNDS, tools_run

logger = logging.getLogger(__name__)

T = TypeVar("T")


def _db(schema: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> Awaitable[T]:
    """Run ``fn`` in ``schema`` on the request's database thread (awaitable)."""

    def call() -> T:
        if connection.schema_name == schema:  # entering it again would set the search path again
            return fn(*args, **kwargs)
        with schema_context(schema):
            return fn(*args, **kwargs)

    return sync_to_async(call, thread_sensitive=True)()


def connection_release() -> None:
    """Give the request's pooled database connection back while the provider answers (it
    can take seconds; the answer is stored on a connection borrowed again). Without a pool,
    or inside a transaction, the connection stays."""
    if connection.settings_dict.get("OPTIONS", {}).get("pool") and not connection.in_atomic_block:
        connection.close()


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


async def answer_events(
    prepared: Prepared, *, first: Sequence[tuple[str, dict[str, Any]]] = ()
) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """The answer as events: ``message`` (messages stored on the way), ``typing``,
    ``delta`` ({text}), then ``done`` ({message, handoff, outcome}) or ``pending`` (another
    request is answering: poll the messages). In a process shutting down whose grace
    period ends first, the events stop without ``done``: a worker answers instead
    (``owed.answer_hand_over``)."""
    # ("delta", text), ("done", payload), ("failed", exception) when storing it failed, or
    # ("handover", None) when a stopping process's grace period is over
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    # The provider call starts before anything is sent: the first token is not kept waiting.
    asking = not prepared.pending and prepared.final is None
    producer = asyncio.create_task(_produce(prepared, queue)) if asking else None
    try:
        for item in first:
            yield item
        for message in prepared.before:
            yield ("message", message)
        if prepared.pending:
            yield ("pending", {})
            return
        if prepared.final is not None:
            yield ("done", prepared.final)
            return
        yield ("typing", {})
        # A process shutting down lets the answer finish within its grace period; at its end
        # the answer is handed to a worker and the events end without "done" (saas.shutdown).
        grace_over = shutdown.at_grace_end(lambda: queue.put_nowait(("handover", None)))
        try:
            async with contextlib.aclosing(_events_from(queue, prepared, producer)) as events:
                async for event in events:
                    yield event
        finally:
            grace_over()
    finally:
        if producer is not None:
            if not producer.done():
                # The visitor left: stop the provider call, keep what it said (or hand the
                # answer on, when the process stops).
                producer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await producer


async def _events_from(
    queue: asyncio.Queue[tuple[str, Any]], prepared: Prepared, producer: asyncio.Task[None] | None
) -> AsyncGenerator[tuple[str, dict[str, Any]], None]:
    """The producer's deltas, then ``done``; nothing more after a ``handover`` (the grace
    period of a stopping process is over and the producer is still writing: the caller's
    cancel makes it hand the answer on)."""
    while True:
        kind, payload = await queue.get()
        if kind == "handover":
            if producer is None or producer.done():  # its end is in the queue already
                continue
            prepared.handed_over = True
            return
        if kind == "failed":
            raise payload
        if kind != "delta":
            yield ("done", payload)
            return
        # Deltas that arrived while the last event was being sent go out as one.
        parts, ended = [payload], None
        while not queue.empty():
            kind, more = queue.get_nowait()
            if kind == "failed":
                raise more
            if kind == "handover":  # seen again at the next get
                queue.put_nowait((kind, more))
                break
            if kind != "delta":
                ended = more
                break
            parts.append(more)
        yield ("delta", {"text": "".join(parts)})
        if ended is not None:
            yield ("done", ended)
            return


async def capped_stream(provider: Provider, request: LLMRequest, usage: Usage) -> AsyncGenerator[str, None]:
    """The provider's deltas through the resilience layer, stopped at MAX_ANSWER_CHARS
    (a server ignoring max_tokens is not read further)."""
    size = 0
    async with contextlib.aclosing(stream_resilient(provider, request, usage)) as deltas:
        async for delta in deltas:
            yield delta
            size += len(delta)
            if size > MAX_ANSWER_CHARS:
                return


async def _produce(prepared: Prepared, queue: asyncio.Queue[tuple[str, Any]]) -> None:
    """Call the provider, pass deltas on, store the answer however the call ends."""
    usage = Usage()
    parts: list[str] = []
    error: ProviderError | None = None
    interrupted = False
    started, ttft_ms = time.monotonic(), None
    provider_name = "unknown"  # until the provider is chosen
    relay = DeltaRelay(prepared.schema, prepared.conversation_id)
    card: ToolCard | None = None
    try:
        provider, request = prepared.provider_call()
        provider_name = provider.name
        for rounds in itertools.count():
            step, said = Usage(), list[str]()
            async with contextlib.aclosing(capped_stream(provider, request, step)) as deltas:
                async for delta in deltas:
                    if ttft_ms is None:
                        ttft = time.monotonic() - started
                        ttft_ms = int(ttft * 1000)
                        CHAT_TIME_TO_FIRST_TOKEN.labels(provider_name).observe(ttft)
                    if not said and parts and not parts[-1][-1:].isspace():
                        delta = "\n\n" + delta  # a new round of the answer: a new paragraph
                    said.append(delta)
                    parts.append(delta)
                    queue.put_nowait(("delta", delta))
                    await relay.add(delta)  # agents watching see it being written
            _usage_add(usage, step)
            if step.stop_reason != "tool_use" or not step.tool_calls or rounds >= MAX_TOOL_ROUNDS:
                break
            # The model asked for tools (AI actions): run them, give it their results.
            results, card = await _db(
                prepared.schema, tools_run, prepared.conversation_id, prepared.widget_id, step.tool_calls
            )
            if card is not None:  # the visitor confirms first: the answer ends with the card
                if not "".join(parts).strip():
                    parts.append(card.text)
                    queue.put_nowait(("delta", card.text))
                    await relay.add(card.text)
                break
            rows_cited(prepared.passages, step.tool_calls, results)  # a table's citation: its rows
            turns = [
                *request.turns,
                Turn("assistant", "".join(said).strip(), tool_calls=tuple(step.tool_calls)),
                Turn("user", "", tool_results=tuple(results)),
            ]
            request = dataclasses.replace(request, turns=turns)
        await relay.end()
    except ProviderError as exc:
        error = exc
    except asyncio.CancelledError:
        if prepared.handed_over and await _hand_over(prepared):
            _answer_observe(provider_name, time.monotonic() - started, error=None, interrupted=True)
            raise
        interrupted = True
    except Exception as exc:  # an SDK surprise must still end in the fallback
        logger.exception("llm call crashed")
        error = ProviderError("server", type(exc).__name__)
    _answer_observe(provider_name, time.monotonic() - started, error=error, interrupted=interrupted)
    finish = {
        "text": "".join(parts),
        "usage": usage,
        "error": error,
        "interrupted": interrupted,
        "ttft_ms": ttft_ms,
        "card": card.card if card is not None else None,
    }
    try:
        final = await asyncio.shield(_db(prepared.schema, answer_finish, prepared, **finish))
    except Exception as exc:  # the database went away: the reader must not wait for "done"
        if is_database_unavailable(exc):  # the answer is stored once it is back
            await asyncio.to_thread(owed_from_prepared, prepared, finish)
        queue.put_nowait(("failed", exc))
        raise
    if final is not None:
        queue.put_nowait(("done", final))
    if interrupted:
        raise asyncio.CancelledError


async def _hand_over(prepared: Prepared) -> bool:
    """A worker answers the message instead (``answer_hand_over``); False when none can
    (no broker: what was written is stored as an interrupted answer) or handing on failed."""
    try:
        return await asyncio.shield(_db(prepared.schema, answer_hand_over, prepared))
    except Exception:  # the broker's outbox keeps a refused task; anything else: store what we have
        logger.exception("answer hand-over failed conversation=%s", prepared.conversation_id)
        return False


def _usage_add(total: Usage, step: Usage) -> None:
    """One round's usage added to the answer's (tokens add up; the last round ends it)."""
    total.input_tokens += step.input_tokens
    total.output_tokens += step.output_tokens
    total.finished, total.stop_reason = step.finished, step.stop_reason


def _answer_observe(provider: str, seconds: float, *, error: ProviderError | None, interrupted: bool) -> None:
    """The call's duration and end in the metrics (labels: the provider's kind, never the
    workspace)."""
    if error is not None:
        CHAT_PROVIDER_ERRORS.labels(provider, error.kind).inc()
    outcome = "error" if error is not None else "interrupted" if interrupted else "ok"
    CHAT_ANSWER_DURATION.labels(provider, outcome).observe(seconds)


async def answer_stream_bytes(
    prepared: Prepared, *, first: Sequence[tuple[str, dict[str, Any]]] = ()
) -> AsyncIterator[bytes]:
    """Server-sent events for the widget."""
    async for event, data in answer_events(prepared, first=first):
        yield _sse(event, data)


def answer_collect(prepared: Prepared) -> dict[str, Any]:
    """Run the answer to its end from sync code (playground, tests): the final payload with
    the deltas seen."""

    async def run() -> dict[str, Any]:
        deltas, final = [], None
        async for event, data in answer_events(prepared):
            if event == "delta":
                deltas.append(data["text"])
            elif event == "done":
                final = data
        return {"final": final, "deltas": deltas}

    return run_from_sync(run)


def run_from_sync(make_coroutine: Callable[[], Awaitable[T]]) -> T:
    """Run an async function from sync code. When async_to_sync makes a loop of its own
    (a WSGI thread, a test; not a sync view under ASGI, which uses the server's loop), the
    SDK clients created in that loop are closed with it."""
    # A thread that ran async_to_sync before keeps that loop, closed, as its "main" one.
    main = getattr(SyncToAsync.threadlocal, "main_event_loop", None)
    own_loop = main is None or not main.is_running()

    async def run() -> T:
        try:
            return await make_coroutine()
        finally:
            if own_loop:  # a loop closed on return: what it still has to send goes first
                await sends_drained()
                await loop_clients_close()

    return async_to_sync(run)()
