"""saas.csv_stream: cells a spreadsheet will not run as formulas, the BOM, and rows read a
chunk (one query) at a time, never the whole table."""

from __future__ import annotations

import csv
import io
import zoneinfo
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from chat.models import Contact
from saas.csv_stream import BOM, csv_cell, csv_line, csv_lines, csv_response, csv_stream
from widget_builder.models import Widget


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("+1+2", "'+1+2"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("Ada = genius", "Ada = genius"),
        ("", ""),
    ],
)
def test_text_that_could_start_a_formula_is_neutralised(text, written):
    assert csv_cell(text) == written
    # and survives the CSV round trip as that text
    assert next(csv.reader(io.StringIO(csv_line([text])))) == [written]


def test_values_are_written_as_spreadsheets_read_them():
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    line = csv_line(
        [None, True, False, -1, 2.5, Decimal("0.001200"), datetime(2030, 6, 1, 10, tzinfo=UTC), 'a,"b"\nc'],
        berlin,
    )
    assert line == ',yes,no,-1,2.5,0.001200,2030-06-01 12:00:00,"a,""b""\nc"\r\n'


def test_the_document_starts_with_the_bom_and_the_header():
    response = csv_response(iter([]), filename="x.csv")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="x.csv"'
    first = next(csv_lines(["Name", "=Header"], Contact.objects.none(), list))
    assert first == BOM + "Name,'=Header\r\n"
    assert first.encode().startswith(b"\xef\xbb\xbf")


def _contacts(tenant, n):
    with tenant_context(tenant):
        widget = Widget.objects.first()
        Contact.objects.bulk_create([Contact(widget=widget, name=f"Lead {i}") for i in range(n)])


@pytest.mark.django_db
def test_rows_are_read_a_chunk_at_a_time(tenant_a):
    _contacts(tenant_a.tenant, 5)
    with tenant_context(tenant_a.tenant):
        counted: list[int] = []
        pieces = csv_lines(["Name"], Contact.objects.all(), lambda c: [c.name], chunk_size=2, counted=counted)
        with CaptureQueriesContext(connection) as queries:

            def selects():
                return [q["sql"] for q in queries if q["sql"].startswith("SELECT")]

            assert next(pieces).endswith("Name\r\n")
            assert selects() == []  # the header costs nothing
            assert next(pieces) == "Lead 4\r\nLead 3\r\n"  # newest first
            assert len(selects()) == 1 and "LIMIT 2" in selects()[-1]
            assert next(pieces) == "Lead 2\r\nLead 1\r\n"
            assert len(selects()) == 2
            assert list(pieces) == ["Lead 0\r\n"]
            assert len(selects()) == 3
        assert counted == [2, 2, 1]


@pytest.mark.django_db
def test_the_async_stream_reads_a_chunk_per_step_in_the_tenant_schema(tenant_a):
    _contacts(tenant_a.tenant, 3)
    schema = tenant_a.tenant.schema_name
    # The caller stands in the public schema: each chunk enters the tenant's itself (on the
    # thread sync code runs on: this one, under async_to_sync, as a request's under ASGI).
    stream = csv_stream(["Name"], Contact.objects.all(), lambda c: [c.name], schema=schema, chunk_size=2)

    steps: list[tuple[bytes, int]] = []

    with CaptureQueriesContext(connection) as queries:

        async def read_all():
            # One event loop for the whole stream (a loop's end closes its async generators).
            def selects() -> int:  # read on the thread the queries ran on (its connection)
                return sum(q["sql"].startswith("SELECT") for q in queries.captured_queries)

            async for piece in stream:
                steps.append((piece, await sync_to_async(selects)()))

        async_to_sync(read_all)()
    assert steps == [
        ((BOM + "Name\r\n").encode(), 0),  # the header before any query
        (b"Lead 2\r\nLead 1\r\n", 1),  # then one query per chunk, newest first
        (b"Lead 0\r\n", 2),
    ]
