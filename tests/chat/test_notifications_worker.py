"""The notification tasks on a real Celery worker (Redis): the team's email runs in the
schema it was queued from, and the visitor replies' beat task enters every workspace and
moves the conversation's marker once. Data is committed (the worker is another process)
and deleted afterwards."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from chat import tasks
from chat.models import Contact, Conversation, Message
from chat.services.messages import message_append
from tests.chat.factories import ContactFactory, ConversationFactory
from tests.conftest import require_service
from widget_builder.models import Widget

BASE_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture
def worker_queue(seeded, django_db_blocker):
    require_service(bool(settings.REDIS_URL) and not settings.CELERY_TASK_ALWAYS_EAGER, "Redis (REDIS_URL)")
    db = connection.settings_dict
    queue = f"test-notify-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "saas.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "saas", "worker", "--pool", "solo", "-Q", queue,
         "--without-mingle", "--without-gossip", "--loglevel", "WARNING"],
        env=env,
        cwd=BASE_DIR,
    )  # fmt: skip
    try:
        yield queue
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()


@pytest.mark.worker
def test_notification_tasks_run_on_a_worker(worker_queue, seeded, django_db_blocker):
    tenant = seeded["a"].tenant
    with django_db_blocker.unblock(), tenant_context(tenant):
        widget = Widget.objects.order_by("id").first()
        contact = ContactFactory(widget=widget, name="Worker visitor")
        conversation = ConversationFactory(
            widget=widget, contact=contact, notify_email="visitor@example.org", status="waiting"
        )
        message_append(conversation=conversation, role=Message.Role.VISITOR, text="Anyone?")
        reply, _ = message_append(conversation=conversation, role=Message.Role.AGENT, text="Here!")
        Message.objects.filter(pk=reply.pk).update(created_at=timezone.now() - timedelta(minutes=3))
    try:
        with tenant_context(tenant):
            team = tasks.team_handoff_email.apply_async(args=[conversation.pk], queue=worker_queue)
        assert team.get(timeout=90) == 1  # the owner, in A's schema
        visitor = tasks.visitor_replies_email.apply_async(queue=worker_queue)
        assert visitor.get(timeout=90) == 1
        again = tasks.visitor_replies_email.apply_async(queue=worker_queue)
        assert again.get(timeout=90) == 0
        with django_db_blocker.unblock(), tenant_context(tenant):
            assert Conversation.objects.get(pk=conversation.pk).emailed_seq == reply.seq
    finally:
        with django_db_blocker.unblock(), tenant_context(tenant):
            Conversation.objects.filter(pk=conversation.pk).delete()
            Contact.objects.filter(pk=contact.pk).delete()
