"""The audit log page (Settings → Audit log, owners and admins) and its CSV export with the
page's filters."""

from __future__ import annotations

import zoneinfo
from datetime import tzinfo

from django.http import HttpResponse, HttpResponseBase
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from saas.csv_stream import csv_response, csv_stream
from saas.tenant_connection import connection
from tenants.dashboard import DashboardRequest, dashboard_page
from tenants.views import shell_context

from .forms import FILTERS, AuditFilterForm
from .selectors import CSV_HEADER, audit_events, audit_events_page, csv_row, event_rows
from .services import audit_log_export_record


def workspace_tz(request: DashboardRequest) -> tzinfo:
    try:
        return zoneinfo.ZoneInfo(request.tenant.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def _before(request: DashboardRequest) -> int | None:
    """The page's key (``before``: the last event of the previous page); garbage is the
    first page."""
    value = request.GET.get("before", "")
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 18 else None


def _filter_query(request: DashboardRequest) -> str:
    """The page's filters as a query string (for the export button and the pages)."""
    query = request.GET.copy()
    for name in list(query):
        if name not in FILTERS or not query.get(name, "").strip():
            del query[name]
    return query.urlencode()


@require_GET
@dashboard_page("settings")
def audit_log(request: DashboardRequest) -> HttpResponse:
    """Newest first, a page of 50 at a time by key; filtered by who, what, when, target."""
    tz = workspace_tz(request)
    form = AuditFilterForm(request.GET or None)
    filters = form.audit_filters(tz)
    events, next_before = audit_events_page(filters, before=_before(request))
    query = _filter_query(request)
    context = shell_context(
        request,
        form=form,
        rows=event_rows(events),
        next_before=next_before,
        paged=_before(request) is not None,
        query_string=query,
        active_filters=form.active_filters(),
        tz_name=str(tz),
    )
    with timezone.override(tz):
        return render(request, "audit/log.html", context)


@require_POST
@dashboard_page("settings")
def audit_log_export(request: DashboardRequest) -> HttpResponseBase:
    """The CSV of every event the page's filters select (its query string), times in the
    workspace's time zone, streamed a chunk at a time. Recorded in the log itself."""
    tz = workspace_tz(request)
    form = AuditFilterForm(request.GET or None)
    events = audit_events(form.audit_filters(tz))
    # The file is the list as it stood when asked: not the export's own event, nor later ones.
    newest = events.values_list("pk", flat=True).first()
    events = events.filter(pk__lte=newest) if newest is not None else events.none()
    filters = {name: str(value) for name, value in form.values().items()}
    audit_log_export_record(request=request, filters=filters, rows=events.count())
    content = csv_stream(CSV_HEADER, events, csv_row, schema=connection.schema_name, tz=tz)
    filename = f"audit-log-{timezone.localtime(timezone.now(), tz):%Y-%m-%d-%H%M}.csv"
    return csv_response(content, filename=filename)
