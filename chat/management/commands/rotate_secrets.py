"""Re-encrypt every stored tenant secret under the current master key (saas.crypto).

Rotation: put the new key first in SECRET_ENCRYPTION_KEYS (keep the old one after it),
deploy, run this command, then drop the old key.
"""

from django.core.management.base import BaseCommand
from django.db import transaction
from django_tenants.utils import schema_context

from chat.models import BotSettings
from saas.crypto import secret_rotate
from tenants.models import Tenant


class Command(BaseCommand):
    help = "Re-encrypt tenants' stored secrets (their own LLM keys) under the current master key."

    def handle(self, *args, **options):
        rotated = 0
        for schema in Tenant.objects.exclude(status=Tenant.Status.PROVISIONING).values_list(
            "schema_name", flat=True
        ):
            with schema_context(schema), transaction.atomic():
                for bot in BotSettings.objects.select_for_update().exclude(api_key_encrypted=""):
                    bot.api_key_encrypted = secret_rotate(bot.api_key_encrypted)
                    bot.save(update_fields=["api_key_encrypted"])
                    rotated += 1
        self.stdout.write(f"Re-encrypted {rotated} secret(s).")
