"""docs/deployment.md lists every periodic job of CELERY_BEAT_SCHEDULE with its default
schedule, and every place that starts beat uses the project's database scheduler."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

from scheduler.selectors import seconds_in_words

ROOT = Path(__file__).resolve().parents[2]


def _job_table() -> dict[str, tuple[str, str]]:
    text = (ROOT / "docs" / "deployment.md").read_text()
    section = text.split("## Periodic jobs", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([^`]+)` \| `([^`]+)`[^|]*\| ([^|]+) \|$", section, flags=re.MULTILINE)
    return {name: (task, schedule.strip()) for name, task, schedule in rows}


def test_every_periodic_job_is_listed_with_its_default_schedule():
    table = _job_table()
    missing = sorted(set(settings.CELERY_BEAT_SCHEDULE) - set(table))
    assert missing == [], f"add these jobs to docs/deployment.md, 'Periodic jobs': {missing}"
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        task, schedule = table[name]
        assert task == entry["task"], name
        default = entry["schedule"]
        if isinstance(default, int | float):
            assert schedule == seconds_in_words(default), f"{name}: the docs say {schedule!r}"
    assert sorted(set(table) - set(settings.CELERY_BEAT_SCHEDULE)) == []  # no job that is gone


def test_every_place_that_starts_beat_uses_the_database_scheduler():
    scheduler = settings.CELERY_BEAT_SCHEDULER
    for path in ("docker-compose.yml", "saas/devserver.py", "helm/README.md"):
        text = (ROOT / path).read_text()
        assert scheduler in text, path
    compose = (ROOT / "docker-compose.yml").read_text()
    assert '"beat", "--scheduler", "scheduler.beat:ProjectScheduler"' in compose  # its beat service
    assert '["CMD", "python", "-m", "scheduler.probe"]' in compose
