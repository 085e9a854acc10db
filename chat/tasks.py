"""Background work for conversations. Tasks take ids, re-fetch, and call a service; they
run in the schema they were sent from (saas.celery)."""

from celery import shared_task

from .models import Conversation
from .services.transcripts import conversation_transcript_send


@shared_task(acks_late=True, reject_on_worker_lost=True, soft_time_limit=60, time_limit=90)
def transcript_send(conversation_id: int) -> bool:
    """Email a conversation's transcript to its visitor (the prechat email)."""
    conversation = Conversation.objects.select_related("contact", "widget").filter(pk=conversation_id).first()
    if conversation is None:
        return False
    return conversation_transcript_send(conversation=conversation)
