"""CSV exports from the dashboard (tenant host): the Contacts page's list and the inbox's
list, each with the page's filters (its query string, posted back with the export button),
and the download of an export job's file.

Up to ``EXPORTS_BACKGROUND_ROWS`` rows the file is streamed at once (an async generator: a
chunk's query at a time, constant memory); above it the export becomes a job whose link is
emailed (``exports.files``). A support session posts nothing, so it exports nothing; a
workspace read-only for an unpaid subscription still exports (``open_while_restricted``).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

from asgiref.sync import sync_to_async
from django.contrib import messages
from django.core.files.storage import default_storage
from django.http import Http404, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST

from billing.middleware import open_while_restricted
from chat.forms import ContactFilterForm, InboxFilterForm
from saas.csv_stream import csv_response, csv_stream
from saas.tenant_connection import connection
from tenants.context import run_in_schema
from tenants.dashboard import DashboardRequest, dashboard_page
from tenants.views import shell_context

from .datasets import dataset_for, workspace_tz
from .files import PAGES, background_rows, file_extension
from .models import ExportJob
from .selectors import export_job_for
from .services import export_job_create, export_requested_record

Kind = ExportJob.Kind
FILTER_KEYS: dict[str, frozenset[str]] = {
    Kind.CONTACTS: frozenset(ContactFilterForm.base_fields),
    Kind.CONVERSATIONS: frozenset(InboxFilterForm.base_fields),
}
FILE_CHUNK_BYTES = 64 * 1024


def _export(request: DashboardRequest, kind: str) -> HttpResponseBase:
    filters: dict[str, str] = {
        key: str(value)[:200]
        for key, value in request.GET.dict().items()
        if key in FILTER_KEYS[kind] and str(value).strip()
    }
    role = request.membership.role
    dataset = dataset_for(kind, filters, user_id=request.user.pk, role=role, tenant=request.tenant)
    count = dataset.queryset.count()
    if count > background_rows():
        export_job_create(
            kind=kind, filters=filters, user=request.user, role=role, rows=count, request=request
        )
        messages.success(
            request,
            f"{count:,} rows are too many to download at once: the file is being prepared and a link "
            f"will be emailed to {request.user.email} when it is ready.",
        )
        return redirect(reverse(PAGES[Kind(kind)]) + (f"?{urlencode(filters)}" if filters else ""))
    export_requested_record(kind=kind, filters=filters, rows=count, request=request)
    content = csv_stream(
        dataset.header,
        dataset.queryset,
        dataset.row,
        schema=connection.schema_name,
        tz=workspace_tz(request.tenant),
    )
    return csv_response(content, filename=dataset.filename)


# Posted to (the page's filters come back with the button), yet they only read: an unpaid,
# read-only workspace still exports its data.
@open_while_restricted
@require_POST
@dashboard_page("contacts")
def export_contacts(request: DashboardRequest) -> HttpResponseBase:
    return _export(request, Kind.CONTACTS)


@open_while_restricted
@require_POST
@dashboard_page("conversations")
def export_conversations(request: DashboardRequest) -> HttpResponseBase:
    return _export(request, Kind.CONVERSATIONS)


async def _file_chunks(name: str, schema: str) -> AsyncIterator[bytes]:
    """A stored file, read a piece at a time on a worker thread (a sync file under ASGI
    would be read whole into memory before the first byte goes out)."""
    stored = await run_in_schema(schema, default_storage.open, name, "rb")
    try:
        while chunk := await sync_to_async(stored.read)(FILE_CHUNK_BYTES):
            yield chunk
    finally:
        await sync_to_async(stored.close)()


@require_GET
@dashboard_page("contacts")
def export_download(request: DashboardRequest, job_id: uuid.UUID) -> HttpResponseBase:
    job = export_job_for(public_id=job_id, user_id=request.user.pk, role=request.membership.role)
    if job is None:
        raise Http404
    expired = job.status == ExportJob.Status.EXPIRED or (
        job.expires_at is not None and job.expires_at <= timezone.now()
    )
    if expired or job.status != ExportJob.Status.READY:
        state = "expired" if expired else job.status
        context = {"job": job, "state": state, "page": reverse(PAGES[Kind(job.kind)])}
        return render(
            request,
            "exports/unavailable.html",
            shell_context(request, **context),
            status=410 if expired else 409,
        )
    local = timezone.localtime(job.created_at, workspace_tz(request.tenant))
    extension = file_extension(job)
    response = StreamingHttpResponse(
        _file_chunks(job.file_name, connection.schema_name),
        content_type="application/zip" if extension == "zip" else "text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{job.kind}-{local:%Y-%m-%d-%H%M}.{extension}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
