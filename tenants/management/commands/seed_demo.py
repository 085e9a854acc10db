"""Create the demo workspace and logins used by `make run`. Safe to run again."""

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.management.base import BaseCommand

from tenants import services
from tenants.models import Tenant, User


class Command(BaseCommand):
    help = "Seed a platform staff user, a demo owner and the 'demo' workspace; fill the schema pool."

    def handle(self, *args, **options):
        staff = self._user(settings.DEMO_STAFF_EMAIL, settings.DEMO_STAFF_PASSWORD, staff=True)
        owner = self._user(settings.DEMO_OWNER_EMAIL, settings.DEMO_OWNER_PASSWORD, staff=False)

        tenant = Tenant.objects.filter(slug="demo").first()
        if tenant is None:
            services.tenant_pool_refill()
            tenant = services.tenant_provision(slug="demo", name="Demo Company", owner=owner)
            self.stdout.write(f"created workspace 'demo' (schema {tenant.schema_name})")
        services.tenant_pool_refill()
        self.stdout.write(f"staff {staff.email}, owner {owner.email}: ready")

    def _user(self, email: str, password: str, *, staff: bool) -> User:
        user = User.objects.filter(email=email).first()
        if user is None:
            if staff:
                user = User.objects.create_superuser(email=email, password=password)
            else:
                user = User.objects.create_user(email=email, password=password)
        # Demo logins are usable at once: their addresses count as confirmed.
        EmailAddress.objects.update_or_create(
            user=user, email=email, defaults={"verified": True, "primary": True}
        )
        return user
