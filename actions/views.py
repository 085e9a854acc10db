"""The AI actions' dashboard pages (section "actions": every member reads the list and the
call log; owners and admins define, import, test and delete): the list, the form (new and
edit, through the same services as the REST API), the signing secret shown once (on
creation and rotation), the OpenAPI import with its preview, the test runner, the call log;
and the same for MCP servers (list, form with the allowed tools checked among the last tool
list, "Refresh tools", a tool's test runner, secret, delete). Every write is audited by the
service it calls."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from saas.errors import ProblemError
from saas.ratelimit import rate_limit_enforce
from saas.tenant_connection import connection
from tenants.dashboard import DashboardRequest, can_manage, dashboard_page
from tenants.forms import problem_onto
from tenants.views import problem_message, shell_context

from . import selectors, services
from .forms import ActionForm, ImportForm, McpServerForm, TestForm
from .models import Action, ActionCall, McpServer

CALLS_PER_PAGE = 50


def _action_or_404(action_id: object) -> Action:
    found = selectors.action_by_public_id(action_id)
    if found is None:
        raise Http404
    return found


def _page(request: DashboardRequest, template: str, status: int = 200, **context: Any) -> HttpResponse:
    return render(request, f"actions/{template}", shell_context(request, **context), status=status)


@dashboard_page("actions")
def action_list(request: DashboardRequest) -> HttpResponse:
    used, limit = selectors.calls_quota(request.tenant)
    return _page(
        request,
        "list.html",
        action_rows=selectors.actions_overview(),
        can_manage=can_manage(request),
        days=selectors.OVERVIEW_DAYS,
        docs_url=reverse("tenants:api-redoc") + "#tag/actions",
        mcp_count=McpServer.objects.count(),
        quota_used=used,
        quota_limit=limit,
        quota_level=_level(used, limit),
    )


def _level(used: int, limit: int | None) -> str:
    """ "full" at the quota, "high" from 80% (the billing page's meter), else ""."""
    if limit is None:
        return ""
    return "full" if used >= limit else "high" if used * 5 >= limit * 4 else ""


def _secret_page(request: DashboardRequest, action: Action, secret: str, *, created: bool) -> HttpResponse:
    """The signing secret, on this response only (it is not shown again)."""
    return _page(request, "secret.html", action=action, secret=secret, created=created)


@dashboard_page("actions", manage=True)
def action_new(request: DashboardRequest) -> HttpResponse:
    form, status = ActionForm(), 200
    if request.method == "POST":
        form, status = ActionForm(request.POST), 400
        if form.is_valid():
            try:
                action = services.action_create(data=form.service_data(), request=request)
            except ProblemError as error:
                problem_onto(form, error)
                status = error.status
            else:
                return _secret_page(request, action, selectors.action_signing_secret(action), created=True)
    return _page(request, "form.html", status=status, form=form, action=None)


def _edit_post(request: DashboardRequest, action: Action) -> HttpResponse | ActionForm:
    """A POSTed change of the action: its form back with the problems, or the response."""
    kind = request.POST.get("action", "")
    if kind == "delete":
        services.action_delete(action=action, request=request)
        messages.success(
            request, f"Action “{action.title}” deleted. Its calls stay in the log and transcripts."
        )
        return redirect("actions:list")
    if kind == "rotate":
        secret = services.action_secret_rotate(action=action, request=request)
        return _secret_page(request, action, secret, created=False)
    if kind != "update":
        raise Http404
    names = selectors.action_header_names(action)
    form = ActionForm(request.POST, header_names=names)
    if form.is_valid():
        data = form.service_data(selectors.action_headers(action))
        try:
            services.action_update(action=action, data=data, request=request)
        except ProblemError as error:
            problem_onto(form, error)
            return form
        messages.success(request, "Action saved.")
        return redirect("actions:edit", action_id=action.public_id)
    return form


@dashboard_page("actions", manage=True)
def action_edit(request: DashboardRequest, action_id: object) -> HttpResponse:
    action = _action_or_404(action_id)
    names = selectors.action_header_names(action)
    form: ActionForm | None = None
    if request.method == "POST":
        outcome = _edit_post(request, action)
        if isinstance(outcome, HttpResponse):
            return outcome
        form = outcome
    return _page(
        request,
        "form.html",
        status=400 if form is not None else 200,
        form=form or ActionForm.of(action, names),
        action=action,
        recent=list(selectors.calls_filtered(action=action)[:5]),
    )


def _run(request: DashboardRequest, action: Action, form: TestForm) -> ActionCall | dict[str, Any] | None:
    """One test call through ``services.action_test`` (rate-limited per workspace like the
    API's test runner); the outcome shown, or None (the form says why)."""
    try:
        rate_limit_enforce(
            request,
            "actions-test",
            limit=services.TESTS_PER_MINUTE,
            period_s=60,
            key=connection.schema_name,
        )
    except ProblemError as error:
        form.add_error(None, problem_message(error))
        return None
    outcome = services.action_test(
        action=action, arguments=form.cleaned_data["arguments"], visitor_id=form.cleaned_data["visitor_id"]
    )
    return {"call": outcome.call, "sent": outcome.sent, "status": outcome.status}


@dashboard_page("actions", manage=True)
def action_test(request: DashboardRequest, action_id: object) -> HttpResponse:
    action = _action_or_404(action_id)
    form, result, status = TestForm(parameters=action.parameters), None, 200
    if request.method == "POST":
        form = TestForm(request.POST, parameters=action.parameters)
        status = 400
        if form.is_valid():
            result = _run(request, action, form)
            status = 200 if result is not None else 429
    sent = result.get("sent") if isinstance(result, dict) else None
    return _page(
        request,
        "test.html",
        status=status,
        action=action,
        form=form,
        result=result,
        sent_body=_readable(sent["body"]) if sent else "",
        arguments=json.dumps(result["call"].arguments, indent=2, ensure_ascii=False)
        if isinstance(result, dict) and result.get("call")
        else "",
    )


def _readable(body: str) -> str:
    try:
        return json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except ValueError:
        return body


@dashboard_page("actions", manage=True)
def action_import(request: DashboardRequest) -> HttpResponse:
    """Step one: the document read and each operation checked (nothing created), shown with
    what would be created; step two: the operations chosen created."""
    form, preview, created, status = ImportForm(), None, None, 200
    if request.method == "POST":
        form = ImportForm(request.POST, request.FILES)
        status = 400
        if form.is_valid():
            step = request.POST.get("step", "preview")
            chosen = request.POST.getlist("operations") if step == "import" else None
            try:
                results = services.actions_import(
                    document=form.cleaned_data["parsed"],
                    operations=chosen,
                    headers=form.cleaned_data["new_headers"],
                    create=step == "import",
                    request=request,
                )
            except ProblemError as error:
                problem_onto(form, error)
                status = error.status
            else:
                status = 200
                if step == "import":
                    created = _created_with_secrets(results)
                    preview = [r for r in results if r["errors"]]
                else:
                    preview = results
    return _page(request, "import.html", status=status, form=form, preview=preview, created=created)


def _created_with_secrets(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The actions an import created, each with its signing secret (shown on this response only)."""
    made = []
    for result in results:
        if result["id"] is None:
            continue
        action = selectors.action_by_public_id(result["id"])
        if action is not None:
            made.append({"action": action, "secret": selectors.action_signing_secret(action)})
    return made


@dashboard_page("actions")
def call_log(request: DashboardRequest) -> HttpResponse:
    actions = list(Action.objects.order_by("name"))
    chosen = next((a for a in actions if str(a.public_id) == request.GET.get("action", "")), None)
    chosen_status = request.GET.get("status", "")
    if chosen_status not in ActionCall.Status.values:
        chosen_status = ""
    rows = selectors.calls_filtered(action=chosen, status=chosen_status)
    page = Paginator(rows, CALLS_PER_PAGE).get_page(request.GET.get("page"))
    return _page(
        request,
        "calls.html",
        page=page,
        action_choices=actions,
        chosen=chosen,
        chosen_status=chosen_status,
        statuses=ActionCall.Status.choices,
        can_manage=can_manage(request),
    )


# --- MCP servers ----------------------------------------------------------------------------


def _server_or_404(server_id: object) -> McpServer:
    found = selectors.mcp_server_by_public_id(server_id)
    if found is None:
        raise Http404
    return found


@dashboard_page("actions")
def mcp_list(request: DashboardRequest) -> HttpResponse:
    return _page(
        request,
        "mcp_list.html",
        servers=selectors.mcp_servers_overview(),
        can_manage=can_manage(request),
        days=selectors.OVERVIEW_DAYS,
        docs_url=reverse("tenants:api-redoc") + "#tag/actions",
    )


def _mcp_secret_page(
    request: DashboardRequest, server: McpServer, secret: str, *, created: bool
) -> HttpResponse:
    """The signing secret, on this response only (it is not shown again)."""
    return _page(request, "mcp_secret.html", server=server, secret=secret, created=created)


@dashboard_page("actions", manage=True)
def mcp_new(request: DashboardRequest) -> HttpResponse:
    form, status = McpServerForm(), 200
    if request.method == "POST":
        form, status = McpServerForm(request.POST), 400
        if form.is_valid():
            try:  # its tools listed at once (a server that cannot be reached: last_error says why)
                server = services.mcp_server_create(data=form.service_data(), request=request)
            except ProblemError as error:
                problem_onto(form, error)
                status = error.status
            else:
                secret = selectors.mcp_server_signing_secret(server)
                return _mcp_secret_page(request, server, secret, created=True)
    return _page(request, "mcp_form.html", status=status, form=form, server=None)


def _mcp_edit_post(request: DashboardRequest, server: McpServer) -> HttpResponse | McpServerForm:
    """A POSTed change of the server: its form back with the problems, or the response."""
    kind = request.POST.get("action", "")
    if kind == "delete":
        services.mcp_server_delete(server=server, request=request)
        messages.success(
            request, f"MCP server “{server.title}” deleted. Its calls stay in the log and transcripts."
        )
        return redirect("actions:mcp-list")
    if kind == "rotate":
        secret = services.mcp_server_secret_rotate(server=server, request=request)
        return _mcp_secret_page(request, server, secret, created=False)
    if kind == "refresh":
        try:
            rate_limit_enforce(
                request,
                "actions-test",
                limit=services.TESTS_PER_MINUTE,
                period_s=60,
                key=connection.schema_name,
            )
        except ProblemError as error:
            messages.error(request, problem_message(error))
            return redirect("actions:mcp-edit", server_id=server.public_id)
        services.mcp_tools_refresh(server=server, request=request)
        if server.last_error:
            messages.error(request, f"The tools could not be listed: {server.last_error}")
        else:
            messages.success(request, f"Tools listed again: {len(server.tools)} on the server.")
        return redirect("actions:mcp-edit", server_id=server.public_id)
    if kind != "update":
        raise Http404
    names = selectors.mcp_server_header_names(server)
    form = McpServerForm(request.POST, header_names=names, server=server)
    if form.is_valid():
        data = form.service_data(selectors.mcp_server_headers(server))
        try:
            services.mcp_server_update(server=server, data=data, request=request)
        except ProblemError as error:
            problem_onto(form, error)
            return form
        messages.success(request, "MCP server saved.")
        return redirect("actions:mcp-edit", server_id=server.public_id)
    return form


@dashboard_page("actions", manage=True)
def mcp_edit(request: DashboardRequest, server_id: object) -> HttpResponse:
    server = _server_or_404(server_id)
    form: McpServerForm | None = None
    if request.method == "POST":
        outcome = _mcp_edit_post(request, server)
        if isinstance(outcome, HttpResponse):
            return outcome
        form = outcome
    names = selectors.mcp_server_header_names(server)
    return _page(
        request,
        "mcp_form.html",
        status=400 if form is not None else 200,
        form=form or McpServerForm.of(server, names),
        server=server,
        usable=[t for t in server.tools if services.server_tool(server, t["name"]) is not None],
        recent=list(selectors.mcp_server_calls(server).order_by("-created_at", "-id")[:5]),
    )


@dashboard_page("actions", manage=True)
def mcp_test(request: DashboardRequest, server_id: object) -> HttpResponse:
    """One tool's test runner: the tool chosen among the allowed ones (``?tool=``), its
    inputs from its input schema (or raw JSON), the outcome shown."""
    server = _server_or_404(server_id)
    usable = [t for t in server.tools if services.server_tool(server, t["name"]) is not None]
    wanted = request.POST.get("tool") or request.GET.get("tool") or ""
    tool = next((t for t in usable if t["name"] == wanted), usable[0] if usable else None)
    schema = tool["input_schema"] if tool is not None else {}
    form, result, status = TestForm(parameters=schema), None, 200
    if request.method == "POST" and tool is not None:
        form, status = TestForm(request.POST, parameters=schema), 400
        if form.is_valid():
            result, status = _mcp_run(request, server, tool["name"], form)
    return _page(
        request,
        "mcp_test.html",
        status=status,
        server=server,
        tools=usable,
        tool=tool,
        form=form,
        result=result,
        arguments=json.dumps(result.arguments, indent=2, ensure_ascii=False) if result is not None else "",
    )


def _mcp_run(
    request: DashboardRequest, server: McpServer, tool: str, form: TestForm
) -> tuple[ActionCall | None, int]:
    """The call made (``services.mcp_tool_test``, rate-limited per workspace like the API's
    test runner), or None with the problem's status (the form says why)."""
    try:
        rate_limit_enforce(
            request, "actions-test", limit=services.TESTS_PER_MINUTE, period_s=60, key=connection.schema_name
        )
        outcome = services.mcp_tool_test(
            server=server,
            tool=tool,
            arguments=form.cleaned_data["arguments"],
            visitor_id=form.cleaned_data["visitor_id"],
        )
    except ProblemError as error:
        problem_onto(form, error)
        return None, error.status
    return outcome.call, 200
