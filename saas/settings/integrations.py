"""Settings of the services the platform calls: the LLM providers, knowledge ingestion and
the embedding server, secrets at rest, Stripe billing. Star-imported by ``base`` after it
has read ``.env``."""

from __future__ import annotations

import environ

env = environ.Env()

# --- LLM providers ----------------------------------------------------------------------
# The platform's provider for bots on "Platform default": offline (quotes the knowledge
# base, no network) until a key or an OpenAI-compatible server is configured.
LLM_PROVIDER = env("LLM_PROVIDER", default="")  # anthropic | openai | openai_compatible | offline
LLM_MODEL = env("LLM_MODEL", default="")
ANTHROPIC_API_KEY = env("ANTHROPIC_API_KEY", default="")
ANTHROPIC_BASE_URL = env("ANTHROPIC_BASE_URL", default="")
OPENAI_API_KEY = env("OPENAI_API_KEY", default="")
OPENAI_BASE_URL = env("OPENAI_BASE_URL", default="")  # a gateway in front of OpenAI, if any
# LLM_PROVIDER=openai_compatible: the platform's own server (Ollama, vLLM…) and its key.
LLM_BASE_URL = env("LLM_BASE_URL", default="")
LLM_API_KEY = env("LLM_API_KEY", default="")
# Every call: a deadline far below the SDKs' 600 s, bounded retries honouring retry-after
# (never past the deadline), and a circuit breaker per provider endpoint.
LLM_DEADLINE_SECONDS = env.float("LLM_DEADLINE_SECONDS", default=30.0)
LLM_MAX_RETRIES = env.int("LLM_MAX_RETRIES", default=2)
LLM_RETRY_AFTER_MAX_SECONDS = env.float("LLM_RETRY_AFTER_MAX_SECONDS", default=8.0)
LLM_BREAKER_FAILURES = env.int("LLM_BREAKER_FAILURES", default=5)
LLM_BREAKER_RESET_SECONDS = env.float("LLM_BREAKER_RESET_SECONDS", default=30.0)
# Tenants' OpenAI-compatible servers must be on the public internet unless this is set
# (development against a local Ollama; the test suite's fake provider).
LLM_ALLOW_PRIVATE_BASE_URLS = env.bool("LLM_ALLOW_PRIVATE_BASE_URLS", default=False)
# Agent assist (docs/assist.md): an agent's reply is translated in the request, so its
# deadline is short (past it the reply goes as written, marked); clicks per member a minute.
ASSIST_REPLY_DEADLINE_SECONDS = env.float("ASSIST_REPLY_DEADLINE_SECONDS", default=8.0)
ASSIST_RATE_PER_MINUTE = env.int("ASSIST_RATE_PER_MINUTE", default=20)
# --- Knowledge ingestion ----------------------------------------------------------------
# Website sources are fetched only from public addresses. The allow-list ("host:port") is
# for a site on a private network the operator trusts (and the test suite's local site).
KNOWLEDGE_FETCH_ALLOW_PRIVATE = env.bool("KNOWLEDGE_FETCH_ALLOW_PRIVATE", default=False)
KNOWLEDGE_FETCH_PRIVATE_ALLOWLIST = env.list("KNOWLEDGE_FETCH_PRIVATE_ALLOWLIST", default=[])
KNOWLEDGE_CRAWL_DELAY_CAP = env.float("KNOWLEDGE_CRAWL_DELAY_CAP", default=2.0)
# Texts the local embedding model runs at once, one thread each (0: one per CPU).
KNOWLEDGE_EMBEDDING_THREADS = env.int("KNOWLEDGE_EMBEDDING_THREADS", default=0)
# The machine's embedding server (python -m knowledge.embeddings.server), e.g.
# http://127.0.0.1:8765 or unix:///run/embedder/embedder.sock: set, this process sends its
# texts there instead of loading the local model (~185 MiB more) itself. Seconds to wait
# for a query's vector (ten times that for a batch of documents).
EMBEDDING_SERVER_URL = env("EMBEDDING_SERVER_URL", default="")
EMBEDDING_SERVER_TIMEOUT = env.float("EMBEDDING_SERVER_TIMEOUT", default=2.0)

# Master keys for secrets tenants give us (saas.crypto); first encrypts, all decrypt.
SECRET_ENCRYPTION_KEYS = env.list("SECRET_ENCRYPTION_KEYS", default=[])

# Lifetime of the one-time token that carries a signed-in user to a tenant host.
LOGIN_HANDOFF_SECONDS = 60

# Billing. Without STRIPE_SECRET_KEY: demo billing (plan changes apply at once, labelled demo).
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="")  # another Stripe-compatible API (tests)
# Stripe price ids per plan and interval (billing.plans): {"starter_monthly": "price_...", ...}.
STRIPE_PRICES = env.dict("STRIPE_PRICES", default={})
STRIPE_METER_EVENT_NAME = env.str("STRIPE_METER_EVENT_NAME", default="ai_answers_overage")
# Days a workspace keeps working after a failed payment before it is restricted.
BILLING_GRACE_DAYS = env.int("BILLING_GRACE_DAYS", default=7)
# New workspaces start on Free, or on a trial of this plan for BILLING_TRIAL_DAYS.
BILLING_TRIAL_PLAN = env.str("BILLING_TRIAL_PLAN", default="")
BILLING_TRIAL_DAYS = env.int("BILLING_TRIAL_DAYS", default=14)

# Host-only cookies: a session on one tenant host is never sent to another.
SESSION_COOKIE_DOMAIN = None
CSRF_COOKIE_DOMAIN = None
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"


# --- AI actions (docs/actions.md) ----------------------------------------------------------
# Endpoints must be on public addresses (https); the allow-list ("host:port") is for an
# endpoint on a private network the operator trusts (and the test suite's local server).
ACTIONS_ALLOW_PRIVATE = env.bool("ACTIONS_ALLOW_PRIVATE", default=False)
ACTIONS_PRIVATE_ALLOWLIST = env.list("ACTIONS_PRIVATE_ALLOWLIST", default=[])
# Calls of one action by one visitor per minute.
ACTIONS_CALLS_PER_MINUTE = env.int("ACTIONS_CALLS_PER_MINUTE", default=10)
# After this many failed calls in a row (errors, timeouts, unreadable answers) an action is
# paused for ACTIONS_PAUSE_SECONDS: nothing is sent meanwhile.
ACTIONS_PAUSE_AFTER_FAILURES = env.int("ACTIONS_PAUSE_AFTER_FAILURES", default=5)
ACTIONS_PAUSE_SECONDS = env.int("ACTIONS_PAUSE_SECONDS", default=60)
# The most of an answer read, and the most of it given to the model.
ACTIONS_MAX_RESPONSE_BYTES = env.int("ACTIONS_MAX_RESPONSE_BYTES", default=65536)
ACTIONS_RESULT_CHARS = env.int("ACTIONS_RESULT_CHARS", default=4000)
