"""Entering a schema explicitly: the public one for code that manages tenants, and the
tenant's own for code that does not run on the request's thread.

The database connection is per thread: a schema set on one thread does not reach the
thread that ``sync_to_async`` picks (django-tenants #518, #1168). So sync database code
called from async code names its schema and enters it itself, on its own thread.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from asgiref.sync import sync_to_async
from django_tenants.utils import get_public_schema_name, schema_context

P = ParamSpec("P")
R = TypeVar("R")


def in_public_schema(func: Callable[P, R]) -> Callable[P, R]:
    """Run ``func`` in the public schema and restore the caller's schema afterwards (for
    services that manage tenants: a caller still inside a tenant's schema cannot misplace
    their rows)."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with schema_context(get_public_schema_name()):
            return func(*args, **kwargs)

    return wrapper


def call_in_schema(schema_name: str, func: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    with schema_context(schema_name):
        return func(*args, **kwargs)


async def run_in_schema(schema_name: str, func: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Await sync ``func`` on a worker thread, inside ``schema_name``, whatever thread it lands on."""
    return await sync_to_async(call_in_schema, thread_sensitive=True)(schema_name, func, *args, **kwargs)
