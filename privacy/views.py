"""The privacy pages of the dashboard (tenant host): a contact's export and erasure (owners
and admins, from the contact's page), the workspace's export and self-serve deletion
(owners, from the Settings page; the emailed confirmation link; the banner's Undo)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from chat.models import Contact
from saas.errors import ProblemError
from tenants.dashboard import MANAGERS, DashboardRequest, dashboard_page
from tenants.models import Membership
from tenants.views import shell_context

from . import services
from .forms import EraseConfirmForm, erase_word
from .selectors import contact_for_privacy
from .services.workspace import grace_period
from .streaming import zip_response, zip_spool


def _contact(request: DashboardRequest, contact_id: int) -> Contact:
    if request.membership.role not in MANAGERS:
        raise PermissionDenied("Only owners and admins export or erase a contact's data.")
    contact = contact_for_privacy(
        contact_id=contact_id, user_id=request.user.pk, role=request.membership.role
    )
    if contact is None:
        raise Http404
    return contact


def _owner(request: DashboardRequest) -> None:
    if request.membership.role != Membership.Role.OWNER:
        raise PermissionDenied("Only an owner of the workspace can do this.")


@require_POST
@dashboard_page("contacts")
def contact_export(request: DashboardRequest, contact_id: int) -> HttpResponseBase:
    """Everything held about the contact, as a ZIP download (built in a temporary file)."""
    contact = _contact(request, contact_id)
    spool = zip_spool()
    try:
        services.contact_export_write(contact=contact, request=request, out=spool)
    except BaseException:
        spool.close()
        raise
    return zip_response(spool, filename=f"contact-{contact.public_id}.zip")


@dashboard_page("contacts")
def contact_erase(request: DashboardRequest, contact_id: int) -> HttpResponseBase:
    """The erasure's confirmation page (type the email, or "erase"), and the erasure."""
    contact = _contact(request, contact_id)
    expected = erase_word(contact.email)
    form, status = EraseConfirmForm(expected=expected), 200
    if request.method == "POST":
        form, status = EraseConfirmForm(request.POST, expected=expected), 400
        if form.is_valid():
            record = services.contact_erase(contact=contact, request=request)
            messages.success(
                request,
                f"The contact's data was erased: {record.conversations} conversation"
                f"{'' if record.conversations == 1 else 's'}, {record.messages} messages, "
                f"{record.attachments} files. An erasure record without personal data remains.",
            )
            return redirect("chat:contacts")
    context = shell_context(
        request,
        contact=contact,
        title=contact.name or contact.email or "Visitor",
        form=form,
        expected=expected,
        conversations=contact.conversations.count(),
    )
    return render(request, "privacy/contact_erase.html", context, status=status)


@require_POST
@dashboard_page("settings", manage=True)
def workspace_export(request: DashboardRequest) -> HttpResponseBase:
    _owner(request)
    services.workspace_export_request(request=request, user=request.user)
    messages.success(
        request,
        f"The workspace's data is being gathered into a ZIP archive: a link will be emailed to "
        f"{request.user.email} when it is ready.",
    )
    return redirect("tenants:settings")


@require_POST
@dashboard_page("settings", manage=True)
def workspace_deletion_request(request: DashboardRequest) -> HttpResponseBase:
    _owner(request)
    try:
        services.workspace_deletion_request(request=request, user=request.user)
    except ProblemError as error:
        messages.error(request, error.detail)
    else:
        messages.success(
            request,
            f"A confirmation link was emailed to {request.user.email}. Nothing is deleted until you open it.",
        )
    return redirect("tenants:settings")


@dashboard_page("settings", manage=True)
def workspace_deletion_confirm(request: DashboardRequest) -> HttpResponseBase:
    """The emailed link's page: GET shows what confirming does (a mail scanner opening the
    link confirms nothing); POST schedules the deletion. A bad link is refused (400); the
    page opened without one says where it comes from."""
    _owner(request)
    token = (request.POST.get("token") or request.GET.get("token") or "")[:1000]
    form_errors: list[str] = []
    if request.method == "POST":
        try:
            services.workspace_deletion_confirm(request=request, user=request.user, token=token)
        except ProblemError as error:
            form_errors.append(error.detail)
        else:
            messages.warning(
                request, "The workspace is scheduled for deletion. Any owner can undo it until then."
            )
            return redirect("tenants:settings")
    elif token:  # opened without a link: the page says where the link comes from
        try:
            services.deletion_link_check(token=token, tenant=request.tenant, user=request.user)
        except ProblemError as error:
            form_errors.append(error.detail)
    context = shell_context(request, token=token, errors=form_errors, grace_days=grace_period().days)
    return render(request, "privacy/deletion_confirm.html", context, status=400 if form_errors else 200)


@require_POST
@dashboard_page("settings", manage=True)
def workspace_deletion_cancel(request: DashboardRequest) -> HttpResponseBase:
    _owner(request)
    services.workspace_deletion_cancel(request=request, user=request.user)
    messages.success(request, "The deletion was undone: the workspace stays.")
    return redirect("tenants:settings")
