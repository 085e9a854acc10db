"""Settings shared by every environment.

Each integration is switched on by its own environment variable and falls back to an
embedded default when unset (docs/architecture.md, "Embedded defaults"):

=====================  ============================  =====================================
part                   variable                      default when unset
=====================  ============================  =====================================
PostgreSQL + pgvector  DATABASE_URL                  embedded server under .data/postgres
Redis                  REDIS_URL                     locmem cache, in-memory channel layer,
                                                     Celery tasks run in-process
Celery broker          CELERY_BROKER_URL             REDIS_URL
object storage         AWS_STORAGE_BUCKET_NAME (+)   local files under .data/media
email                  EMAIL_URL                     console backend
=====================  ============================  =====================================
"""

from pathlib import Path
from typing import Any

import environ
from csp.constants import NONCE, NONE, SELF
from django.templatetags.static import static
from django.urls import reverse_lazy

from saas.observability.logs import formatter_config, structlog_configure

BASE_DIR = Path(__file__).resolve().parent.parent.parent
DATA_DIR = BASE_DIR / ".data"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env("DJANGO_SECRET_KEY", default="dev-only-insecure-key-change-me-0123456789abcdef")
DEBUG = env.bool("DJANGO_DEBUG", default=False)

# --- hosts and tenancy ------------------------------------------------------------------

# The public host serves the marketing site, signup, platform admin, webhooks, the widget
# API and health checks; every tenant lives on <slug>.<BASE_DOMAIN> or a custom domain.
BASE_DOMAIN = env("BASE_DOMAIN", default="localhost").lower()
PUBLIC_HOSTS = [BASE_DOMAIN, f"www.{BASE_DOMAIN}", *env.list("PUBLIC_HOSTS", default=[])]
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[BASE_DOMAIN, f".{BASE_DOMAIN}"])

TENANT_MODEL = "tenants.Tenant"
TENANT_DOMAIN_MODEL = "tenants.Domain"
PUBLIC_SCHEMA_NAME = "public"
PUBLIC_SCHEMA_URLCONF = "saas.urls_public"
ROOT_URLCONF = "saas.urls_tenant"
# Spare, fully migrated schemas kept ready so signup claims one instead of migrating.
TENANT_POOL_SIZE = env.int("TENANT_POOL_SIZE", default=3)
# Refill the pool in the background after each claim (the beat schedule also tops it up).
TENANT_POOL_AUTO_REFILL = env.bool("TENANT_POOL_AUTO_REFILL", default=True)
# Seconds a host -> tenant resolution stays cached (invalidated on every tenant change).
TENANT_HOST_CACHE_SECONDS = env.int("TENANT_HOST_CACHE_SECONDS", default=300)
# The widget row and its bot's settings, cached per widget until they change (every change
# drops them: widget_builder.snapshots, chat.selectors.bot_snapshot); the lifetime only
# bounds what a change made outside the services (a raw UPDATE) leaves stale.
WIDGET_SNAPSHOT_SECONDS = env.int("WIDGET_SNAPSHOT_SECONDS", default=300)
# Issue `SET search_path` once per connection and schema change, not before every query
# (halves the round trips). Safe with this django-tenants release: rollback, savepoint
# rollback and close forget the cached path (tests/tenants/test_search_path.py proves it).
TENANT_LIMIT_SET_CALLS = True

