"""The scheduler page of the platform admin in a real browser, at 1,280 and 390 px: the
list of periodic jobs (schedule, enabled, last run, outcome, what it did, next run), a job's
page with its run history, and the run-now confirmation: no horizontal overflow of the
page, no serious axe violation, no CSP violation or script error. Screenshots go to
``$SCREENSHOTS_DIR`` (default: shots-admin in the temporary directory), for review."""

from __future__ import annotations

import pytest
from django_celery_beat.models import PeriodicTask

from saas.celery import app as celery_app
from scheduler.models import TaskRun
from scheduler.services import schedules_sync
from tests import celery_probe
from tests.browser.conftest import axe_serious_violations, signed_in
from tests.browser.test_admin_browser import _shot
from tests.browser.test_csp_browser import _violations, _watch
from tests.tenants.factories import StaffUserFactory


@pytest.fixture
def jobs_with_runs(settings, live_db):
    schedule = {
        **settings.CELERY_BEAT_SCHEDULE,
        "probe-job": {"task": "tests.celery_probe.job_probe", "schedule": 120.0},
        "probe-failing": {"task": "tests.celery_probe.job_failing", "schedule": 86400.0},
    }
    settings.CELERY_BEAT_SCHEDULE = schedule
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    try:
        schedules_sync()
        for _ in range(3):
            celery_probe.job_probe.apply(kwargs={"marker": "M"}, headers={"periodic_task_name": "probe-job"})
        celery_probe.job_failing.apply(headers={"periodic_task_name": "probe-failing"}, throw=False)
        PeriodicTask.objects.filter(name="chat-agents-offline").update(enabled=False)
        yield
    finally:
        celery_app.conf.task_always_eager = eager
        TaskRun.objects.all().delete()
        PeriodicTask.objects.all().delete()


def test_scheduler_page_reads_well_at_1280_and_390(page, site, jobs_with_runs):
    staff = StaffUserFactory(email="scheduler-ui-staff@example.com", is_superuser=True)
    console = _watch(page)
    signed_in(page, staff, "saas.test")
    job = PeriodicTask.objects.get(name="probe-failing")
    pages = {
        "jobs": f"{site}/admin/scheduler/periodicjob/",
        "job": f"{site}/admin/scheduler/periodicjob/{job.pk}/change/",
        "runs": f"{site}/admin/scheduler/taskrun/",
        "run-now": f"{site}/admin/scheduler/periodicjob/{job.pk}/run-now/",
    }
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        for name, url in pages.items():
            page.goto(url)
            page.wait_for_load_state("networkidle")
            _shot(page, f"scheduler-{name}-{width}")
            overflow = page.evaluate("document.documentElement.scrollWidth")
            assert overflow <= width, f"{name}: the page is {overflow} px wide at {width}"
            if width == 1280:
                assert axe_serious_violations(page) == [], name
            if name == "jobs" and width == 1280:  # every column shows without scrolling the table
                box = page.evaluate(
                    "(() => { const t = document.querySelector('#result_list');"
                    " return [t.scrollWidth, t.parentElement.clientWidth]; })()"
                )
                assert box[0] <= box[1], f"the job table is {box[0]} px in a {box[1]} px box"
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(pages["jobs"])
    assert page.get_by_text("every 2 minutes").first.is_visible()
    assert page.get_by_text("marker M, checked 3, removed 1").first.is_visible()
    page.goto(pages["job"])
    assert page.get_by_text("RuntimeError: job-failing: the disk is full").first.is_visible()
    assert _violations(page) == []
    assert console == []
    assert page.js_errors == []
