"""Re-encrypt every stored tenant secret under the current master key (saas.crypto): the
bots' own LLM keys, the knowledge bases' own embedding keys, and the client secrets of the
workspaces' identity providers (sso, public schema).

Rotation: put the new key first in SECRET_ENCRYPTION_KEYS (keep the old one after it),
deploy, run this command, then drop the old key.
"""

from typing import Any

from django.core.management.base import BaseCommand
from django_tenants.utils import schema_context

from chat.services.bot_settings import bot_settings_secrets_rotate
from knowledge.services import knowledge_base_secrets_rotate
from sso.services import identity_provider_secrets_rotate
from tenants.models import Tenant


class Command(BaseCommand):
    help = (
        "Re-encrypt tenants' stored secrets (their own LLM and embedding keys, their identity "
        "providers' client secrets) under the current master key."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        rotated = 0
        for schema in Tenant.objects.exclude(status=Tenant.Status.PROVISIONING).values_list(
            "schema_name", flat=True
        ):
            with schema_context(schema):
                rotated += bot_settings_secrets_rotate() + knowledge_base_secrets_rotate()
        rotated += identity_provider_secrets_rotate()
        self.stdout.write(f"Re-encrypted {rotated} secret(s).")
