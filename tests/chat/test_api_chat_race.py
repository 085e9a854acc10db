"""The server-side chat API's contact for a user id, asked for twice at once: one contact.
A workspace of its own, committed (the threads must see its rows), deleted afterwards."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connections
from django_tenants.utils import tenant_context

from chat.models import Contact
from chat.services import contacts
from tenants.models import User
from tenants.services import tenant_delete
from tests.tenants.factories import TenantFactory
from widget_builder.models import Widget


@pytest.fixture
def committed_widget(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        last_user = User.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        tenant = TenantFactory(slug="chat-contact-race")
        with tenant_context(tenant):
            widget = Widget.objects.order_by("id").first()
    try:
        yield tenant, widget
    finally:
        with django_db_blocker.unblock():
            tenant_delete(tenant=tenant, by=None)
            User.objects.filter(pk__gt=last_user).delete()


def test_two_concurrent_opens_for_a_new_user_make_one_contact(
    committed_widget, django_db_blocker, monkeypatch
):
    tenant, widget = committed_widget
    now = contacts.timezone.now

    def slow_now():
        time.sleep(0.5)  # between looking the user up and storing them: the other call arrives
        return now()

    monkeypatch.setattr(contacts.timezone, "now", slow_now)
    start, found = threading.Barrier(2), []

    def call() -> None:
        start.wait()
        try:
            with django_db_blocker.unblock(), tenant_context(tenant):
                found.append(contacts.contact_for_external_id(widget=widget, external_id="user-1").pk)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=call) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    monkeypatch.undo()
    with django_db_blocker.unblock(), tenant_context(tenant):
        stored = list(Contact.objects.filter(external_id="user-1").values_list("pk", flat=True))
    assert len(found) == 2 and len(set(found)) == 1 and stored == found[:1]
