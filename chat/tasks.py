"""Background work for conversations. Tasks take ids, re-fetch, and call a service; they
run in the schema they were sent from (saas.celery)."""

from celery import shared_task
from django.core.mail import EmailMultiAlternatives
from django.db import connection
from django.template.loader import render_to_string
from django.utils import timezone

from .models import Conversation


@shared_task(acks_late=True, reject_on_worker_lost=True, soft_time_limit=60, time_limit=90)
def transcript_send(conversation_id: int) -> bool:
    """Email a conversation's transcript to its visitor (the prechat email). Text and
    HTML parts; everything visitors, agents and the model wrote is escaped."""
    conversation = Conversation.objects.select_related("contact", "widget").filter(pk=conversation_id).first()
    if conversation is None or conversation.contact is None or not conversation.contact.email:
        return False
    context = {
        "conversation": conversation,
        "widget": conversation.widget,
        "messages": conversation.messages.exclude(role="system").order_by("seq"),
        "tenant": getattr(connection, "tenant", None),
    }
    mail = EmailMultiAlternatives(
        subject=f"Your conversation with {conversation.widget.bot_name}",
        body=render_to_string("chat/email/transcript.txt", context),
        to=[conversation.contact.email],
    )
    mail.attach_alternative(render_to_string("chat/email/transcript.html", context), "text/html")
    mail.send()
    Conversation.objects.filter(pk=conversation.pk).update(transcript_sent_at=timezone.now())
    return True
