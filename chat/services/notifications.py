"""Notifications about conversations: the team told when a visitor asks for a person while
nobody is online, an assignee told of a conversation given to them, and the address a
visitor leaves to hear of replies. The emails go out from tasks after the commit
(``chat.tasks``, ``chat.services.notification_emails``); the batched ones (visitor replies
to away agents, agent replies to away visitors) run on the beat. Preconditions: the
tenant's schema is active."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from django.db import transaction

from saas.celery import enqueue_on_commit

from ..models import Conversation

if TYPE_CHECKING:
    from celery import Task


def _task(name: str) -> Task[Any, Any]:
    # By name, when queued: the tasks module sits above the services that notify
    # (``chat.services.inbox`` assigns), and imports them.
    task: Task[Any, Any] = getattr(importlib.import_module("chat.tasks"), name)
    return task


def team_handoff_notify(conversation: Conversation) -> None:
    """Email the members who want it that a visitor asked for a person (after the commit;
    called by ``conversation_handoff`` when nobody is online, and by the offline form).
    Asked twice for the same state of the conversation, it emails once."""
    enqueue_on_commit(_task("team_handoff_email"), conversation.pk)


def assignment_notify(
    conversation: Conversation, assignee_user_id: int | None, by_user_id: int | None
) -> None:
    """Email the assignee that ``conversation`` was given to them, by someone else or by
    auto-assignment (``by_user_id`` None); nothing when they took it themselves."""
    if assignee_user_id is None or assignee_user_id == by_user_id:
        return
    enqueue_on_commit(_task("assignment_email"), conversation.pk, assignee_user_id, by_user_id)


def conversation_notify_email_set(*, conversation: Conversation, email: str) -> Conversation:
    """The address the visitor gave to hear of replies while away (the offline form)."""
    conversation.notify_email = email.strip()
    with transaction.atomic():
        conversation.save(update_fields=["notify_email", "updated_at"])
    return conversation
