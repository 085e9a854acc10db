"""Reads of the privacy app. Preconditions: the tenant's schema is active."""

from __future__ import annotations

from chat.contacts import contact_visible
from chat.models import Contact
from tenants.dashboard import MANAGERS


def contact_for_privacy(*, contact_id: int, user_id: int, role: str) -> Contact | None:
    """The contact, if this member may export or erase it: an owner or admin who sees it
    (the inbox's widget rule). Agents never may; callers answer them 403 before asking."""
    if role not in MANAGERS:
        return None
    return contact_visible(contact_id=contact_id, user_id=user_id, role=role)
