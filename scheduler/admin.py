"""The scheduler page of the platform admin (staff only, on unfold's site like the rest):
every periodic job with its schedule in words, enabled, its last run (when, how long, the
outcome, what it did) and its next run; enable, disable and run now from the list (several
jobs at once) or from a job's page, where staff also change the interval and read the run
history. Every change goes through ``scheduler.services``, which writes the platform audit
log. The runs have their own read-only list ("Job runs"), filtered per job.

django-celery-beat's own admin pages (raw schedules, any task name, no audit) are removed
from the site: the jobs are the declared ones, changed here.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponseRedirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)
from unfold.admin import ModelAdmin
from unfold.decorators import action, display
from unfold.widgets import UnfoldAdminIntegerFieldWidget, UnfoldAdminTextInputWidget

from saas.errors import ProblemError
from saas.ratelimit import client_address

from . import selectors, services
from .models import PeriodicJob, TaskRun

for _model in (PeriodicTask, IntervalSchedule, CrontabSchedule, SolarSchedule, ClockedSchedule):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)

OUTCOME_LABELS = {"Success": "success", "Failure": "danger", "Running": "info", "Lost": "warning"}


def _ip(request: HttpRequest) -> str | None:
    return client_address(request) or None


def _duration(ms: int | None) -> str:
    if ms is None:
        return "-"
    if ms < 1000:
        return f"{ms} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    return f"{ms // 60_000} min {ms % 60_000 // 1000} s"


def _what_it_did(run: TaskRun) -> str:
    """The return value in a few words: ``created 2, removed 0`` for a dict of counts."""
    if run.outcome == TaskRun.Outcome.FAILURE or run.outcome == TaskRun.Outcome.LOST:
        return (run.error.splitlines() or [""])[0]
    value = run.result
    if isinstance(value, dict):
        return ", ".join(f"{key.replace('_', ' ')} {item}" for key, item in value.items()) or "nothing to do"
    if value is None:
        return "-" if run.outcome == TaskRun.Outcome.RUNNING else "done"
    return str(value)


class PeriodicJobForm(forms.ModelForm):
    every_seconds = forms.IntegerField(
        label="Run every (seconds)",
        min_value=services.MIN_EVERY_SECONDS,
        max_value=services.MAX_EVERY_SECONDS,
        help_text="For example 60 for every minute, 3600 for every hour, 86400 for every day.",
        widget=UnfoldAdminIntegerFieldWidget,
    )

    cron = forms.CharField(
        label="Or on a crontab",
        required=False,
        max_length=200,
        help_text=(
            "minute hour day-of-month month day-of-week, e.g. 30 3 * * * for 03:30 every day "
            "(UTC unless the job has a time zone). Filled, it replaces the interval."
        ),
        widget=UnfoldAdminTextInputWidget,
    )

    class Meta:
        model = PeriodicJob
        fields = ("enabled",)

    def clean_cron(self) -> str:
        expression = " ".join(self.cleaned_data.get("cron", "").split())
        if expression:
            try:
                services.crontab_fields(expression)
            except ProblemError as error:
                raise forms.ValidationError(
                    [e["message"] for e in (error.errors or {}).get("cron", [])]
                ) from error
        return expression

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        current = selectors.interval_seconds(self.instance)
        self.fields["cron"].initial = services.cron_expression(self.instance)
        if current is None:
            self.fields["every_seconds"].required = False
            self.fields[
                "every_seconds"
            ].help_text = "Empty keeps the current schedule; a number replaces it with an interval."
        self.fields["every_seconds"].initial = current
        self.fields["enabled"].help_text = "Off: beat no longer sends it (Run now still works)."


@admin.register(PeriodicJob)
class PeriodicJobAdmin(ModelAdmin):
    form = PeriodicJobForm
    list_display = ("job", "schedule", "enabled_badge", "last_run", "last_result", "next_run")
    list_display_links = ("job",)
    list_filter = ("enabled",)
    search_fields = ("name", "task")
    ordering = ("name",)
    actions = ("run_now", "enable_jobs", "disable_jobs")
    actions_detail = ("run_now_detail",)
    fieldsets = (
        (None, {"fields": ("job_name", "task_path", "schedule", "enabled", "every_seconds", "cron")}),
        ("Runs", {"fields": ("next_run", "last_sent", "times_sent", "run_history")}),
    )
    readonly_fields = (
        "job_name",
        "task_path",
        "schedule",
        "next_run",
        "last_sent",
        "times_sent",
        "run_history",
    )
    list_per_page = 100

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # jobs are declared in CELERY_BEAT_SCHEDULE (scheduler.services.schedules_sync)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a job no longer declared is removed by the sync

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).select_related("interval", "crontab", "clocked", "solar")

    def get_changelist_instance(self, request: HttpRequest) -> Any:
        changelist = super().get_changelist_instance(request)
        runs = selectors.last_runs(job.name for job in changelist.result_list)
        for job in changelist.result_list:
            job.latest_run = runs.get(job.name)
        return changelist

    # --- columns -----------------------------------------------------------------------

    @admin.display(description="Job", ordering="name")
    def job(self, obj: PeriodicJob) -> str:
        return format_html(
            '<span class="admin-cut admin-cut-narrow" title="{}">{}</span>'
            '<span class="admin-cut admin-cut-narrow admin-sub" title="{}">{}</span>',
            obj.name,
            obj.name,
            obj.task,
            obj.task,
        )

    @admin.display(description="Schedule")
    def schedule(self, obj: PeriodicJob) -> str:
        return selectors.schedule_words(obj)

    @display(description="Enabled", ordering="enabled", label={"On": "success", "Off": "danger"})
    def enabled_badge(self, obj: PeriodicJob) -> str:
        return "On" if obj.enabled else "Off"

    @admin.display(description="Last run")
    def last_run(self, obj: PeriodicJob) -> str:
        """The outcome's badge (unfold's label), then when and how long."""
        run: TaskRun | None = getattr(obj, "latest_run", None)
        if run is None:
            return "never"
        outcome = run.get_outcome_display()
        badge = render_to_string(
            "unfold/helpers/label.html", {"text": outcome, "type": OUTCOME_LABELS[outcome]}
        )
        when = timezone.localtime(run.started_at).strftime("%b %d, %H:%M:%S")
        took = _duration(run.duration_ms) if run.duration_ms is not None else "running"
        return format_html('{}<span class="admin-sub">{} · {}</span>', mark_safe(badge), when, took)  # noqa: S308

    @admin.display(description="What it did")
    def last_result(self, obj: PeriodicJob) -> str:
        run: TaskRun | None = getattr(obj, "latest_run", None)
        if run is None:
            return "-"
        text = _what_it_did(run)
        history = reverse("admin:scheduler_taskrun_changelist") + "?" + urlencode({"entry_name": obj.name})
        return format_html(
            '<span class="admin-cut admin-cut-narrow" title="{}">{}</span>'
            '<a class="admin-sub text-primary-600" href="{}">History</a>',
            text,
            text,
            history,
        )

    @admin.display(description="Next run")
    def next_run(self, obj: PeriodicJob) -> str:
        when = selectors.next_run(obj)
        if when is None:
            return "-" if obj.enabled else "disabled"
        seconds = (when - timezone.now()).total_seconds()
        if seconds < 1:
            return "due now"
        local = timezone.localtime(when).strftime("%H:%M:%S" if seconds < 86400 else "%b %d, %H:%M")
        return format_html('{}<span class="block">in {}</span>', local, selectors.remaining_in_words(seconds))

    @admin.display(description="Recent runs")
    def run_history(self, obj: PeriodicJob) -> str:
        runs = selectors.task_runs(obj.name, limit=20)
        more = reverse("admin:scheduler_taskrun_changelist") + "?" + urlencode({"entry_name": obj.name})
        if not runs:
            return "No run recorded yet."
        items = format_html_join(
            "",
            '<li class="border-b border-base-200 py-2 dark:border-base-800">'
            "{} · {} · <strong>{}</strong> · {}"
            '<span class="block break-words">{}</span></li>',
            (
                (
                    timezone.localtime(run.started_at).strftime("%Y-%m-%d %H:%M:%S"),
                    run.get_trigger_display(),
                    run.get_outcome_display(),
                    _duration(run.duration_ms),
                    _what_it_did(run),
                )
                for run in runs
            ),
        )
        return format_html(
            '<ul class="scheduler-runs">{}</ul><a class="text-primary-600" href="{}">All runs</a>',
            items,
            more,
        )

    @admin.display(description="Job")
    def job_name(self, obj: PeriodicJob) -> str:
        return obj.name

    @admin.display(description="Task")
    def task_path(self, obj: PeriodicJob) -> str:
        return obj.task

    @admin.display(description="Last sent by beat")
    def last_sent(self, obj: PeriodicJob) -> str:
        if obj.last_run_at is None:
            return "not yet"
        return timezone.localtime(obj.last_run_at).strftime("%Y-%m-%d %H:%M:%S")

    @admin.display(description="Times sent by beat")
    def times_sent(self, obj: PeriodicJob) -> int:
        return int(obj.total_run_count)

    # --- changes, through the services --------------------------------------------------

    def save_model(self, request: HttpRequest, obj: PeriodicJob, form: Any, change: bool) -> None:
        actor, ip = request.user, _ip(request)
        try:
            services.schedule_enabled_set(job=obj, enabled=form.cleaned_data["enabled"], actor=actor, ip=ip)  # type: ignore[arg-type]
            cron, every = form.cleaned_data.get("cron"), form.cleaned_data.get("every_seconds")
            if cron and cron != services.cron_expression(obj):
                services.schedule_crontab_set(job=obj, expression=cron, actor=actor, ip=ip)  # type: ignore[arg-type]
            elif every is not None and not cron:
                services.schedule_interval_set(job=obj, every_seconds=every, actor=actor, ip=ip)  # type: ignore[arg-type]
        except ProblemError as error:
            self.message_user(request, error.detail, messages.ERROR)

    def _send(self, request: HttpRequest, jobs: Any) -> int:
        sent = 0
        for job in jobs:
            services.schedule_run_now(job=job, actor=request.user, ip=_ip(request))  # type: ignore[arg-type]
            sent += 1
        return sent

    @admin.action(description="Run selected jobs now", permissions=["change"])
    def run_now(self, request: HttpRequest, queryset: QuerySet[PeriodicJob]) -> None:
        sent = self._send(request, queryset)
        self.message_user(
            request, f"Sent {sent} job(s) to run now; their runs appear below.", messages.SUCCESS
        )

    @admin.action(description="Enable selected jobs", permissions=["change"])
    def enable_jobs(self, request: HttpRequest, queryset: QuerySet[PeriodicJob]) -> None:
        changed = sum(
            services.schedule_enabled_set(job=job, enabled=True, actor=request.user, ip=_ip(request))  # type: ignore[arg-type]
            for job in queryset
        )
        self.message_user(request, f"Enabled {changed} job(s).", messages.SUCCESS)

    @admin.action(description="Disable selected jobs", permissions=["change"])
    def disable_jobs(self, request: HttpRequest, queryset: QuerySet[PeriodicJob]) -> None:
        changed = sum(
            services.schedule_enabled_set(job=job, enabled=False, actor=request.user, ip=_ip(request))  # type: ignore[arg-type]
            for job in queryset
        )
        self.message_user(request, f"Disabled {changed} job(s).", messages.SUCCESS)

    @action(description="Run now", url_path="run-now", permissions=["change"], icon="play_arrow")
    def run_now_detail(self, request: HttpRequest, object_id: str) -> Any:
        job = self.get_object(request, object_id)
        if job is None:
            raise Http404
        change_url = reverse("admin:scheduler_periodicjob_change", args=[job.pk])
        if request.method == "POST":
            self._send(request, [job])
            self.message_user(request, f"Sent {job.name} to run now.", messages.SUCCESS)
            return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Run {job.name} now",
            "job": job,
            "schedule": selectors.schedule_words(job),
            "back_url": change_url,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/scheduler/periodicjob/run_now.html", context)


@admin.register(TaskRun)
class TaskRunAdmin(ModelAdmin):
    list_display = ("job", "trigger", "started", "duration", "outcome_badge", "what_it_did")
    list_display_links = ("job",)
    list_filter = ("entry_name", "outcome", "trigger", ("started_at", admin.DateFieldListFilter))
    search_fields = ("entry_name", "task", "error")
    ordering = ("-started_at",)
    fields = (
        "entry_name",
        "task",
        "task_id",
        "trigger",
        "worker",
        "started_at",
        "finished_at",
        "duration_ms",
        "outcome",
        "result",
        "error",
    )
    readonly_fields = fields
    list_per_page = 50

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # recorded by the workers (scheduler.receivers)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # pruned by the job scheduler-runs-prune

    @admin.display(description="Job", ordering="entry_name")
    def job(self, obj: TaskRun) -> str:
        return obj.entry_name

    @admin.display(description="Started", ordering="started_at")
    def started(self, obj: TaskRun) -> str:
        return timezone.localtime(obj.started_at).strftime("%Y-%m-%d %H:%M:%S")

    @admin.display(description="Duration", ordering="duration_ms")
    def duration(self, obj: TaskRun) -> str:
        return _duration(obj.duration_ms)

    @display(description="Outcome", ordering="outcome", label=OUTCOME_LABELS)
    def outcome_badge(self, obj: TaskRun) -> str:
        return obj.get_outcome_display()

    @admin.display(description="What it did")
    def what_it_did(self, obj: TaskRun) -> str:
        text = _what_it_did(obj)
        return format_html('<span class="admin-cut" title="{}">{}</span>', text, text)
