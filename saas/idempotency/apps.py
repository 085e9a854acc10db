from django.apps import AppConfig


class IdempotencyConfig(AppConfig):
    name = "saas.idempotency"
    label = "idempotency"
    verbose_name = "API idempotency keys"
