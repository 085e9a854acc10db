from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Billing"

    def ready(self) -> None:
        from tenants.limits import quota_check_install

        from .quotas import quota_require

        quota_check_install(quota_require)