SHARED_APPS = [
    # The admin's theme, first: its admin templates win over django_tenants' and Django's.
    "unfold.apps.BasicAppConfig",
    "django_tenants",
    "tenants",  # before django_tenants' commands are looked up: our migrate_schemas wins
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "tenants.admin_site.PlatformAdminConfig",  # django.contrib.admin on unfold's site
    "django.contrib.staticfiles",
    "allauth",
    "allauth.account",
    # Google and Microsoft sign-in: installed always, answering only when configured
    # (SOCIALACCOUNT_PROVIDERS from the environment; public_site.adapter).
    "allauth.socialaccount",
    "allauth.socialaccount.providers.google",
    "allauth.socialaccount.providers.microsoft",
    "csp",  # its checks flag settings of django-csp 3, which version 4 ignores
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "ui",  # the design system (templates/cotton/, static/ui/)
    # Logs' context, metrics, tracing and Sentry switches (docs/observability.md); no models.
    "saas.observability.apps.ObservabilityConfig",
    "django_cotton.apps.SimpleAppConfig",  # the design system's components (templates/cotton/)
    "django_htmx",  # request.htmx for the dashboard's partial updates
    "billing",
    "public_site",
    "sso",  # a workspace's own OpenID Connect provider (public schema: found before sign-in)
    "saas.outbox",  # tasks the broker refused, until beat sends them (public schema)
    "django_celery_beat",  # the periodic jobs' schedules, in the database (public schema)
    "scheduler",  # runs of periodic jobs, the staff scheduler page, the worker heartbeat
]
# Kept small: every table here is multiplied by the number of tenants in the catalogue.
TENANT_APPS = [
    "widget_builder",
    "knowledge",
    "chat",
    "insights",
    "exports",
    "quality",
    "reports",
    "saas.idempotency",  # the workspace API's Idempotency-Keys and their first answers
    "webhooks",
    "audit",  # the workspace audit log (append-only)
    "privacy",  # a contact's erasure records (GDPR tools: docs/privacy.md)
    "retention",  # how long the workspace keeps its data, and the nightly purge
    "actions",  # AI actions: the tenant's endpoints the bot calls for a visitor, and their log
    "assist",  # agent assist in the inbox and two-way translation (docs/assist.md)
]
INSTALLED_APPS = ["tenants", *[app for app in SHARED_APPS if app != "tenants"]]
INSTALLED_APPS += [app for app in TENANT_APPS if app not in INSTALLED_APPS]

AUTH_USER_MODEL = "tenants.User"

MIDDLEWARE = [
    "saas.health.HealthCheckMiddleware",  # probes arrive with the pod's IP as Host
    # Request id, latency by route, one log line per request; /metrics for the scraper.
    "saas.observability.middleware.RequestObservabilityMiddleware",
    # A view's unreachable database answers 503 (a middleware's: handler500, same module).
    "saas.database_outage.DatabaseOutageMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Outside routing: its own answers (404, suspended) get the header too.
    "tenants.middleware.ContentSecurityPolicyMiddleware",
    # Before routing: routing refuses a session opened for another tenant (tenants.sessions).
    "django.contrib.sessions.middleware.SessionMiddleware",
    "tenants.middleware.TenantRoutingMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "billing.middleware.RestrictedWorkspaceMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "OPTIONS": {
            # django-cotton compiles <c-component> tags (templates/cotton/) before Django
            # reads the template; the cached loader keeps the compiled result per process.
            "loaders": [
                (
                    "django.template.loaders.cached.Loader",
                    [
                        "django_cotton.cotton_loader.Loader",
                        "django.template.loaders.filesystem.Loader",
                        "django.template.loaders.app_directories.Loader",
                    ],
                )
            ],
            "builtins": ["django_cotton.templatetags.cotton"],
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "saas.wsgi.application"
ASGI_APPLICATION = "saas.asgi.application"
# Graceful shutdown of a web process (saas.shutdown, docs/deployment.md): after SIGTERM it
# keeps accepting for SHUTDOWN_UNREADY_SECONDS with /readyz at 503 (for a balancer that
# polls it; under Kubernetes the preStop sleep does this), then stops accepting; answers
# being written get SHUTDOWN_GRACE_SECONDS to finish, then are handed to a worker.
# scripts/web gives uvicorn a few seconds more than the grace period; the pod's
# terminationGracePeriodSeconds must exceed the sum (the Helm chart's values).
SHUTDOWN_GRACE_SECONDS = env.float("SHUTDOWN_GRACE_SECONDS", default=25.0)
SHUTDOWN_UNREADY_SECONDS = env.float("SHUTDOWN_UNREADY_SECONDS", default=0.0)

# --- database ---------------------------------------------------------------------------

if env("DATABASE_URL", default=""):
    _database_url = env("DATABASE_URL")
else:
    from saas.embedded_postgres import ensure_running

    _database_url = ensure_running()

DATABASES = {"default": env.db_url_config(_database_url)}
DATABASES["default"].update(
    {
        "ENGINE": "saas.postgresql_backend",  # django-tenants' own, failing fast in an outage
        # Persistent connections leak under ASGI (Django ticket #33497): open per request.
        "CONN_MAX_AGE": 0,
        "CONN_HEALTH_CHECKS": False,
    }
)
DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
# Django's psycopg connection pool (per process): a request borrows a connection instead
# of opening one (~half of a small request's time). On by default under the ASGI server
# (saas.asgi says so before the settings load); elsewhere (tests, management commands,
# Celery) off unless sized. 0 turns it off. See docs/deployment.md.
DATABASE_POOL_MAX_SIZE = env.int(
    "DATABASE_POOL_MAX_SIZE", default=20 if env.bool("SAAS_ASGI_SERVER", default=False) else 0
)
if DATABASE_POOL_MAX_SIZE:
    DATABASES["default"]["OPTIONS"]["pool"] = {
        "min_size": min(4, DATABASE_POOL_MAX_SIZE),
        "max_size": DATABASE_POOL_MAX_SIZE,
        "timeout": env.float("DATABASE_POOL_TIMEOUT", default=10.0),
    }
DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache, channel layer, Celery ------------------------------------------------

REDIS_URL = env("REDIS_URL", default="")

if REDIS_URL:
    # Serves from a per-process store while Redis is down (docs/deployment.md).
    CACHES = {
        "default": {
            "BACKEND": "saas.cache_backends.ResilientRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_FUNCTION": "django_tenants.cache.make_key",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        },
        # Rate-limit counters: one keyspace for the whole platform, whichever tenant's
        # schema is active, so a client's per-address budget is not one per workspace.
        "ratelimit": {
            "BACKEND": "saas.cache_backends.ResilientRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "ratelimit",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        },
    }
    # A socket waits on Redis in 5 s blocking reads (channels-redis' BZPOPMIN); redis-py 8
    # gives connections a 5 s socket timeout by default, which would end idle sockets, and
    # async pools of 100 connections that refuse the 101st at once (sockets opening or
    # closing together would lose their group_add / group_discard). `make bench
    # BENCH_ARGS=realtime` measures both.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [
                    {
                        "address": REDIS_URL,
                        "socket_timeout": 30,
                        "socket_connect_timeout": 2,
                        "max_connections": env.int("CHANNEL_LAYER_MAX_CONNECTIONS", default=2000),
                    }
                ],
                "capacity": 500,
                "expiry": 30,
            },
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "KEY_FUNCTION": "django_tenants.cache.make_key",
        },
        "ratelimit": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "ratelimit"},
    }
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

