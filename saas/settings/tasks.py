"""Celery's settings: the broker, task limits, the visibility timeout and the beat
schedule, with the settings of the scheduled work (email reports, outbound webhooks).
Star-imported by ``base`` after it has read ``.env`` (the same environment)."""

from __future__ import annotations

import environ
from celery.schedules import crontab
from kombu import Queue

env = environ.Env()
REDIS_URL = env("REDIS_URL", default="")

CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=REDIS_URL or None)
# Without a broker, tasks run in-process (eagerly) so nothing needs to be installed.
CELERY_TASK_ALWAYS_EAGER = not (REDIS_URL or env("CELERY_BROKER_URL", default=""))
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Stopping a worker (docs/deployment.md, "Graceful shutdown"). SIGTERM is Celery's warm
# shutdown, which waits for every running task however long (a SIGKILL then leaves a task
# to the visibility timeout). With REMAP_SIGTERM=SIGQUIT in the worker's environment (the
# Helm chart sets both), SIGTERM is the cold shutdown preceded by this soft one: running
# tasks get this many seconds, then are cancelled and, acks late, go back to the queue at
# once (kombu restores a closing worker's unacknowledged messages). 0: no soft shutdown.
CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT = env.float("CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT", default=0.0)
CELERY_TASK_SOFT_TIME_LIMIT = 300
CELERY_TASK_TIME_LIMIT = 360
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Queues (docs/deployment.md, "Celery queues"): long bulk work (knowledge ingestion and
# re-embedding, minutes to half an hour each) has a queue of its own, so a burst of it cannot
# starve the short, time-bound tasks (webhook deliveries, emails, realtime notifications,
# Stripe events) of the default queue. The Helm chart runs one worker Deployment per queue
# group (`celery -A saas worker -Q default` and `-Q ingest`); a worker started without
# `-Q` (docker-compose, `make run`) consumes every queue declared here.
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES = [Queue("default", routing_key="default"), Queue("ingest", routing_key="ingest")]
CELERY_TASK_ROUTES = {
    "knowledge.tasks.source_ingest_task": {"queue": "ingest"},
    "knowledge.tasks.knowledge_base_reembed_task": {"queue": "ingest"},
}
# The worker logs through Django's LOGGING (structured, with the task's context), not a
# root handler of Celery's own.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Task modules that are not an app's ``tasks`` (autodiscovery finds those).
CELERY_IMPORTS = ["chat.answering.owed_settle"]
# Ingestion, the longest task (soft limit; hard +60 s). A run whose heartbeat is older than
# the stale seconds is re-queued by the reaper; fails after max attempts (knowledge.runs).
KNOWLEDGE_INGEST_TIME_LIMIT = env.int("KNOWLEDGE_INGEST_TIME_LIMIT", default=1800)
KNOWLEDGE_INGEST_STALE_SECONDS = env.int("KNOWLEDGE_INGEST_STALE_SECONDS", default=300)
KNOWLEDGE_INGEST_MAX_ATTEMPTS = env.int("KNOWLEDGE_INGEST_MAX_ATTEMPTS", default=3)
# A source queued this long has its message sent again (a lost one); a slow one ignores it.
KNOWLEDGE_INGEST_QUEUED_RESEND_SECONDS = env.int("KNOWLEDGE_INGEST_QUEUED_RESEND_SECONDS", default=1800)
# A dead worker's task is handed out again after the visibility timeout (acks_late): above
# the longest hard time limit, or a running task is handed out twice (test_celery checks).
CELERY_LONGEST_TASK_SECONDS = KNOWLEDGE_INGEST_TIME_LIMIT + 60
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": 2,
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=CELERY_LONGEST_TASK_SECONDS + 300),
    # Kombu looks for messages past their visibility timeout every 10 s, scanning on every
    # Nth look (its default 10: about every 100 s). A short visibility timeout (tests) wants 1.
    "unacked_restore_throttle": env.int("CELERY_UNACKED_RESTORE_THROTTLE", default=10),
}
CELERY_BEAT_SCHEDULE = {
    "tenant-pool-refill": {"task": "tenants.tasks.tenant_pool_refill", "schedule": 60.0},
    "tenants-housekeeping": {"task": "tenants.tasks.tenants_housekeeping", "schedule": 3600.0},
    "knowledge-sync-due": {"task": "knowledge.tasks.sources_sync_due", "schedule": 3600.0},
    "knowledge-reap-stale": {"task": "knowledge.tasks.sources_reap_stale", "schedule": 60.0},
    "stripe-events-pending": {"task": "billing.tasks.stripe_events_pending", "schedule": 600.0},
    "billing-overage-report": {"task": "billing.tasks.overage_report_task", "schedule": 3600.0},
    "billing-trials-expire": {"task": "billing.tasks.trials_expire_task", "schedule": 3600.0},
    "chat-agents-offline": {"task": "chat.tasks.agents_offline_sweep_task", "schedule": 60.0},
    "chat-agent-replies-digest": {"task": "chat.tasks.agent_replies_digest", "schedule": 120.0},
    "chat-visitor-replies-email": {"task": "chat.tasks.visitor_replies_email", "schedule": 60.0},
    "chat-unanswered-sweep": {"task": "chat.answering.owed_settle.unanswered_sweep", "schedule": 60.0},
    "outbox-resend": {"task": "saas.outbox.tasks.outbox_resend", "schedule": 30.0},
    "insights-rollups": {"task": "insights.tasks.rollups_refresh_all", "schedule": 300.0},
    "exports-expire": {"task": "exports.tasks.exports_expire_task", "schedule": 3600.0},
    "reports-send": {"task": "reports.tasks.reports_send_all", "schedule": 900.0},
    "webhooks-retry": {"task": "webhooks.tasks.webhooks_retry_due", "schedule": 15.0},
    "webhooks-expire": {"task": "webhooks.tasks.webhooks_expire", "schedule": 3600.0},
    # Housekeeping (docs/data-lifecycle.md, "Housekeeping"): each returns a dict of counts.
    "housekeeping-visitor-sessions": {"task": "chat.tasks.visitor_sessions_expire_task", "schedule": 3600.0},
    "housekeeping-unverified-accounts": {
        "task": "tenants.tasks.unverified_accounts_sweep",
        "schedule": crontab(minute=20, hour=3),
    },
    "housekeeping-storage-reconcile": {
        "task": "tenants.tasks.storage_reconcile_task",
        "schedule": crontab(minute=40, hour=4),
    },
    "billing-stripe-events-expire": {
        "task": "billing.tasks.stripe_events_expire_task",
        "schedule": crontab(minute=10, hour=2),
    },
    "platform-usage-daily": {
        "task": "tenants.tasks.platform_usage_compute",
        "schedule": crontab(minute=15, hour=0),
    },
    "privacy-workspaces-delete-due": {"task": "privacy.tasks.workspaces_delete_due_task", "schedule": 3600.0},
    "scheduler-runs-prune": {"task": "scheduler.tasks.task_runs_prune", "schedule": 3600.0},
    # Nightly (UTC), every active workspace: what its retention policy no longer keeps.
    "retention-purge": {
        "task": "retention.tasks.retention_purge_all",
        "schedule": crontab(hour=env.int("RETENTION_PURGE_HOUR", default=3), minute=15),
    },
}
# --- Schedules in the database and the runs of periodic jobs (scheduler app) -------------
# CELERY_BEAT_SCHEDULE above holds the declared defaults: beat's scheduler creates a missing
# entry in the database and removes one no longer declared, and never overwrites what staff
# changed on the scheduler page (interval, enabled). docs/deployment.md lists the jobs.
CELERY_BEAT_SCHEDULER = "scheduler.beat:ProjectScheduler"
# Runs of periodic jobs are kept this many days, and at most this many per job.
SCHEDULER_RUNS_KEEP_DAYS = env.int("SCHEDULER_RUNS_KEEP_DAYS", default=30)
SCHEDULER_RUNS_KEEP_PER_TASK = env.int("SCHEDULER_RUNS_KEEP_PER_TASK", default=500)
# Heartbeats (saas.heartbeats, scheduler.heartbeat): each worker writes its file (its own
# liveness probe, `python -m scheduler.probe`, reads it) and its Redis key every
# WORKER_HEARTBEAT_SECONDS; the probe fails when the file is older than
# WORKER_HEARTBEAT_MAX_AGE. Beat renews its key (expiring after BEAT_HEARTBEAT_MAX_AGE) and
# its file (the beat pod's probe) on its ticks, at most every 5 s.
WORKER_HEARTBEAT_FILE = env("WORKER_HEARTBEAT_FILE", default="/tmp/saas-worker-heartbeat")  # noqa: S108
WORKER_HEARTBEAT_SECONDS = env.int("WORKER_HEARTBEAT_SECONDS", default=10)
WORKER_HEARTBEAT_MAX_AGE = env.int("WORKER_HEARTBEAT_MAX_AGE", default=60)
BEAT_HEARTBEAT_MAX_AGE = env.int("BEAT_HEARTBEAT_MAX_AGE", default=60)
BEAT_HEARTBEAT_FILE = env("BEAT_HEARTBEAT_FILE", default="/tmp/saas-beat-heartbeat")  # noqa: S108
# Self-serve workspace deletion (docs/privacy.md): the days between the owner's confirmation
# and the deletion, when an owner can still undo it; the confirmation link's lifetime.
PRIVACY_DELETION_GRACE_DAYS = env.int("PRIVACY_DELETION_GRACE_DAYS", default=14)
PRIVACY_DELETION_LINK_HOURS = env.int("PRIVACY_DELETION_LINK_HOURS", default=24)
# --- Retention (docs/data-lifecycle.md) --------------------------------------------------
# Conversations deleted per transaction at most, and attachments or contacts; how long a batch
# waits for a lock before it gives up (the next run retries); the whole nightly run's time
# budget across workspaces (below the task's soft limit): what is left goes the next night.
RETENTION_BATCH_CONVERSATIONS = env.int("RETENTION_BATCH_CONVERSATIONS", default=200)
RETENTION_BATCH_ROWS = env.int("RETENTION_BATCH_ROWS", default=500)
RETENTION_LOCK_TIMEOUT_MS = env.int("RETENTION_LOCK_TIMEOUT_MS", default=1000)
# A batch taking longer than this (its locks held that long) makes the next one a third
# smaller; quick ones grow it back up to the sizes above (a run starts at a quarter of them).
RETENTION_BATCH_TARGET_MS = env.int("RETENTION_BATCH_TARGET_MS", default=80)
RETENTION_PURGE_SECONDS = env.int("RETENTION_PURGE_SECONDS", default=1200)
# The hour (each workspace's local time) from which the email reports of the day go out.
REPORTS_SEND_HOUR = env.int("REPORTS_SEND_HOUR", default=8)
# --- Outbound webhooks (docs/webhooks.md) -------------------------------------------------
# Endpoints must be on public addresses; the allow-list ("host:port") is for a receiver on
# a private network the operator trusts (and the test suite's local receiver).
WEBHOOKS_ALLOW_PRIVATE = env.bool("WEBHOOKS_ALLOW_PRIVATE", default=False)
WEBHOOKS_PRIVATE_ALLOWLIST = env.list("WEBHOOKS_PRIVATE_ALLOWLIST", default=[])
WEBHOOKS_TIMEOUT_SECONDS = env.float("WEBHOOKS_TIMEOUT_SECONDS", default=10.0)
# An endpoint whose every attempt has failed for this long, at least this many times in a
# row, is disabled (its owners are emailed).
WEBHOOKS_DISABLE_AFTER_HOURS = env.int("WEBHOOKS_DISABLE_AFTER_HOURS", default=24)
WEBHOOKS_DISABLE_AFTER_FAILURES = env.int("WEBHOOKS_DISABLE_AFTER_FAILURES", default=5)
# Events and their deliveries are kept this many days (the dashboard's delivery log).
WEBHOOKS_LOG_DAYS = env.int("WEBHOOKS_LOG_DAYS", default=30)
# --- Housekeeping (docs/data-lifecycle.md) ---------------------------------------------------
# Rows deleted per short transaction by every housekeeping job.
HOUSEKEEPING_BATCH_SIZE = env.int("HOUSEKEEPING_BATCH_SIZE", default=1000)
# A visitor that told us nothing, has no conversation and was last seen this long ago (its
# bearer token, valid 30 days, has expired) is forgotten.
VISITOR_SESSION_KEEP_DAYS = env.int("VISITOR_SESSION_KEEP_DAYS", default=30)
# Accounts whose email was never verified: warned this many days after signing up, removed
# (with the workspaces nobody else used) after UNVERIFIED_ACCOUNT_DAYS.
UNVERIFIED_ACCOUNT_DAYS = env.int("UNVERIFIED_ACCOUNT_DAYS", default=7)
UNVERIFIED_ACCOUNT_WARN_DAYS = env.int("UNVERIFIED_ACCOUNT_WARN_DAYS", default=5)
# Invitations are kept this many days after their link expired; ended or expired staff
# support grants this many days (owners see them on the dashboard meanwhile).
INVITATION_KEEP_DAYS = env.int("INVITATION_KEEP_DAYS", default=30)
SUPPORT_ACCESS_KEEP_DAYS = env.int("SUPPORT_ACCESS_KEEP_DAYS", default=365)
# Stored files no row names are removed once older than this (a file is written just before
# its row commits); STORAGE_RECONCILE_DRY_RUN makes the periodic job only report.
STORAGE_RECONCILE_GRACE_HOURS = env.int("STORAGE_RECONCILE_GRACE_HOURS", default=24)
STORAGE_RECONCILE_DRY_RUN = env.bool("STORAGE_RECONCILE_DRY_RUN", default=False)
# Processed Stripe events are kept this long (Stripe retries a delivery for 3 days).
STRIPE_EVENTS_KEEP_DAYS = env.int("STRIPE_EVENTS_KEEP_DAYS", default=90)
# The platform's daily usage statistics go back this many days when first computed.
PLATFORM_USAGE_BACKFILL_DAYS = env.int("PLATFORM_USAGE_BACKFILL_DAYS", default=90)
# Publishing retries once, briefly (the result backend too: it retries 20 s by default);
# with the broker down the task goes to the outbox (saas.outbox) instead of being lost.
_PUBLISH_RETRY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
CELERY_TASK_PUBLISH_RETRY_POLICY = _PUBLISH_RETRY
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"retry_policy": _PUBLISH_RETRY}
