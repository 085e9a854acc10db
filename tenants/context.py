"""Carrying the tenant into code that does not run on the request's thread.

The database connection is per thread: a schema set on one thread does not reach the
thread that ``sync_to_async`` picks (django-tenants #518, #1168). So sync database code
called from async code names its schema and enters it itself, on its own thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

from asgiref.sync import sync_to_async
from django_tenants.utils import schema_context

P = ParamSpec("P")
R = TypeVar("R")


def call_in_schema(schema_name: str, func: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    with schema_context(schema_name):
        return func(*args, **kwargs)


async def run_in_schema(schema_name: str, func: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Await sync ``func`` on a worker thread, inside ``schema_name``, whatever thread it lands on."""
    return await sync_to_async(call_in_schema, thread_sensitive=True)(schema_name, func, *args, **kwargs)
