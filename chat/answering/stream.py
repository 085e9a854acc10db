"""The provider call, streamed: a producer task passes the provider's deltas to a queue and
stores the answer however the call ends; the consumer turns them into events (server-sent
events for the widget, a collected result for sync callers). Everything that touches the
database runs through :func:`_db`, which enters the tenant's schema itself: the tenant
does not follow a coroutine into a worker thread (docs/architecture.md, "Outside the request thread")."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

from asgiref.sync import SyncToAsync, async_to_sync, sync_to_async
from django_tenants.utils import schema_context

from saas.database_outage import is_database_unavailable
from saas.observability.metrics import CHAT_ANSWER_DURATION, CHAT_PROVIDER_ERRORS, CHAT_TIME_TO_FIRST_TOKEN
from saas.tenant_connection import connection

from ..llm.base import LLMRequest, Provider, ProviderError, Usage
from ..llm.clients import loop_clients_close
from ..llm.resilience import stream_resilient
from ..realtime.events import DeltaRelay, sends_drained
from ..services import MAX_ANSWER_CHARS
from .finish import answer_finish
from .outcome import Prepared
from .owed import owed_from_prepared

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
    request is answering: poll the messages)."""
    # ("delta", text), ("done", payload), or ("failed", exception) when storing it failed
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
        while True:
            kind, payload = await queue.get()
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
                if kind != "delta":
                    ended = more
                    break
                parts.append(more)
            yield ("delta", {"text": "".join(parts)})
            if ended is not None:
                yield ("done", ended)
                return
    finally:
        if producer is not None:
            if not producer.done():
                producer.cancel()  # the visitor left: stop the provider call, keep what it said
            with contextlib.suppress(asyncio.CancelledError):
                await producer


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
    usage, parts = Usage(), []
    error: ProviderError | None = None
    interrupted = False
    started, ttft_ms = time.monotonic(), None
    provider_name = "unknown"  # until the provider is chosen
    relay = DeltaRelay(prepared.schema, prepared.conversation_id)
    try:
        provider, request = prepared.provider_call()
        provider_name = provider.name
        async with contextlib.aclosing(capped_stream(provider, request, usage)) as deltas:
            async for delta in deltas:
                if ttft_ms is None:
                    ttft = time.monotonic() - started
                    ttft_ms = int(ttft * 1000)
                    CHAT_TIME_TO_FIRST_TOKEN.labels(provider_name).observe(ttft)
                parts.append(delta)
                queue.put_nowait(("delta", delta))
                await relay.add(delta)  # agents watching see it being written
        await relay.end()
    except ProviderError as exc:
        error = exc
    except asyncio.CancelledError:
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