from .limits import *  # noqa: E402, F403 - the APIs' request limits
from .tasks import *  # noqa: E402, F403 - Celery's settings, in their own module

# --- storage ----------------------------------------------------------------------------

MEDIA_ROOT = env("MEDIA_ROOT", default=str(DATA_DIR / "media"))
MEDIA_URL = "/media/"
STATIC_ROOT = BASE_DIR / ".data" / "staticfiles"
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Serve from the app and project static folders directly when DEBUG (no collectstatic needed).
WHITENOISE_USE_FINDERS = True

AWS_STORAGE_BUCKET_NAME = env("AWS_STORAGE_BUCKET_NAME", default="")
if AWS_STORAGE_BUCKET_NAME:
    _default_storage = {
        "BACKEND": "saas.storage.TenantS3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": env("AWS_S3_ENDPOINT_URL", default="") or None,  # empty: AWS itself
            "region_name": env("AWS_S3_REGION_NAME", default="") or None,
            "access_key": env("AWS_ACCESS_KEY_ID", default=None),
            "secret_key": env("AWS_SECRET_ACCESS_KEY", default=None),
            "default_acl": None,
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
else:
    _default_storage = {
        "BACKEND": "saas.storage.TenantFileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT},
    }
STORAGES: dict[str, dict[str, Any]] = {
    "default": _default_storage,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- email ------------------------------------------------------------------------------

if env("EMAIL_URL", default=""):
    vars().update(env.email_url("EMAIL_URL"))
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default=f"no-reply@{BASE_DOMAIN}")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- auth and the services called (own modules) ------------------------------------

from .auth import *  # noqa: E402, F403 - sign-in, allauth, sessions
from .integrations import *  # noqa: E402, F403 - LLM providers, knowledge, Stripe

# --- API --------------------------------------------------------------------------------

REST_FRAMEWORK = {
    "EXCEPTION_HANDLER": "saas.database_outage.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "saas.openapi.ProblemAutoSchema",  # the problem answers of every endpoint
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # JSON with the view's body size limit and nesting bounded (saas.request_body).
    "DEFAULT_PARSER_CLASSES": [
        "saas.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Chatbot platform API",
    "VERSION": "1.0.0",
    "DESCRIPTION": "Workspace API, served on each workspace's host. Authenticate with a session or "
    "`Authorization: Bearer sk_...`. Errors are RFC 9457 problem details with a stable `code`.",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    # A PATCH takes what its serializer requires (no partial updates): no "Patched" copies
    # with every field optional.
    "COMPONENT_SPLIT_PATCH": False,
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SWAGGER_UI_DIST": "SIDECAR",  # served from our static files: nothing fetched from a CDN
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Choice sets of one field name in several resources, each given its own name.
    "ENUM_NAME_OVERRIDES": {
        "KnowledgeLanguageEnum": "knowledge.models.KnowledgeBase.Language",
        "BotLanguageEnum": "chat.models.BotSettings.Language",
        "EmbeddingProviderEnum": "knowledge.models.KnowledgeBase.EmbeddingProvider",
        "BotProviderEnum": "chat.models.BotSettings.Provider",
        "SourceKindEnum": "knowledge.models.Source.Kind",
        "SourceJsonKindEnum": "knowledge.apis_sources.JSON_KINDS",
        "AutomationKindEnum": "chat.models.AutomationRule.Kind",
        "ConversationStatusEnum": "chat.models.Conversation.Status",
        "WebhookDeliveryStatusEnum": "webhooks.models.Delivery.Status",
        "ActionCallOutputStatusEnum": "actions.models.ActionCall.Status",  # actions' and MCP tools' calls
    },
}

# --- i18n, misc -------------------------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"

# Content-Security-Policy (django-csp 4) on every page: the dashboard, the public site, the
# admin. Scripts come only from our origin (static files) or carry the request's nonce
# (request.csp_nonce); no inline script or event handler runs. On a workspace's host,
# tenants.middleware.ContentSecurityPolicyMiddleware adds the public host's origin to
# script-src (the widget loader and chat UI the builder's preview runs) and connect-src
# (the widget API they call). Images: ours and data: URIs (widget avatars and launcher
# images are stored as data: URIs). Nothing may frame our pages.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "connect-src": [SELF],
        "img-src": [SELF, "data:"],
        # Styles only from our stylesheets: no style="" and no <style> in any template
        # (tests/test_templates.py). The pages that run the real widget (the builder's
        # preview, the widget test page: its Shadow DOM brings its own <style>) and the
        # platform admin (django-unfold) add 'unsafe-inline' for styles on their own
        # responses (saas.csp.INLINE_STYLES). Scripts never get it.
        "style-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
    },
}


