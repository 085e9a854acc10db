"""Calling the ASGI application directly from a test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from django.core.signals import request_finished, request_started
from django.db import close_old_connections


@asynccontextmanager
async def connection_kept() -> AsyncIterator[None]:
    """As Django's test clients do: the request does not close the test's connection (and
    so its transaction) when it starts or finishes."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
