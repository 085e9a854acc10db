"""The resume page (public host): where the link emailed with an agent's reply lands. The
resume token rides in the URL fragment (``#resume=``), never sent to a server nor logged;
the page's script reads it and hands it to the widget, opened full-page."""

from __future__ import annotations

from csp.decorators import csp_update
from django.http import Http404
from django.shortcuts import render

from saas.csp import INLINE_STYLES
from tenants.models import Tenant
from tenants.selectors import widget_route_resolve


# The real widget runs here (its Shadow DOM's <style>), as on the widget test page.
@csp_update(INLINE_STYLES)  # type: ignore[arg-type]
def resume_page(request, widget_key: str):
    tenant = widget_route_resolve(widget_key)
    if tenant is None or tenant.status != Tenant.Status.ACTIVE:
        raise Http404
    response = render(request, "chat/resume_page.html", {"widget_key": widget_key, "workspace": tenant.name})
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "no-store"
    return response
