"""What an erasure leaves behind: the fact that it happened, never what was erased.

A contact's erasure (``privacy.services.contact_erase``) removes the person's details,
conversations, messages, attachments and consent; this row replaces their consent record as
the proof that the request was honoured: when, by whom (a member or API key of the
workspace, not the person), and how much went. No personal data of the contact: their
public id is a random UUID that, once the contact is gone, points at nothing. In the
tenant's schema.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class ErasureRecord(models.Model):
    contact_public_id = models.UUIDField(db_index=True)
    erased_at = models.DateTimeField(default=timezone.now)
    # Who erased: a member's user id and email, or an API key's name; never the contact.
    erased_by_user_id = models.PositiveIntegerField(null=True, blank=True)
    erased_by_label = models.CharField(max_length=254, blank=True, default="")
    had_consent = models.BooleanField(default=False)  # a consent record was replaced
    conversations = models.PositiveIntegerField(default=0)
    messages = models.PositiveIntegerField(default=0)
    attachments = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-erased_at", "-id"]

    def __str__(self) -> str:
        return f"Erasure of {self.contact_public_id} at {self.erased_at:%Y-%m-%d %H:%M}"
