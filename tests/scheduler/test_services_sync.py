"""scheduler.services.schedules_sync and beat's scheduler (scheduler.beat): the declared
schedule is created when missing, entries no longer declared go, any new declared entry is
picked up, and a change staff made (interval, enabled) survives a sync and a beat restart,
which django-celery-beat's own start-up would overwrite."""

from __future__ import annotations

import pytest
from django.test import override_settings
from django_celery_beat.models import IntervalSchedule, PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler

from saas.celery import app as celery_app
from scheduler import services
from scheduler.beat import ProjectScheduler
from tests.tenants.factories import StaffUserFactory

pytestmark = pytest.mark.django_db


def _beat(schedule) -> ProjectScheduler:
    celery_app.conf.beat_schedule = schedule
    return ProjectScheduler(app=celery_app)


def test_sync_creates_every_declared_job_with_its_schedule(settings):
    PeriodicTask.objects.all().delete()
    counts = services.schedules_sync()
    jobs = {job.name: job for job in PeriodicTask.objects.select_related("interval", "crontab")}
    assert counts["created"] == len(settings.CELERY_BEAT_SCHEDULE)
    assert set(jobs) == set(settings.CELERY_BEAT_SCHEDULE)
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        assert jobs[name].task == entry["task"]
        assert jobs[name].enabled
        default = entry["schedule"]
        if isinstance(default, int | float):
            assert jobs[name].interval.schedule.run_every.total_seconds() == default
        else:  # a crontab
            crontab = jobs[name].crontab
            assert (crontab.minute, crontab.hour) == (str(default._orig_minute), str(default._orig_hour))
    assert services.schedules_sync() == {"created": 0, "removed": 0, "renamed": 0}


def test_sync_picks_up_any_new_entry_and_removes_undeclared_ones(settings):
    from celery.schedules import crontab

    services.schedules_sync()
    PeriodicTask.objects.create(
        name="gone-job",
        task="nowhere.tasks.removed",
        interval=IntervalSchedule.objects.create(every=5, period="seconds"),
    )
    schedule = {
        **settings.CELERY_BEAT_SCHEDULE,
        "another-helpers-job": {
            "task": "tests.celery_probe.job_probe",
            "schedule": crontab(minute="15", hour="3"),
        },
    }
    with override_settings(CELERY_BEAT_SCHEDULE=schedule):
        counts = services.schedules_sync()
    assert counts == {"created": 1, "removed": 1, "renamed": 0}
    job = PeriodicTask.objects.get(name="another-helpers-job")
    assert (job.crontab.minute, job.crontab.hour) == ("15", "3")
    assert not PeriodicTask.objects.filter(name="gone-job").exists()


def test_a_renamed_task_is_followed_but_the_schedule_is_kept(declared):
    job = PeriodicTask.objects.get(name="probe-job")
    services.schedule_interval_set(job=job, every_seconds=900, actor=None)
    schedule = {**declared, "probe-job": {**declared["probe-job"], "task": "tests.celery_probe.schema_probe"}}
    with override_settings(CELERY_BEAT_SCHEDULE=schedule):
        assert services.schedules_sync()["renamed"] == 1
    job.refresh_from_db()
    assert job.task == "tests.celery_probe.schema_probe"
    assert job.interval.every == 900


def test_staff_changes_survive_a_sync_and_a_beat_restart(declared):
    staff = StaffUserFactory()
    job = PeriodicTask.objects.get(name="probe-job")
    services.schedule_interval_set(job=job, every_seconds=45, actor=staff)
    services.schedule_enabled_set(
        job=PeriodicTask.objects.get(name="probe-failing"), enabled=False, actor=staff
    )

    services.schedules_sync()
    beat = _beat(declared)  # a beat (re)start runs setup_schedule
    job.refresh_from_db()
    assert job.interval.every == 45
    assert not PeriodicTask.objects.get(name="probe-failing").enabled
    entries = beat.schedule
    assert entries["probe-job"].schedule.run_every.total_seconds() == 45
    assert "probe-failing" not in entries  # beat honours "disabled"
    assert "celery.backend_cleanup" not in entries


def test_django_celery_beats_own_start_up_would_overwrite_the_change(declared):
    """Why the project's scheduler exists: the parent's setup writes the declared interval back."""
    job = PeriodicTask.objects.get(name="probe-job")
    services.schedule_interval_set(job=job, every_seconds=45, actor=None)
    celery_app.conf.beat_schedule = declared
    DatabaseScheduler(app=celery_app)
    job.refresh_from_db()
    assert job.interval.every == 120


def test_beat_honours_enable_and_disable_and_the_interval(declared):
    job = PeriodicTask.objects.get(name="probe-job")
    assert "probe-job" in _beat(declared).schedule
    services.schedule_enabled_set(job=job, enabled=False, actor=None)
    assert "probe-job" not in _beat(declared).schedule
    services.schedule_enabled_set(job=job, enabled=True, actor=None)
    services.schedule_interval_set(job=job, every_seconds=30, actor=None)
    assert _beat(declared).schedule["probe-job"].schedule.run_every.total_seconds() == 30


def test_a_running_beat_notices_a_change_on_its_next_read(declared):
    beat = _beat(declared)
    assert "probe-job" in beat.schedule
    assert not beat.schedule_changed()  # a tick: nothing changed since the last read
    services.schedule_enabled_set(job=PeriodicTask.objects.get(name="probe-job"), enabled=False, actor=None)
    assert "probe-job" not in beat.schedule  # the next read sees the change and reloads


def test_migrate_creates_the_missing_jobs_in_public_only(settings):
    from scheduler.receivers import after_migrate

    PeriodicTask.objects.all().delete()
    after_migrate()
    assert set(PeriodicTask.objects.values_list("name", flat=True)) == set(settings.CELERY_BEAT_SCHEDULE)


def test_migrate_of_a_tenant_schema_leaves_the_jobs_alone(tenant_a):
    from django_tenants.utils import schema_context

    from scheduler.receivers import after_migrate

    PeriodicTask.objects.all().delete()
    with schema_context(tenant_a.schema):
        after_migrate()
    assert not PeriodicTask.objects.exists()