# Staff read-only support access to a workspace's dashboard (tenants.services.support):
# how long one lasts unless ended earlier, and the longest a staff member may ask for.
SUPPORT_ACCESS_MINUTES = env.int("SUPPORT_ACCESS_MINUTES", default=60)
SUPPORT_ACCESS_MAX_MINUTES = env.int("SUPPORT_ACCESS_MAX_MINUTES", default=240)


# The platform admin's theme (django-unfold; tenants.admin_site says why its pages alone
# allow 'unsafe-eval'). The primary scale is the product's accent (static/ui/app.css).
def _admin_link(title: str, icon: str, app: str, model: str) -> dict[str, object]:
    """A sidebar link of the admin, shown to staff who may view the model."""
    return {
        "title": title,
        "icon": icon,
        "link": reverse_lazy(f"admin:{app}_{model}_changelist"),
        "permission": lambda request: (
            request.user.has_perm(f"{app}.view_{model}") or request.user.has_perm(f"{app}.change_{model}")
        ),
    }


UNFOLD = {
    "SITE_TITLE": "Platform admin",
    "SITE_HEADER": "Platform administration",
    "SITE_SUBHEADER": "Staff only",
    "SITE_SYMBOL": "support_agent",
    "SHOW_HISTORY": True,
    "SHOW_VIEW_ON_SITE": False,
    "BORDER_RADIUS": "6px",
    "STYLES": [lambda request: static("tenants/admin.css")],
    "COLORS": {
        "primary": {
            "50": "oklch(97% .014 254.604)",
            "100": "oklch(93.2% .032 255.585)",
            "200": "oklch(88.2% .059 254.128)",
            "300": "oklch(80.9% .105 251.813)",
            "400": "oklch(70.7% .165 254.624)",
            "500": "oklch(62.3% .214 259.815)",
            "600": "oklch(54.6% .245 262.881)",
            "700": "oklch(48.8% .243 264.376)",
            "800": "oklch(42.4% .199 265.638)",
            "900": "oklch(37.9% .146 265.522)",
            "950": "oklch(28.2% .091 267.935)",
        },
    },
    "SIDEBAR": {
        "show_search": True,
        "show_all_applications": True,
        "navigation": [
            {
                "title": "Workspaces",
                "items": [
                    _admin_link("Tenants", "apartment", "tenants", "tenant"),
                    _admin_link("Domains", "dns", "tenants", "domain"),
                    _admin_link("Spare schemas", "inventory_2", "tenants", "spareschema"),
                    _admin_link("Platform daily usage", "monitoring", "tenants", "platformdailyusage"),
                ],
            },
            {
                "title": "Scheduler",
                "items": [
                    _admin_link("Periodic jobs", "schedule", "scheduler", "periodicjob"),
                    _admin_link("Job runs", "manage_history", "scheduler", "taskrun"),
                ],
            },
            {
                "title": "People",
                "items": [
                    _admin_link("Users", "person", "tenants", "user"),
                    _admin_link("Groups", "group", "auth", "group"),
                    _admin_link("Email addresses", "mail", "account", "emailaddress"),
                ],
            },
            {
                "title": "Billing",
                "items": [
                    _admin_link("Billing accounts", "payments", "billing", "billingaccount"),
                    _admin_link("Quota grants", "add_chart", "billing", "quotagrant"),
                    _admin_link("Stripe events", "bolt", "billing", "stripeevent"),
                ],
            },
            {
                "title": "Audit",
                "items": [
                    _admin_link("Platform audit log", "history", "tenants", "platformauditevent"),
                    _admin_link("Support accesses", "support_agent", "tenants", "supportaccess"),
                    _admin_link("Billing audit log", "receipt_long", "billing", "billingauditevent"),
                ],
            },
        ],
    },
}

