"""Production. Secrets have no default: a missing one stops the process at start-up."""

import os

from django.core.exceptions import ImproperlyConfigured

# Checked before base is imported: without them base would fall back to embedded defaults,
# which cannot serve more than one process (a per-process cache, in-process tasks).
for _required in ("DATABASE_URL", "REDIS_URL"):
    if not os.environ.get(_required):
        raise ImproperlyConfigured(
            f"Set the {_required} environment variable (no embedded default in production)."
        )

from .base import *  # noqa: E402, F403
from .base import env  # noqa: E402

DEBUG = False
SECRET_KEY = env("DJANGO_SECRET_KEY")
SECRET_ENCRYPTION_KEYS = env.list("SECRET_ENCRYPTION_KEYS")  # required: tenants' LLM keys
BASE_DOMAIN = env("BASE_DOMAIN").lower()
PUBLIC_HOSTS = [BASE_DOMAIN, f"www.{BASE_DOMAIN}", *env.list("PUBLIC_HOSTS", default=[])]
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[BASE_DOMAIN, f".{BASE_DOMAIN}"])

# TLS ends at the ingress, which sets X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
# Same-origin posts need no entry here; never trust every tenant subdomain wholesale.
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Real billing needs Stripe; demo billing (every plan free for the asking) only on purpose.
if not env.bool("BILLING_DEMO", default=False):
    STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY")
    STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET")
