"""Dashboard pages of the quality section (tenant host): "Unanswered and low-rated" (the
questions the bot did not answer well, grouped by similarity; a group becomes a Q&A pair
or is dismissed) and the bot tests (what a good answer must contain or cite, their runs,
the pass rate over time and the failing answers). Everyone in the workspace may look;
owners and admins act. Views parse the request, call a service or selector and render."""

from __future__ import annotations

import logging
import zoneinfo

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from knowledge.forms import add_problem
from saas.errors import ProblemError
from tenants.dashboard import DashboardRequest, can_manage, dashboard_page
from tenants.views import shell_context
from ui.charts import bar_chart
from widget_builder.models import Widget

from . import selectors, services
from .forms import AnswerForm, BotTestForm, message_ids
from .grouping import questions_group
from .models import BotTest

logger = logging.getLogger(__name__)

MAX_GROUPS = 50


def _tz(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def _tabs(current: str) -> list[tuple[str, str, bool]]:
    return [
        (reverse("quality:questions"), "Unanswered and low-rated", current == "questions"),
        (reverse("quality:tests"), "Bot tests", current == "tests"),
    ]


@dashboard_page("quality")
def questions(request: DashboardRequest) -> HttpResponse:
    """The flagged questions of the chosen days and widget, in groups, most asked first."""
    ranges = selectors.RANGES
    days = int(request.GET["days"]) if request.GET.get("days") in {str(n) for n in ranges} else ranges[1]
    widgets = list(Widget.objects.order_by("name").values_list("pk", "name"))
    widget_id = next((pk for pk, _ in widgets if str(pk) == request.GET.get("widget", "")), None)
    window = selectors.window_of(days, _tz(request.tenant.time_zone))
    found = selectors.flagged_questions(window=window, widget_id=widget_id)
    groups = questions_group(found, services.question_vectors(questions=found))
    base = reverse("quality:questions")

    def link(**params: int) -> str:
        query = {"days": days, "widget": widget_id or 0, **params}
        return base + "?" + urlencode({k: v for k, v in query.items() if v})

    context = shell_context(
        request,
        tabs=_tabs("questions"),
        groups=groups[:MAX_GROUPS],
        more_groups=max(0, len(groups) - MAX_GROUPS),
        question_count=len(found),
        capped=len(found) >= selectors.MAX_QUESTIONS,
        window=window,
        ranges=[(link(days=n), f"{n} days", n == days) for n in ranges],
        widgets=widgets,
        widget_id=widget_id,
        days=days,
        back=request.get_full_path(),
        can_manage=can_manage(request),
    )
    return render(request, "quality/questions.html", context)


def _back(request: DashboardRequest) -> str:
    back = request.POST.get("back") or request.GET.get("back") or ""
    return back if back.startswith(reverse("quality:questions")) else reverse("quality:questions")


@require_POST
@dashboard_page("quality")
def questions_dismiss(request: DashboardRequest) -> HttpResponse:
    try:
        count = services.questions_dismiss(
            message_ids=message_ids(request.POST.getlist("q")), user_id=request.user.pk
        )
    except ProblemError as error:
        messages.error(request, error.errors["questions"][0]["message"] if error.errors else error.detail)
    else:
        messages.success(request, f"Dismissed {count} question{'s' if count != 1 else ''}.")
    return redirect(_back(request))


@dashboard_page("quality", manage=True)
def questions_answer(request: DashboardRequest) -> HttpResponse:
    """Turn a group into a Q&A pair: the group's question pre-filled, the answer written here."""
    source = request.POST if request.method == "POST" else request.GET
    ids = message_ids(source.getlist("q"))
    shown = selectors.flagged_questions_by_id(message_ids=ids)
    if not shown:  # answered or dismissed meanwhile, or no group chosen
        context = shell_context(request, tabs=_tabs("questions"), questions=[], back=_back(request))
        return render(request, "quality/answer.html", context)
    form = AnswerForm(
        request.POST or None, initial={"question": request.GET.get("question", "")[:1000] or shown[0].text}
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            created = services.questions_answer(
                tenant=request.tenant,
                kb=data["knowledge_base"],
                message_ids=ids,
                question=data["question"],
                answer=data["answer"],
                user_id=request.user.pk,
                request=request,
            )
        except ProblemError as error:
            add_problem(form, error)
        else:
            logger.info("quality: questions answered source=%s by=%s", created.pk, request.user.pk)
            messages.success(
                request,
                f"Added to “{data['knowledge_base'].name}”. "
                "The bot answers it once it is processed (a few seconds).",
            )
            return redirect(_back(request))
    context = shell_context(
        request, tabs=_tabs("questions"), form=form, questions=shown, ids=ids, back=_back(request)
    )
    return render(request, "quality/answer.html", context)


@dashboard_page("quality")
def tests(request: DashboardRequest) -> HttpResponse:
    """The bot tests, the last run's failing answers and the pass rate over time; managers
    add tests here."""
    first_widget = Widget.objects.order_by("id").values_list("pk", flat=True).first()
    form = BotTestForm(request.POST or None, prefix="test", initial={"widget": first_widget})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.bot_test_create(
                widget=data["widget"],
                question=data["question"],
                must_contain=data["must_contain"],
                must_cite=data["must_cite"],
            )
        except ProblemError as error:
            add_problem(form, error)
        else:
            messages.success(request, "Bot test added. Run the tests to see how the bot does.")
            return redirect("quality:tests")
    latest = selectors.bot_test_run_latest_done()
    rates = selectors.bot_test_pass_rates(tz=_tz(request.tenant.time_zone))
    context = shell_context(
        request,
        tabs=_tabs("tests"),
        form=form,
        tests=list(selectors.bot_tests()),
        several_widgets=Widget.objects.count() > 1,
        latest=latest,
        failures=selectors.bot_test_failures(run=latest) if latest else [],
        pending=selectors.bot_test_run_pending(),
        runs=selectors.bot_test_runs(limit=10),
        chart=bar_chart(rates, unit="% passing", limit=100, limit_label="Every test passing", summed=False)
        if rates
        else None,
        max_tests=selectors.MAX_BOT_TESTS,
        can_manage=can_manage(request),
    )
    return render(request, "quality/tests.html", context)


@require_POST
@dashboard_page("quality")
def tests_run(request: DashboardRequest) -> HttpResponse:
    try:
        run = services.bot_test_run_request(user_id=request.user.pk)
    except ProblemError:
        messages.info(request, "Write a bot test first.")
    else:
        messages.success(
            request,
            "The tests are running."
            if run.status == run.Status.RUNNING
            else "The tests will run in a moment.",
        )
    return redirect("quality:tests")


@dashboard_page("quality", manage=True)
def test_edit(request: DashboardRequest, test_id: int) -> HttpResponse:
    test = get_object_or_404(BotTest, pk=test_id)
    initial = {
        "widget": test.widget_id,
        "question": test.question,
        "must_contain": test.must_contain,
        "must_cite": test.must_cite_id,
    }
    form = BotTestForm(request.POST or None, prefix="test", initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.bot_test_update(
                test=test,
                widget=data["widget"],
                question=data["question"],
                must_contain=data["must_contain"],
                must_cite=data["must_cite"],
            )
        except ProblemError as error:
            add_problem(form, error)
        else:
            messages.success(request, "Bot test saved.")
            return redirect("quality:tests")
    return render(
        request, "quality/test_edit.html", shell_context(request, tabs=_tabs("tests"), form=form, test=test)
    )


@require_POST
@dashboard_page("quality")
def test_delete(request: DashboardRequest, test_id: int) -> HttpResponse:
    test = get_object_or_404(BotTest, pk=test_id)
    services.bot_test_delete(test=test)
    messages.success(request, "Bot test deleted.")
    return redirect("quality:tests")
