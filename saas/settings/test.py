"""pytest. Same code paths as production; REDIS_URL switches on the real Redis paths (CI)."""

from saas.observability.logs import formatter_config

from .base import *  # noqa: F403
from .base import DATA_DIR, LOGGING, STORAGES, env

BASE_DOMAIN = "saas.test"
PUBLIC_HOSTS = [BASE_DOMAIN, f"www.{BASE_DOMAIN}"]
ALLOWED_HOSTS = [BASE_DOMAIN, f".{BASE_DOMAIN}"]
DEBUG = False
# Fast hashing: the suite creates users, it does not test PBKDF2.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
TENANT_POOL_SIZE = 2
# Tests refill the pool explicitly; a background refill would race them.
TENANT_POOL_AUTO_REFILL = False
MEDIA_ROOT = str(DATA_DIR / "test-media")
if STORAGES["default"]["BACKEND"] == "saas.storage.TenantFileSystemStorage":
    STORAGES["default"]["OPTIONS"]["location"] = MEDIA_ROOT
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
WHITENOISE_AUTOREFRESH = True  # no collectstatic before tests
# The fake LLM provider and test sites listen on loopback.
LLM_ALLOW_PRIVATE_BASE_URLS = True
LLM_DEADLINE_SECONDS = 5.0
LLM_RETRY_AFTER_MAX_SECONDS = 1.0
# Tests run the local embedding model in-process unless a test points this at a server.
EMBEDDING_SERVER_URL = ""

# Logs as the plain text line the tests read, unless LOG_FORMAT says otherwise.
LOG_FORMAT = env("LOG_FORMAT", default="plain")
LOGGING = {**LOGGING, "formatters": {"plain": formatter_config(LOG_FORMAT)}}
