"""Sign-in settings: password rules, the authentication backends, django-allauth on the
public host, the rate limits of its forms, the proxies trusted for the client's address and
the session cookies. Star-imported by ``base`` after it has read ``.env``."""

from __future__ import annotations

import environ

env = environ.Env()
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
# Tenant hosts have no login form of their own: "login" there sends people to the public
# host's sign-in, which hands them back with a one-time token (tenants.views).
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"

# django-allauth, public host only: email + password, verified email before first sign-in.
ACCOUNT_ADAPTER = "public_site.adapter.AccountAdapter"
ACCOUNT_FORMS = {"signup": "public_site.forms.WorkspaceSignupForm"}
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
# Password reset and login do not reveal which addresses have accounts. The signup form
# alone says "already registered" (public_site.forms), as a business signup must.
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_SIGNUP_FORM_HONEYPOT_FIELD = "website"
ACCOUNT_EMAIL_SUBJECT_PREFIX = ""
ACCOUNT_DEFAULT_HTTP_PROTOCOL = env("ACCOUNT_DEFAULT_HTTP_PROTOCOL", default="http")
# Counted in the cache: per process without Redis, shared across processes with it.
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "10/h/ip",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    "confirm_email": "1/3m/key",
}

# Google and Microsoft sign-in for anyone (django-allauth's socialaccount), each on only when
# its client id and secret are set: no button and no working route otherwise
# (public_site.adapter.SocialAccountAdapter answers 404 for a provider without them).
SOCIALACCOUNT_ADAPTER = "public_site.adapter.SocialAccountAdapter"
SOCIALACCOUNT_FORMS = {"signup": "public_site.forms.WorkspaceSocialSignupForm"}
# A new account always passes through the signup form: it names the new workspace.
SOCIALACCOUNT_AUTO_SIGNUP = False
# An existing account is signed in (and connected) only when the provider asserts that the
# address is verified (Google's email_verified; Microsoft asserts none, so never).
SOCIALACCOUNT_EMAIL_AUTHENTICATION = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = True
SOCIALACCOUNT_STORE_TOKENS = False
SOCIALACCOUNT_LOGIN_ON_GET = False  # the buttons post (CSRF), a link alone starts nothing
SOCIALACCOUNT_REQUESTS_TIMEOUT = 10


def _social_providers() -> dict[str, dict[str, object]]:
    providers: dict[str, dict[str, object]] = {}
    google = (env("GOOGLE_OAUTH_CLIENT_ID", default=""), env("GOOGLE_OAUTH_CLIENT_SECRET", default=""))
    if all(google):
        providers["google"] = {
            "APP": {"client_id": google[0], "secret": google[1]},
            "SCOPE": ["openid", "email", "profile"],
            "AUTH_PARAMS": {"prompt": "select_account"},
            "OAUTH_PKCE_ENABLED": True,
        }
    microsoft = (
        env("MICROSOFT_OAUTH_CLIENT_ID", default=""),
        env("MICROSOFT_OAUTH_CLIENT_SECRET", default=""),
    )
    if all(microsoft):
        providers["microsoft"] = {
            "APP": {
                "client_id": microsoft[0],
                "secret": microsoft[1],
                # "organizations" (work and school accounts), "common", or one directory's id
                "settings": {"tenant": env("MICROSOFT_OAUTH_TENANT", default="common")},
            },
            "SCOPE": ["User.Read"],
            "OAUTH_PKCE_ENABLED": True,
        }
    return providers


SOCIALACCOUNT_PROVIDERS = _social_providers()

# A workspace's own OpenID Connect provider (sso app, docs/sso.md): the calls to the
# provider go through saas.outbound; private addresses are refused unless allowed here
# (development: SSO_ALLOW_PRIVATE, tests: an allow-list of "host:port").
SSO_ALLOW_PRIVATE = env.bool("SSO_ALLOW_PRIVATE", default=False)
SSO_PRIVATE_ALLOWLIST = env.list("SSO_PRIVATE_ALLOWLIST", default=[])
SSO_TIMEOUT_SECONDS = env.float("SSO_TIMEOUT_SECONDS", default=10.0)
# How long a sign-in may spend at the provider (state, nonce and PKCE verifier kept that long).
SSO_FLOW_SECONDS = env.int("SSO_FLOW_SECONDS", default=600)

# Proxies in front of the app (IPs or CIDR networks, e.g. the ingress's): only when the
# direct peer is one of them do rate limits read the client from X-Forwarded-For
# (saas.ratelimit.client_address). Empty: trust none, count by the direct peer.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
# Conversation history sent to the model, bounded by (estimated) tokens.
CHAT_HISTORY_TOKENS = env.int("CHAT_HISTORY_TOKENS", default=1500)
# The visitor fallback stream (server-sent events) ends after this long; the widget reconnects
# with the last id it saw.
CHAT_EVENTS_STREAM_SECONDS = env.float("CHAT_EVENTS_STREAM_SECONDS", default=55.0)
# The cache claim of an answer being written (one writer per visitor message) outlives the
# provider's deadline by this margin, for storing the answer; a process that died holding it
# blocks its message this long at most (chat.answering.prepare).
CHAT_ANSWER_CLAIM_MARGIN_SECONDS = env.int("CHAT_ANSWER_CLAIM_MARGIN_SECONDS", default=30)
# A visitor message the bot has left unanswered this long (its claim expired), with nothing
# answering it, is answered by a worker (the every-minute sweep, chat.answering.owed_settle):
# the answer a web process killed mid-stream took with it. Above the deadline plus margin.
CHAT_UNANSWERED_AFTER_SECONDS = env.int("CHAT_UNANSWERED_AFTER_SECONDS", default=120)
