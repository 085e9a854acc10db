"""The Contacts section (tenant host): the workspace's contacts and leads with search and
filters, and a contact's page with their details, prechat answers and conversations (each
linking to the inbox's conversation page). Reads only; the CSV export of the same list is
the ``exports`` app's (the page's filters go with it)."""

from __future__ import annotations

import zoneinfo
from typing import Any

from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import render
from django.utils.http import urlencode

from tenants.dashboard import DashboardRequest, dashboard_page
from tenants.views import shell_context

from .contacts import contact_conversation_counts, contact_conversations, contact_visible, contacts_search
from .forms import ContactFilterForm
from .views import contact_label, web_link

PER_PAGE = 50


def _tz(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def _answers(contact: Any) -> list[tuple[str, str]]:
    """The prechat answers as label and text (a field's key, ``company_size``, read as
    "Company size"; a checkbox's true as "Yes")."""
    answers = contact.answers if isinstance(contact.answers, dict) else {}

    def text(value: Any) -> str:
        if isinstance(value, bool):
            return "Yes" if value else "No"
        return "" if value is None else str(value)

    return [(str(key).replace("_", " ").capitalize(), text(value)) for key, value in sorted(answers.items())]


@dashboard_page("contacts")
def contact_list(request: DashboardRequest):
    form = ContactFilterForm(request.GET or None)
    filters = form.contact_filters()
    contacts = contacts_search(
        filters, user_id=request.user.pk, role=request.membership.role, tz=_tz(request.tenant.time_zone)
    )
    page = Paginator(contacts, PER_PAGE).get_page(request.GET.get("page"))
    counts = contact_conversation_counts([c.pk for c in page.object_list])
    rows = [
        {"contact": c, "name": c.name or c.email or "Visitor", "conversations": counts.get(c.pk, 0)}
        for c in page.object_list
    ]
    active = form.active_filters()
    context = shell_context(
        request,
        filters=form,
        filter_fields=[form[name] for name in form.FILTERS if name != "everyone"],
        everyone_field=form["everyone"],
        active_filters=active,
        is_filtered=bool(filters.q) or active > 0,
        search=filters.q,
        page=page,
        rows=rows,
        query_string=urlencode(filters.as_query()),
        time_zone=request.tenant.time_zone,
    )
    return render(request, "chat/contacts/list.html", context)


@dashboard_page("contacts")
def contact_detail(request: DashboardRequest, contact_id: int):
    contact = contact_visible(contact_id=contact_id, user_id=request.user.pk, role=request.membership.role)
    if contact is None:
        raise Http404
    context = shell_context(
        request,
        contact=contact,
        title=contact.name or contact.email or "Visitor",
        label=contact_label(contact),
        answers=_answers(contact),
        conversations=contact_conversations(contact),
        page_link=web_link(contact.page_url),
        referrer_link=web_link(contact.referrer),
    )
    return render(request, "chat/contacts/detail.html", context)
