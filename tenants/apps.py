from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_out


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Tenants"

    def ready(self) -> None:
        # Services load after the app registry is ready (they import models).
        from .services.handoffs import sessions_end_on_sign_out

        # Signing out happens inside Django, allauth and the admin: the signal is the one
        # place every path passes.
        user_logged_out.connect(sessions_end_on_sign_out, dispatch_uid="tenants-sessions-end-linked")
