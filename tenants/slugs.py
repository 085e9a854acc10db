"""Rules for the human part of a tenant's address: ``<slug>.<BASE_DOMAIN>``."""

from __future__ import annotations

import re

from .errors import SlugInvalid

SLUG_MIN_LENGTH = 3
SLUG_MAX_LENGTH = 40
_SLUG_RE = re.compile(r"^[a-z](?:[a-z0-9]|-(?!-))*[a-z0-9]$")

# Hosts we use ourselves, or that people would mistake for ours.
RESERVED_SLUGS = frozenset(
    {
        "www",
        "api",
        "admin",
        "app",
        "static",
        "media",
        "assets",
        "cdn",
        "mail",
        "email",
        "smtp",
        "imap",
        "pop",
        "pop3",
        "ftp",
        "ns",
        "ns1",
        "ns2",
        "dns",
        "mx",
        "webmail",
        "dashboard",
        "docs",
        "help",
        "support",
        "status",
        "blog",
        "billing",
        "pay",
        "payments",
        "login",
        "logout",
        "signup",
        "register",
        "auth",
        "oauth",
        "sso",
        "account",
        "accounts",
        "widget",
        "widgets",
        "embed",
        "ws",
        "wss",
        "websocket",
        "events",
        "hooks",
        "webhooks",
        "internal",
        "staff",
        "root",
        "system",
        "public",
        "dev",
        "staging",
        "stage",
        "test",
        "localhost",
        "security",
        "abuse",
        "postmaster",
        "hostmaster",
        "noreply",
        "no-reply",
    }
)


def slug_normalize(value: str) -> str:
    return (value or "").strip().lower()


def slug_validate(value: str) -> str:
    """Return the normalized slug or raise :class:`SlugInvalid` saying what to change."""
    slug = slug_normalize(value)

    def invalid(message: str) -> SlugInvalid:
        return SlugInvalid(message, errors={"slug": [{"code": "slug_invalid", "message": message}]})

    if len(slug) < SLUG_MIN_LENGTH:
        raise invalid(f"Use at least {SLUG_MIN_LENGTH} characters.")
    if len(slug) > SLUG_MAX_LENGTH:
        raise invalid(f"Use at most {SLUG_MAX_LENGTH} characters.")
    if not _SLUG_RE.match(slug):
        raise invalid(
            "Use lowercase letters, digits and single hyphens; start with a letter and "
            "end with a letter or digit."
        )
    if slug in RESERVED_SLUGS:
        raise invalid("This subdomain is reserved.")
    return slug
