"""Settings for `make bench`: production-like (DEBUG off, no query log), own database."""

from saas.settings.base import *  # noqa: F403

BASE_DOMAIN = "bench.test"
PUBLIC_HOSTS = [BASE_DOMAIN]
ALLOWED_HOSTS = [BASE_DOMAIN, f".{BASE_DOMAIN}"]
DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# The benchmark refills the pool itself, outside the timed sections.
TENANT_POOL_AUTO_REFILL = False
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
WHITENOISE_AUTOREFRESH = True  # no collectstatic for the benchmark
PUBLIC_SCHEMA_URLCONF = "bench.urls"  # the real public URLs plus the baselines
# Load comes from one address: measure the platform, not its abuse limits.
WIDGET_RATE_LIMITS = {k: 10**9 for k in WIDGET_RATE_LIMITS}  # noqa: F405
CHAT_RATE_LIMITS = {k: 10**9 for k in CHAT_RATE_LIMITS}  # noqa: F405
ROOT_URLCONF = "bench.urls_tenant"  # the real tenant URLs plus the API baseline
