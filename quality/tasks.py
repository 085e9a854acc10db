"""Background work for the quality app: a bot-test run. Tasks take ids, re-fetch, and call
the run; they run in the schema they were sent from (saas.celery)."""

from celery import shared_task

from . import runs

# 25 tests, each within the LLM deadline, with room to spare.
RUN_SOFT_LIMIT = 900


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=RUN_SOFT_LIMIT,
    time_limit=RUN_SOFT_LIMIT + 60,
)
def bot_test_run_task(run_id: int) -> int | None:
    run = runs.bot_test_run_execute(run_id)
    return run.passed if run is not None else None
