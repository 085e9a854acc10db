"""Tasks the broker refused, kept in the database until a beat job sends them.

``saas.celery.enqueue_on_commit`` hands a task to the broker after the commit; when the
broker is unreachable (Redis down) the task is stored here instead of being lost, and
``outbox_resend`` (Celery beat, every ``OUTBOX_RESEND_SECONDS``) sends the due rows and
deletes each once sent. Delivery is at least once: a task is idempotent anyway.
"""
