"""Background work for conversations. Tasks take ids, re-fetch, and call a service; they
run in the schema they were sent from (saas.celery)."""

from celery import shared_task
from django_tenants.utils import schema_context

from tenants.models import Tenant

from .models import AgentProfile, Conversation
from .services.inbox import agents_offline_sweep
from .services.transcripts import conversation_transcript_send


@shared_task(acks_late=True, reject_on_worker_lost=True, soft_time_limit=60, time_limit=90)
def transcript_send(conversation_id: int) -> bool:
    """Email a conversation's transcript to its visitor (the prechat email)."""
    conversation = Conversation.objects.select_related("contact", "widget").filter(pk=conversation_id).first()
    if conversation is None:
        return False
    return conversation_transcript_send(conversation=conversation)


@shared_task(acks_late=True, soft_time_limit=50, time_limit=60)
def agents_offline_sweep_task() -> int:
    """Every minute (beat): in every active workspace with an agent whose heartbeats
    stopped, tell the inbox and apply the workspace's offline policy."""
    gone = 0
    for schema in Tenant.objects.filter(status=Tenant.Status.ACTIVE).values_list("schema_name", flat=True):
        with schema_context(schema):
            if AgentProfile.objects.filter(offline_handled=False).exists():
                gone += agents_offline_sweep()
    return gone
