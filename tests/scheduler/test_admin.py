"""scheduler.admin, the scheduler page of the platform admin: every periodic job with its
schedule in words, enabled, last run (when, how long, outcome, what it did) and next run;
enable, disable, run now and the interval, each through a service and in the platform audit
log; the run history; staff only."""

from __future__ import annotations

import pytest
from django.test import Client
from django_celery_beat.models import PeriodicTask

from saas.celery import app as celery_app
from scheduler import services
from scheduler.beat import ProjectScheduler
from scheduler.models import TaskRun
from tenants.models import PlatformAuditEvent
from tests.hosts import PUBLIC_HOST
from tests.tenants.factories import UserFactory

pytestmark = pytest.mark.django_db
LIST = "/admin/scheduler/periodicjob/"
RUNS = "/admin/scheduler/taskrun/"


def _job(name: str) -> PeriodicTask:
    return PeriodicTask.objects.get(name=name)


def _act(client, action: str, *names: str):
    ids = [str(_job(name).pk) for name in names]
    return client.post(LIST, {"action": action, "_selected_action": ids}, follow=True)


def test_the_page_lists_every_job_with_schedule_last_and_next_run(staff_client, declared, eager_celery):
    job_probe_run = celery_app.tasks["tests.celery_probe.job_probe"].apply(
        kwargs={"marker": "M-2"}, headers={"periodic_task_name": "probe-job"}
    )
    assert job_probe_run.successful()
    response = staff_client.get(LIST)
    assert response.status_code == 200
    listed = {job.name for job in response.context["cl"].result_list}
    assert listed == set(declared)
    html = response.content.decode()
    assert "every 2 minutes" in html and "every 15 seconds" in html and "every hour" in html
    assert "marker M-2, checked 3, removed 1" in html  # what it did (jsonb orders the keys)
    assert "Success" in html and "never" in html
    assert f"{RUNS}?entry_name=probe-job" in html


