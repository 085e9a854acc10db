"""Knowledge bases live in the tenant's schema. Sources, documents and chunks (with their
vectors) arrive with the knowledge issue and hang off this model."""

from django.db import models
from django.utils import timezone


class KnowledgeBase(models.Model):
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.name
