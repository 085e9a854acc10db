"""A task that reports where it ran: loaded by the test worker with ``-I tests.celery_probe``."""

from celery import shared_task
from django.db import connection


@shared_task
def schema_probe() -> dict:
    from widget_builder.models import Widget

    schema = connection.schema_name
    widgets = [] if schema == "public" else sorted(Widget.objects.values_list("name", flat=True))
    return {"schema": schema, "widgets": widgets}


@shared_task
def job_probe(marker: str = "") -> dict:
    """A periodic job for the scheduler's tests: returns counts, like the real jobs."""
    return {"checked": 3, "removed": 1, "marker": marker}


@shared_task
def job_failing() -> dict:
    """A periodic job for the scheduler's tests that fails."""
    raise RuntimeError("job-failing: the disk is full")


@shared_task(acks_late=True)
def sleep_probe(marker: str, seconds: float) -> str:
    """A long task: sets the Redis key ``marker`` once it runs, then sleeps ``seconds``."""
    import time

    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        client.set(marker, 1, ex=300)
    finally:
        client.close()
    time.sleep(seconds)
    return "slept"
