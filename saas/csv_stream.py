"""CSV files that spreadsheets open safely, written in constant memory.

* **UTF-8 with a BOM**: Excel reads a BOM-less UTF-8 file as the local code page and
  mangles every accent; the BOM (``\\ufeff``) makes it read UTF-8.
* **No formulas from our users' text** (CSV injection, OWASP): a cell whose text starts
  with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return would be run as a formula by
  a spreadsheet; :func:`csv_cell` puts a ``'`` in front, which spreadsheets show as text.
  Numbers we produce ourselves (counts, scores) are written as they are.
* **Constant memory**: rows are read in chunks by key (``pk < last``, newest first), one
  query a chunk, never a whole table in memory and no cursor held across threads.
  :func:`csv_stream` is the async generator a ``StreamingHttpResponse`` needs under ASGI (a
  sync iterator would be read to the end before the first byte is sent, Django's
  ``StreamingHttpResponse.__aiter__``); each chunk's query runs on a worker thread inside
  the tenant's schema (the connection is per thread). :func:`csv_lines` is the same for
  sync code (a Celery task writing a file).

Imports no app: any app's export uses it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from datetime import date, datetime, tzinfo
from decimal import Decimal
from typing import Any, Final, TypeVar

from asgiref.sync import sync_to_async
from django.db.models import Model, QuerySet
from django.http import StreamingHttpResponse
from django_tenants.utils import schema_context

BOM: Final = "\ufeff"
# What a spreadsheet may take for the start of a formula (or a cell split in two).
FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")
CHUNK_ROWS: Final = 2000

M = TypeVar("M", bound=Model)
Row = Callable[[Any], Sequence[Any]]


def csv_text(text: str) -> str:
    """``text`` made inert for a spreadsheet: a leading ``'`` when it could start a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_cell(value: Any, tz: tzinfo | None = None) -> str | int | float:
    """One cell: None is empty, booleans "yes"/"no", times in ``tz`` without the offset
    (what spreadsheets parse as a date), numbers as they are, any text neutralised."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return (value.astimezone(tz) if tz else value).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return csv_text(str(value))


def csv_line(values: Iterable[Any], tz: tzinfo | None = None) -> str:
    """One CSV record (quoted where needed, CRLF-terminated as RFC 4180 says)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([csv_cell(v, tz) for v in values])
    return buffer.getvalue()


def keyset_chunk(queryset: QuerySet[M], *, before: int | None, size: int) -> list[M]:
    """Up to ``size`` rows of ``queryset``, newest key first, with keys below ``before``
    (None: from the newest). One query."""
    rows = queryset.order_by("-pk")
    if before is not None:
        rows = rows.filter(pk__lt=before)
    return list(rows[:size])


def _chunk_text(
    queryset: QuerySet[Any], row: Row, tz: tzinfo | None, before: int | None, size: int
) -> tuple[str, int | None, int]:
    """The CSV text of one chunk, the key to continue below (None: that was the last) and
    how many rows it held."""
    rows = keyset_chunk(queryset, before=before, size=size)
    text = "".join(csv_line(row(r), tz) for r in rows)
    after = rows[-1].pk if len(rows) == size else None
    return text, after, len(rows)


def csv_lines(
    header: Sequence[str],
    queryset: QuerySet[Any],
    row: Row,
    *,
    tz: tzinfo | None = None,
    chunk_size: int = CHUNK_ROWS,
    counted: list[int] | None = None,
) -> Iterator[str]:
    """The whole document as text pieces (the BOM and the header first, then a piece per
    chunk), in the schema active now. ``counted``, if given, gets the number of rows."""
    yield BOM + csv_line(header)
    before: int | None = None
    while True:
        text, before, n = _chunk_text(queryset, row, tz, before, chunk_size)
        if counted is not None:
            counted.append(n)
        if text:
            yield text
        if before is None:
            return


def _chunk_in_schema(
    schema: str, queryset: QuerySet[Any], row: Row, tz: tzinfo | None, before: int | None, size: int
) -> tuple[str, int | None, int]:
    with schema_context(schema):
        return _chunk_text(queryset, row, tz, before, size)


async def csv_stream(
    header: Sequence[str],
    queryset: QuerySet[Any],
    row: Row,
    *,
    schema: str,
    tz: tzinfo | None = None,
    chunk_size: int = CHUNK_ROWS,
) -> AsyncIterator[bytes]:
    """The document as UTF-8 bytes, a chunk's query at a time, each on a worker thread in
    ``schema`` (``row`` runs there too, so it may read what the queryset selected)."""
    yield (BOM + csv_line(header)).encode()
    fetch = sync_to_async(_chunk_in_schema, thread_sensitive=True)
    before: int | None = None
    while True:
        text, before, _ = await fetch(schema, queryset, row, tz, before, chunk_size)
        if text:
            yield text.encode()
        if before is None:
            return


def csv_response(content: AsyncIterator[bytes], *, filename: str) -> StreamingHttpResponse:
    """A download of ``content`` (from :func:`csv_stream`) named ``filename``."""
    response = StreamingHttpResponse(content, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
