"""Answering a file built in a temporary file: read a piece at a time on a worker thread
(a sync iterator under ASGI would be read whole into memory before the first byte), and
closed (so deleted) when the answer ends or the client goes away."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from typing import IO

from asgiref.sync import sync_to_async
from django.http import StreamingHttpResponse

CHUNK_BYTES = 64 * 1024


async def _chunks(spool: IO[bytes]) -> AsyncIterator[bytes]:
    try:
        await sync_to_async(spool.seek)(0)
        while chunk := await sync_to_async(spool.read)(CHUNK_BYTES):
            yield chunk
    finally:
        await sync_to_async(spool.close)()


def zip_spool() -> IO[bytes]:
    return tempfile.TemporaryFile()


def zip_response(spool: IO[bytes], *, filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(_chunks(spool), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
