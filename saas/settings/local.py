"""Development: `make run`. Everything embedded unless the environment says otherwise."""

from saas.observability.logs import formatter_config

from .base import *  # noqa: F403
from .base import BASE_DOMAIN, LOGGING, env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
# Browsers resolve *.localhost to loopback, so demo.localhost:8000 works with no set-up.
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[BASE_DOMAIN, f".{BASE_DOMAIN}", "127.0.0.1"])
PUBLIC_HOSTS = [BASE_DOMAIN, f"www.{BASE_DOMAIN}", "127.0.0.1", *env.list("PUBLIC_HOSTS", default=[])]
# A local Ollama or vLLM is a normal development set-up.
LLM_ALLOW_PRIVATE_BASE_URLS = env.bool("LLM_ALLOW_PRIVATE_BASE_URLS", default=True)
# So is a local Keycloak as a workspace's identity provider (docs/sso.md).
SSO_ALLOW_PRIVATE = env.bool("SSO_ALLOW_PRIVATE", default=True)

# Logs for people at a terminal (LOG_FORMAT=console) unless LOG_FORMAT says otherwise.
LOG_FORMAT = env("LOG_FORMAT", default="console")
LOGGING = {**LOGGING, "formatters": {"plain": formatter_config(LOG_FORMAT)}}
