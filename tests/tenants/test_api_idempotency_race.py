"""An Idempotency-Key sent by two calls at once: one runs, the other is told the first
is still running (409 ``idempotency_key_in_use``), and one reply exists. A workspace of its
own, committed (requests on other threads must see its rows), deleted afterwards."""

from __future__ import annotations

import threading
import time

import pytest
from django.conf import settings
from django.db import connections
from django.test import Client

from chat.services import inbox
from tenants.models import User
from tenants.services import tenant_delete
from tests.tenants.factories import ApiKeyFactory, TenantFactory
from tests.tenants.test_api_conventions import _conversation, _replies, _reply


@pytest.fixture
def committed_workspace(django_db_blocker):
    """A workspace whose rows are committed, so that requests on other threads see them."""
    with django_db_blocker.unblock():
        last_user = User.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        tenant = TenantFactory(slug="idempotency-race")
        key = ApiKeyFactory(tenant=tenant)
        conversation = _conversation(tenant)
    try:
        yield tenant, key, conversation
    finally:
        with django_db_blocker.unblock():
            tenant_delete(tenant=tenant, by=None)
            User.objects.filter(pk__gt=last_user).delete()


def test_two_concurrent_calls_with_one_key_create_one_reply(
    committed_workspace, django_db_blocker, monkeypatch
):
    tenant, key, conversation = committed_workspace

    send = inbox.agent_reply_send

    def slow_send(**kwargs):
        time.sleep(1.0)  # the first call is still running when the second arrives
        return send(**kwargs)

    monkeypatch.setattr(inbox, "agent_reply_send", slow_send)
    host = f"{tenant.slug}.{settings.BASE_DOMAIN}"
    start, statuses = threading.Barrier(2), []

    def call() -> None:
        client = Client(HTTP_HOST=host, HTTP_AUTHORIZATION=f"Bearer {key.secret}")
        start.wait()
        try:
            with django_db_blocker.unblock():
                statuses.append(_reply(client, conversation, key="race").status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=call) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    with django_db_blocker.unblock():
        replies = _replies(tenant, conversation)
    # The second is told the first still runs (or, on a slow machine, gets its answer).
    assert sorted(statuses) in ([201, 409], [201, 201]), statuses
    assert len(replies) == 1
