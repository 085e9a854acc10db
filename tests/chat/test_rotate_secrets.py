"""manage.py rotate_secrets (chat): tenants' own keys move to the new master key and are
unreadable without it. (The encryption itself: tests/saas/test_crypto.py.)"""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django_tenants.utils import tenant_context

from chat.selectors import bot_settings_for
from saas.crypto import SecretUnreadable, new_master_key, secret_decrypt, secret_encrypt
from tests.knowledge.factories import KnowledgeBaseFactory
from widget_builder.models import Widget

pytestmark = pytest.mark.django_db


def test_rotation_moves_every_secret_to_the_new_master_key(tenant_a, settings):
    old, new = new_master_key(), new_master_key()
    settings.SECRET_ENCRYPTION_KEYS = [old]
    with tenant_context(tenant_a.tenant):
        bot = bot_settings_for(Widget.objects.order_by("id").first())
        bot.api_key_encrypted = secret_encrypt("sk-rotate-me-123456")
        bot.save()
    settings.SECRET_ENCRYPTION_KEYS = [new, old]
    call_command("rotate_secrets", stdout=open("/dev/null", "w"))  # noqa: SIM115
    settings.SECRET_ENCRYPTION_KEYS = [new]  # the old key is gone
    with tenant_context(tenant_a.tenant):
        bot.refresh_from_db()
    assert secret_decrypt(bot.api_key_encrypted) == "sk-rotate-me-123456"
    settings.SECRET_ENCRYPTION_KEYS = [old]
    with pytest.raises(SecretUnreadable):
        secret_decrypt(bot.api_key_encrypted)


def test_rotation_moves_the_knowledge_bases_embedding_keys_too(tenant_a, settings):
    """A knowledge base's own embedding key is a tenant secret like a bot's LLM key:
    dropping the old master key after a rotation must not leave it unreadable."""
    old, new = new_master_key(), new_master_key()
    settings.SECRET_ENCRYPTION_KEYS = [old]
    with tenant_context(tenant_a.tenant):
        kb = KnowledgeBaseFactory(
            embedding_provider="openai", embedding_api_key_encrypted=secret_encrypt("sk-embed-rotate-1")
        )
    settings.SECRET_ENCRYPTION_KEYS = [new, old]
    call_command("rotate_secrets", stdout=open("/dev/null", "w"))  # noqa: SIM115
    settings.SECRET_ENCRYPTION_KEYS = [new]
    with tenant_context(tenant_a.tenant):
        kb.refresh_from_db()
    assert secret_decrypt(kb.embedding_api_key_encrypted) == "sk-embed-rotate-1"
