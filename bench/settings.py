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
