"""Background work for conversations. Tasks take ids, re-fetch, and call a service; they
run in the schema they were sent from (saas.celery)."""

from collections.abc import Callable

from celery import shared_task

from tenants.tasks import each_active_workspace, each_workspace_counts, job_done

from .models import AgentProfile, Conversation
from .services import notification_emails
from .services.inbox import agents_offline_sweep
from .services.transcripts import conversation_transcript_send
from .services.visitor_sessions import visitor_sessions_expire


@shared_task(acks_late=True, reject_on_worker_lost=True, soft_time_limit=60, time_limit=90)
def transcript_send(conversation_id: int) -> bool:
    """Email a conversation's transcript to its visitor (the prechat email)."""
    conversation = Conversation.objects.select_related("contact", "widget").filter(pk=conversation_id).first()
    if conversation is None:
        return False
    return conversation_transcript_send(conversation=conversation)


def _each_workspace(work: Callable[[], int]) -> int:
    return each_active_workspace(work, what="chat: periodic work")


@shared_task(acks_late=True, soft_time_limit=50, time_limit=60)
def agents_offline_sweep_task() -> int:
    """Every minute (beat): in every active workspace with an agent whose heartbeats
    stopped, tell the inbox and apply the workspace's offline policy."""

    def sweep() -> int:
        return agents_offline_sweep() if AgentProfile.objects.filter(offline_handled=False).exists() else 0

    return _each_workspace(sweep)


# --- notifications (chat.services.notifications queues them; the beat runs the batches) --


@shared_task(acks_late=True, reject_on_worker_lost=True, soft_time_limit=60, time_limit=90)
def team_handoff_email(conversation_id: int) -> int:
    """Email the members who want it that a visitor asked for a person."""
    conversation = Conversation.objects.select_related("contact", "widget").filter(pk=conversation_id).first()
    if conversation is None:
        return 0
    return notification_emails.team_handoff_email_send(conversation=conversation)


@shared_task(acks_late=True, reject_on_worker_lost=True, soft_time_limit=60, time_limit=90)
def assignment_email(conversation_id: int, assignee_user_id: int, by_user_id: int | None) -> bool:
    """Email the assignee of a conversation given to them."""
    conversation = Conversation.objects.select_related("contact", "widget").filter(pk=conversation_id).first()
    if conversation is None:
        return False
    return notification_emails.assignment_email_send(
        conversation=conversation, assignee_user_id=assignee_user_id, by_user_id=by_user_id
    )


@shared_task(acks_late=True, soft_time_limit=110, time_limit=120)
def agent_replies_digest() -> int:
    """Every 2 minutes (beat): each away or offline assignee gets one email listing the
    conversations with visitor messages they have not read, in every active workspace."""
    return _each_workspace(notification_emails.agent_replies_digest_send)


@shared_task(acks_late=True, soft_time_limit=55, time_limit=60)
def visitor_replies_email() -> int:
    """Every minute (beat): away visitors who left an address get the agents' replies
    they have not read, one email per conversation, in every active workspace."""
    return _each_workspace(notification_emails.visitor_replies_email_send)


@shared_task(acks_late=True, soft_time_limit=1200, time_limit=1260)
def visitor_sessions_expire_task() -> dict[str, int]:
    """Hourly (beat): expired visitor sessions that hold nothing, in every workspace."""

    def expire() -> dict[str, int]:
        return {"expired_visitor_sessions": visitor_sessions_expire()}

    return job_done("visitor-sessions", each_workspace_counts(expire, what="chat: visitor sessions"))
