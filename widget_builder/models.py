"""Widgets live in the tenant's schema. The builder (a later issue) adds appearance,
behaviour and prechat fields to this model through migrations."""

import secrets

from django.db import models
from django.utils import timezone


def new_widget_key() -> str:
    return "wk_" + secrets.token_urlsafe(18)


class Widget(models.Model):
    name = models.CharField(max_length=120)
    # Public, unguessable key carried by the embed snippet.
    key = models.CharField(max_length=40, unique=True, default=new_widget_key)
    is_enabled = models.BooleanField(default=True)
    # Set by the builder when the tenant first saves their own design, and when they copy
    # the embed snippet: the onboarding checklist reads them.
    customized_at = models.DateTimeField(null=True, blank=True)
    snippet_copied_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.name
