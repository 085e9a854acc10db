from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Billing"

    def ready(self) -> None:
        from tenants.initializers import workspace_initializer_register
        from tenants.limits import quota_check_install

        from .quotas import quota_require
        from .subscriptions import billing_start

        quota_check_install(quota_require)
        workspace_initializer_register("billing.start", lambda *, tenant, owner: billing_start(tenant))