# Structured logs (saas.observability.logs, docs/observability.md): one JSON object per
# line in production; `local` prints them for people, `test` keeps the plain text line.
LOG_FORMAT = env("LOG_FORMAT", default="json")
structlog_configure()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": formatter_config(LOG_FORMAT)},
    "filters": {
        "expected_errors": {"()": "saas.errors.ExpectedErrorLogFilter"},
        # An unreachable database: one line per state change, not a traceback per failure.
        "database_outage": {"()": "saas.database_outage.OutageLogFilter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["database_outage"]}
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Django's own handlers go (its DEBUG console printed every line a second time):
        # everything reaches the root handler once.
        "django": {"handlers": [], "level": "INFO"},
        # Expected 4xx answers: one warning line, no traceback; 500s keep theirs.
        "django.request": {"filters": ["expected_errors"]},
        "django.db.backends": {"level": "WARNING"},
    },
}

# Prometheus (saas.observability.endpoint): /metrics answers a bearer token or a direct
# connection from these networks, nobody else. Queue depth is read for these queues.
METRICS_TOKEN = env("METRICS_TOKEN", default="")
METRICS_ALLOWED_NETWORKS = env.list("METRICS_ALLOWED_NETWORKS", default=[])
# Unset: the default queue and the queues CELERY_TASK_ROUTES names.
METRICS_CELERY_QUEUES = env.list("METRICS_CELERY_QUEUES", default=[])

# Demo data created by `manage.py seed_demo` (make run).
DEMO_STAFF_EMAIL = env("DEMO_STAFF_EMAIL", default="staff@example.com")
DEMO_STAFF_PASSWORD = env("DEMO_STAFF_PASSWORD", default="staff-demo-password")
DEMO_OWNER_EMAIL = env("DEMO_OWNER_EMAIL", default="owner@example.com")
DEMO_OWNER_PASSWORD = env("DEMO_OWNER_PASSWORD", default="owner-demo-password")
