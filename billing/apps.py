# Imported as a module: Django picks the one AppConfig class defined in apps.py.
from tenants import contributions as tenancy


class BillingConfig(tenancy.ContributingAppConfig):
    name = "billing"
    verbose_name = "Billing"

    def contributions(self) -> tenancy.Contributions:
        # Models load after the app configs: this runs once the registry is ready.
        from .limits import plan_summary
        from .quotas import quota_require
        from .subscriptions import billing_start

        return tenancy.Contributions(
            quota_check=quota_require,
            plan_summary=plan_summary,
            workspace_initializers={"billing.start": lambda *, tenant, owner: billing_start(tenant)},
        )
