"""The domain's signals, turned into events: ``chat.models.chat_event`` (conversations,
messages, contacts) and ``knowledge.models.source_finished``. Connected in
``WebhooksConfig.ready``. They run after the change has committed, in the schema it was
made in; a failure here is logged and never reaches the visitor's or agent's action."""

from __future__ import annotations

import logging
from typing import Any

from django_tenants.utils import schema_context

from chat.models import Contact, Conversation, Message, chat_event
from knowledge.models import Source, source_finished
from saas.tenant_connection import connection

from .payloads import MESSAGE_ROLES_SENT, contact_data, conversation_data, message_data, source_data
from .selectors import event_types_subscribed
from .services import event_emit

logger = logging.getLogger(__name__)


def _conversation(conversation_id: int | None) -> Conversation | None:
    if conversation_id is None:
        return None
    return Conversation.objects.select_related("contact").filter(pk=conversation_id).first()


def _chat_data(event_type: str, ids: dict[str, Any]) -> dict[str, Any] | None:
    """The event's ``data``, or None when there is nothing to send (a note, a row gone)."""
    if event_type.startswith("contact."):
        contact = Contact.objects.filter(pk=int(ids.get("contact_id") or 0)).first()
        return {"contact": contact_data(contact)} if contact else None
    conversation = _conversation(ids.get("conversation_id"))
    if conversation is None:
        return None
    data: dict[str, Any] = {"conversation": conversation_data(conversation)}
    if event_type.startswith("message."):
        message = Message.objects.filter(pk=int(ids.get("message_id") or 0)).first()
        if message is None or message.role not in MESSAGE_ROLES_SENT:
            return None
        data["message"] = message_data(message)
    if "by_user_id" in ids:
        data["by_user_id"] = ids["by_user_id"]
    return data


def _emit(event_type: str, build: Any) -> None:
    # Cheap when nobody listens: a cache read, before any payload is built.
    if event_type not in event_types_subscribed():
        return
    data = build()
    if data is not None:
        event_emit(event_type=event_type, data=data)


def chat_changed(sender: Any, *, event_type: str, schema: str, **ids: Any) -> None:
    try:
        with schema_context(schema):
            _emit(event_type, lambda: _chat_data(event_type, ids))
    except Exception:
        logger.exception("webhooks: %s could not be emitted in %s", event_type, schema)


def source_changed(sender: Any, *, source_id: int, status: str, **kwargs: Any) -> None:
    event_type = "knowledge.source.ingested" if status == Source.Status.READY else "knowledge.source.failed"

    def build() -> dict[str, Any] | None:
        source = Source.objects.filter(pk=source_id).first()
        return {"source": source_data(source)} if source else None

    try:
        _emit(event_type, build)
    except Exception:
        logger.exception("webhooks: %s could not be emitted in %s", event_type, connection.schema_name)


def connect() -> None:
    chat_event.connect(chat_changed, dispatch_uid="webhooks-chat-event")
    source_finished.connect(source_changed, dispatch_uid="webhooks-source-finished")
