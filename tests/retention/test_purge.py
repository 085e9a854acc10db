"""retention.services.purge: what is older than the workspace's periods goes, a batch at a
time, files included; the limits hold to the second; a second run changes nothing; a run
that failed halfway is finished by the next; a downgrade narrows the stored policy."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone
from django_tenants.utils import tenant_context

from audit.models import AuditEvent
from chat.models import Attachment, Contact, Conversation, Message
from chat.selectors import message_payload
from retention.models import PurgeRun, RetentionPolicy
from retention.selectors import retention_in_force
from retention.services import retention_policy_update, retention_purge
from tests.chat.factories import ContactFactory
from widget_builder.models import Widget

from .conftest import conversation_at, plan_set

pytestmark = pytest.mark.django_db
DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)


def _policy(tenant, conversations=30, attachments=30, contacts=30):
    return retention_policy_update(
        tenant=tenant,
        request=None,
        conversations_days=conversations,
        attachments_days=attachments,
        contacts_days=contacts,
    )


def test_the_limits_hold_to_the_second(tenant_a, run_callbacks):
    now = timezone.now()
    with tenant_context(tenant_a.tenant):
        _policy(tenant_a.tenant, conversations=30, attachments=30, contacts=30)
        kept = conversation_at(now - 30 * DAY + SECOND)
        purged = conversation_at(now - 30 * DAY - SECOND, attachment=True)
        silent = conversation_at(now - 30 * DAY - SECOND, messages=False)  # counted from its start
        silent_kept = conversation_at(now - 30 * DAY + SECOND, messages=False)
        name = Attachment.objects.get(conversation=purged).file.name
        assert default_storage.exists(name)
        with run_callbacks():
            outcome = retention_purge(tenant=tenant_a.tenant, now=now)
        left = set(Conversation.objects.values_list("pk", flat=True))
        assert kept.pk in left and silent_kept.pk in left
        assert purged.pk not in left and silent.pk not in left
        assert not Message.objects.filter(conversation_id=purged.pk).exists()
        assert not default_storage.exists(name)
        # Their contacts had nothing left and were last seen before the limit.
        assert not Contact.objects.filter(pk__in=[purged.contact_id, silent.contact_id]).exists()
        assert Contact.objects.filter(pk__in=[kept.contact_id, silent_kept.contact_id]).count() == 2
        run = outcome.run
        assert run.status == PurgeRun.Status.DONE and outcome.finished
        assert run.counts() == {"conversations": 2, "messages": 2, "attachments": 1, "contacts": 2}
        assert run.limits == {"conversations_days": 30, "attachments_days": 30, "contacts_days": 30}
        event = AuditEvent.objects.get(action="retention.purged")
        assert event.actor_kind == AuditEvent.ActorKind.SYSTEM
        assert event.metadata["conversations"] == 2 and event.metadata["finished"] is True


def test_a_second_run_changes_nothing(tenant_a, run_callbacks):
    now = timezone.now()
    with tenant_context(tenant_a.tenant):
        _policy(tenant_a.tenant, conversations=30, attachments=7, contacts=30)
        conversation_at(now - 40 * DAY, attachment=True)
        conversation_at(now - 10 * DAY, attachment=True)
        with run_callbacks():
            first = retention_purge(tenant=tenant_a.tenant, now=now).run
        assert first.conversations == 1 and first.attachments == 2  # one with its conversation
        rows = {
            model: sorted(model.objects.values_list("pk", flat=True))
            for model in (Conversation, Message, Attachment, Contact)
        }
        texts = list(Message.objects.order_by("pk").values_list("attachments", flat=True))
        with run_callbacks():
            second = retention_purge(tenant=tenant_a.tenant, now=now).run
        assert second.counts() == dict.fromkeys(("conversations", "messages", "attachments", "contacts"), 0)
        assert second.status == PurgeRun.Status.DONE
        assert rows == {
            model: sorted(model.objects.values_list("pk", flat=True))
            for model in (Conversation, Message, Attachment, Contact)
        }
        assert texts == list(Message.objects.order_by("pk").values_list("attachments", flat=True))
        assert AuditEvent.objects.filter(action="retention.purged").count() == 1


def test_a_run_that_failed_after_its_first_batch_is_finished_by_the_next(
    tenant_a, settings, monkeypatch, run_callbacks
):
    settings.RETENTION_BATCH_CONVERSATIONS = 2
    now = timezone.now()
    from retention.services import purge

    real = purge.conversations_delete
    calls = []

    def dies_on_the_second_batch(*, conversation_ids):
        calls.append(list(conversation_ids))
        if len(calls) == 2:
            raise RuntimeError("worker killed")
        return real(conversation_ids=conversation_ids)

    with tenant_context(tenant_a.tenant):
        _policy(tenant_a.tenant, conversations=30)
        before = Conversation.objects.count()
        stale = [conversation_at(now - 31 * DAY, attachment=True).pk for _ in range(5)]
        names = list(
            Attachment.objects.filter(conversation_id__in=stale)
            .order_by("conversation_id")
            .values_list("file", flat=True)
        )
        monkeypatch.setattr(purge, "conversations_delete", dies_on_the_second_batch)
        with run_callbacks(), pytest.raises(RuntimeError):
            retention_purge(tenant=tenant_a.tenant, now=now)
        failed = PurgeRun.objects.get()
        assert failed.status == PurgeRun.Status.FAILED and failed.error == "RuntimeError"
        # The first batch is done and counted; the second rolled back whole.
        assert failed.conversations == 2 and failed.batches == 1
        assert calls[0] == stale[:2]
        left = Conversation.objects.filter(pk__in=stale).order_by("pk").values_list("pk", flat=True)
        assert list(left) == stale[2:]
        assert [default_storage.exists(n) for n in names] == [False, False, True, True, True]

        monkeypatch.setattr(purge, "conversations_delete", real)
        with run_callbacks():
            again = retention_purge(tenant=tenant_a.tenant, now=now).run
        assert again.status == PurgeRun.Status.DONE and again.conversations == 3
        assert not Conversation.objects.filter(pk__in=stale).exists()
        assert Conversation.objects.count() == before
        assert not any(default_storage.exists(n) for n in names)


def test_old_attachments_go_while_their_conversation_stays(tenant_a, run_callbacks, as_role):
    now = timezone.now()
    with tenant_context(tenant_a.tenant):
        _policy(tenant_a.tenant, conversations=30, attachments=7)
        conversation = conversation_at(now - DAY, attachment=True)
        old = Attachment.objects.get(conversation=conversation)
        Attachment.objects.filter(pk=old.pk).update(created_at=now - 7 * DAY - SECOND)
        message = old.message
        with run_callbacks():
            run = retention_purge(tenant=tenant_a.tenant, now=now).run
        assert run.counts() == {"conversations": 0, "messages": 0, "attachments": 1, "contacts": 0}
        assert not Attachment.objects.filter(pk=old.pk).exists()
        assert not default_storage.exists(old.file.name)
        message.refresh_from_db()
        (entry,) = message.attachments
        assert entry["id"] == str(old.public_id) and entry["removed_reason"] == "retention"
        assert entry["removed_at"]
        # Visitors see its name, marked removed (the widget offers no download).
        (shown,) = message_payload(message)["attachments"]
        assert shown["removed"] is True and shown["name"] == old.name
    page = as_role("owner").get(f"/dashboard/conversations/{conversation.pk}/")
    assert page.status_code == 200
    assert (
        "shot.png" in page.content.decode() and "removed after the retention period" in page.content.decode()
    )


def test_contacts_go_only_with_no_conversation_and_not_seen_within_their_limit(tenant_a):
    now = timezone.now()
    with tenant_context(tenant_a.tenant):
        _policy(tenant_a.tenant)
        widget = Widget.objects.order_by("id").first()
        gone = ContactFactory(widget=widget)
        seen = ContactFactory(widget=widget)
        Contact.objects.filter(pk=gone.pk).update(last_seen_at=now - 30 * DAY - SECOND)
        Contact.objects.filter(pk=seen.pk).update(last_seen_at=now - 30 * DAY + SECOND)
        talking = conversation_at(now - DAY)
        Contact.objects.filter(pk=talking.contact_id).update(last_seen_at=now - 90 * DAY)
        run = retention_purge(tenant=tenant_a.tenant, now=now).run
        assert run.contacts == 1
        assert not Contact.objects.filter(pk=gone.pk).exists()
        assert Contact.objects.filter(pk__in=[seen.pk, talking.contact_id]).count() == 2


def test_forever_keeps_everything_on_a_plan_without_a_limit(tenant_a):
    now = timezone.now()
    plan_set(tenant_a.tenant, "business")
    with tenant_context(tenant_a.tenant):
        _policy(tenant_a.tenant, conversations=None, attachments=None, contacts=None)
        ancient = conversation_at(now - 3650 * DAY, attachment=True)
        run = retention_purge(tenant=tenant_a.tenant, now=now).run
        assert run.counts() == dict.fromkeys(("conversations", "messages", "attachments", "contacts"), 0)
        assert Conversation.objects.filter(pk=ancient.pk).exists()
        assert not AuditEvent.objects.filter(action="retention.purged").exists()
        Attachment.objects.get(conversation=ancient).file.delete(save=False)


def test_a_downgrade_narrows_the_stored_policy_and_the_purge_applies_it(tenant_a):
    now = timezone.now()
    plan_set(tenant_a.tenant, "starter")
    with tenant_context(tenant_a.tenant):
        _policy(tenant_a.tenant, conversations=365, attachments=90, contacts=365)
        plan_set(tenant_a.tenant, "free")
        # In force at once (pages, API), before anything is stored.
        view = retention_in_force(tenant=tenant_a.tenant)
        assert view.days == {"conversations_days": 30, "attachments_days": 30, "contacts_days": 30}
        assert view.beyond_plan == ["conversations_days", "attachments_days", "contacts_days"]
        old = conversation_at(now - 40 * DAY)
        run = retention_purge(tenant=tenant_a.tenant, now=now).run
        assert run.conversations == 1 and not Conversation.objects.filter(pk=old.pk).exists()
        policy = RetentionPolicy.objects.get()
        assert (policy.conversations_days, policy.attachments_days, policy.contacts_days) == (30, 30, 30)
        assert policy.narrowed["plan"] == "Free" and policy.narrowed["days"] == 30
        assert policy.narrowed["from"] == {
            "conversations_days": 365,
            "attachments_days": 90,
            "contacts_days": 365,
        }
        event = AuditEvent.objects.get(action="retention.narrowed")
        assert event.metadata["plan"] == "free" and event.metadata["days"] == 30
        # Narrowed once: the next run finds nothing wider.
        retention_purge(tenant=tenant_a.tenant, now=now)
        assert AuditEvent.objects.filter(action="retention.narrowed").count() == 1


def test_the_other_workspace_is_left_alone(tenant_a, tenant_b):
    now = timezone.now()
    with tenant_context(tenant_b.tenant):
        theirs = conversation_at(now - 400 * DAY)
    with tenant_context(tenant_a.tenant):
        conversation_at(now - 400 * DAY)
        assert retention_purge(tenant=tenant_a.tenant, now=now).run.conversations == 1
    with tenant_context(tenant_b.tenant):
        assert Conversation.objects.filter(pk=theirs.pk).exists()
        assert not PurgeRun.objects.exists()


def test_a_run_under_way_is_not_doubled(tenant_a):
    """Runs of one workspace never overlap: the advisory lock is held by another session."""
    from django.db import connections

    from saas.tenant_connection import connection

    with tenant_context(tenant_a.tenant):
        key = f"retention.purge:{connection.schema_name}"
        other = connections.create_connection("default")
        try:
            with other.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_lock(hashtext(%s))", [key])
            outcome = retention_purge(tenant=tenant_a.tenant)
            assert outcome.skipped and outcome.run is None
            assert not PurgeRun.objects.exists()
        finally:
            other.close()


@pytest.mark.parametrize(("target_ms", "batches"), [(0, 3), (10**6, 2)])  # of conversations
def test_batches_shrink_while_slow_and_grow_while_quick(tenant_a, settings, target_ms, batches):
    """Runs start at a quarter of the largest batch (80 -> 20); a batch slower than the target
    makes the next smaller (never under 20 here), a quick one a quarter bigger (20, 25)."""
    settings.RETENTION_BATCH_CONVERSATIONS = 80
    settings.RETENTION_BATCH_TARGET_MS = target_ms
    now = timezone.now()
    with tenant_context(tenant_a.tenant):
        _policy(tenant_a.tenant)
        for _ in range(45):
            conversation_at(now - 31 * DAY, messages=False)
        run = retention_purge(tenant=tenant_a.tenant, now=now).run
        # And one batch of their 45 contacts, left with nothing (rows: from 500 // 4).
        assert run.conversations == 45 and run.contacts == 45 and run.batches == batches + 1
