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
# Proxies in front of the app (IPs or CIDR networks, e.g. the ingress's): only when the
# direct peer is one of them do rate limits read the client from X-Forwarded-For
# (saas.ratelimit.client_address). Empty: trust none, count by the direct peer.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
# Conversation history sent to the model, bounded by (estimated) tokens.
CHAT_HISTORY_TOKENS = env.int("CHAT_HISTORY_TOKENS", default=1500)
# The visitor fallback stream (server-sent events) ends after this long; the widget reconnects
# with the last id it saw.
CHAT_EVENTS_STREAM_SECONDS = env.float("CHAT_EVENTS_STREAM_SECONDS", default=55.0)