def test_the_job_page_shows_its_run_history(staff_client, declared, eager_celery):
    task = celery_app.tasks["tests.celery_probe.job_failing"]
    task.apply(headers={"periodic_task_name": "probe-failing"}, throw=False)
    response = staff_client.get(f"{LIST}{_job('probe-failing').pk}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "RuntimeError: job-failing: the disk is full" in html
    assert "Failure" in html and "every hour" in html
    history = staff_client.get(RUNS, {"entry_name": "probe-failing"})
    assert [run.entry_name for run in history.context["cl"].result_list] == ["probe-failing"]


def test_disable_and_enable_change_the_entry_beat_reads_and_are_audited(staff_client, staff_user, declared):
    response = _act(staff_client, "disable_jobs", "probe-job", "probe-failing")
    assert response.status_code == 200
    assert not _job("probe-job").enabled and not _job("probe-failing").enabled
    celery_app.conf.beat_schedule = declared
    assert "probe-job" not in ProjectScheduler(app=celery_app).schedule
    events = PlatformAuditEvent.objects.filter(action="periodic_job.disabled")
    assert sorted(events.values_list("target_repr", flat=True)) == ["probe-failing", "probe-job"]
    assert events.first().actor_email == staff_user.email

    _act(staff_client, "enable_jobs", "probe-job")
    assert _job("probe-job").enabled
    assert "probe-job" in ProjectScheduler(app=celery_app).schedule
    assert (
        PlatformAuditEvent.objects.filter(action="periodic_job.enabled", target_repr="probe-job").count() == 1
    )


def test_changing_the_interval_on_the_job_page_is_kept_and_audited(staff_client, declared):
    job = _job("probe-job")
    url = f"{LIST}{job.pk}/change/"
    assert staff_client.get(url).context["adminform"].form["every_seconds"].value() == 120
    response = staff_client.post(url, {"enabled": "on", "every_seconds": "600"})
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.interval.every == 600 and job.interval.period == "seconds"
    event = PlatformAuditEvent.objects.get(action="periodic_job.interval_changed")
    assert event.metadata == {"task": job.task, "before_seconds": 120, "after_seconds": 600}
    services.schedules_sync()  # a deploy or beat restart
    job.refresh_from_db()
    assert job.interval.every == 600
    assert "every 10 minutes" in staff_client.get(LIST).content.decode()


def test_a_bad_interval_is_refused_on_the_form(staff_client, declared):
    job = _job("probe-job")
    response = staff_client.post(f"{LIST}{job.pk}/change/", {"enabled": "on", "every_seconds": "1"})
    assert response.status_code == 200
    assert "every_seconds" in response.context["adminform"].form.errors
    job.refresh_from_db()
    assert job.interval.every == 120


def test_the_service_refuses_an_interval_out_of_range(declared):
    from saas.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as refused:
        services.schedule_interval_set(job=_job("probe-job"), every_seconds=0, actor=None)
    assert refused.value.errors["every_seconds"][0]["code"] == "out_of_range"


def test_run_now_runs_the_job_and_records_the_run(
    staff_client, declared, eager_celery, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = _act(staff_client, "run_now", "probe-job")
    assert "Sent 1 job(s) to run now" in response.content.decode()
    run = TaskRun.objects.get(entry_name="probe-job")
    assert run.trigger == TaskRun.Trigger.RUN_NOW
    assert run.outcome == TaskRun.Outcome.SUCCESS
    assert run.result == {"checked": 3, "removed": 1, "marker": "M-1"}  # the job's own kwargs
    event = PlatformAuditEvent.objects.get(action="periodic_job.run_requested")
    assert event.target_repr == "probe-job" and event.metadata["task_id"] == run.task_id


def test_run_now_from_the_job_page_asks_then_runs(
    staff_client, declared, eager_celery, django_capture_on_commit_callbacks
):
    url = f"{LIST}{_job('probe-failing').pk}/run-now/"
    confirm = staff_client.get(url)
    assert confirm.status_code == 200 and b"Run probe-failing now" in confirm.content
    assert not TaskRun.objects.exists()  # a GET runs nothing
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(url)
    assert response.status_code == 302
    run = TaskRun.objects.get(entry_name="probe-failing")
    assert run.outcome == TaskRun.Outcome.FAILURE and "the disk is full" in run.error


def test_run_now_with_the_broker_down_records_a_failed_run(
    staff_client, declared, django_capture_on_commit_callbacks, monkeypatch
):
    def refuse(*args, **kwargs):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(celery_app, "send_task", refuse)
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    try:
        with django_capture_on_commit_callbacks(execute=True):
            _act(staff_client, "run_now", "probe-job")
    finally:
        celery_app.conf.task_always_eager = previous
    run = TaskRun.objects.get(entry_name="probe-job")
    assert run.outcome == TaskRun.Outcome.FAILURE and "broker unreachable" in run.error


def test_run_now_of_a_task_this_code_does_not_know_records_a_failed_run(
    staff_client, declared, eager_celery, django_capture_on_commit_callbacks
):
    PeriodicTask.objects.filter(name="probe-job").update(task="nowhere.tasks.gone")
    with django_capture_on_commit_callbacks(execute=True):
        response = _act(staff_client, "run_now", "probe-job")
    assert response.status_code == 200
    run = TaskRun.objects.get(entry_name="probe-job")
    assert run.outcome == TaskRun.Outcome.FAILURE and "nowhere.tasks.gone" in run.error


def test_jobs_are_neither_added_nor_deleted_here(staff_client, declared):
    assert staff_client.get(f"{LIST}add/").status_code == 403
    assert staff_client.get(f"{LIST}{_job('probe-job').pk}/delete/").status_code == 403
    assert staff_client.get("/admin/django_celery_beat/periodictask/").status_code == 404


@pytest.mark.parametrize("who", ["anonymous", "member"])
def test_people_who_are_not_staff_are_refused(declared, who, tenant_a):
    client = Client(HTTP_HOST=PUBLIC_HOST)
    if who == "member":
        client.force_login(tenant_a.owner)
    job = f"{LIST}{_job('probe-job').pk}"
    for url in (LIST, f"{job}/change/", RUNS, f"{job}/run-now/"):
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"], url
    response = client.post(LIST, {"action": "disable_jobs", "_selected_action": [str(_job("probe-job").pk)]})
    assert response.status_code == 302
    assert _job("probe-job").enabled


def test_staff_without_the_permission_cannot_change_jobs(declared):
    clerk = UserFactory(email="clerk-scheduler@example.com", is_staff=True)
    client = Client(HTTP_HOST=PUBLIC_HOST)
    client.force_login(clerk)
    assert client.get(LIST).status_code == 403
    client.post(LIST, {"action": "disable_jobs", "_selected_action": [str(_job("probe-job").pk)]})
    assert _job("probe-job").enabled


def test_times_read_at_a_glance():
    from scheduler.selectors import remaining_in_words, seconds_in_words

    assert [seconds_in_words(s) for s in (15, 60, 120, 3600, 5400, 86400)] == [
        "every 15 seconds",
        "every minute",
        "every 2 minutes",
        "every hour",
        "every 90 minutes",
        "every day",
    ]
    assert [remaining_in_words(s) for s in (0.4, 59, 61, 3599, 3600, 7500, 86399, 90000)] == [
        "0 s",
        "59 s",
        "2 min",
        "1 h",
        "1 h",
        "2 h 5 min",
        "23 h 59 min",
        "1 d 1 h",
    ]


def test_the_list_query_count_does_not_grow_with_jobs_or_runs(staff_client, declared, eager_celery, settings):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert staff_client.get(LIST).status_code == 200
        return len(queries)

    before = count()
    more = {
        f"extra-{i}": {"task": "tests.celery_probe.job_probe", "schedule": 60.0 * (i + 1)} for i in range(5)
    }
    settings.CELERY_BEAT_SCHEDULE = {**declared, **more}
    services.schedules_sync()
    for name in more:
        celery_app.tasks["tests.celery_probe.job_probe"].apply(headers={"periodic_task_name": name})
    assert count() == before


def test_a_job_can_move_to_a_crontab_and_back_audited(staff_client, declared):
    job = _job("probe-job")
    url = f"{LIST}{job.pk}/change/"
    response = staff_client.post(url, {"enabled": "on", "every_seconds": "120", "cron": " 30  3 * * * "})
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.interval is None
    assert (job.crontab.minute, job.crontab.hour, job.crontab.day_of_week) == ("30", "3", "*")
    event = PlatformAuditEvent.objects.get(action="periodic_job.schedule_changed")
    assert event.metadata["before_seconds"] == 120 and event.metadata["after_cron"] == "30 3 * * *"
    assert staff_client.get(url).context["adminform"].form["cron"].value() == "30 3 * * *"
    services.schedules_sync()  # a deploy keeps it
    job.refresh_from_db()
    assert job.crontab is not None and job.interval is None

    staff_client.post(url, {"enabled": "on", "every_seconds": "300", "cron": ""})
    job.refresh_from_db()
    assert job.crontab is None and job.interval.every == 300


def test_a_bad_crontab_is_refused_on_the_form(staff_client, declared):
    job = _job("probe-job")
    for bad in ("30 3 * *", "99 3 * * *"):
        response = staff_client.post(
            f"{LIST}{job.pk}/change/", {"enabled": "on", "every_seconds": "120", "cron": bad}
        )
        assert response.status_code == 200
        assert "cron" in response.context["adminform"].form.errors, bad
    job.refresh_from_db()
    assert job.crontab is None and job.interval.every == 120
