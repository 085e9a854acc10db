"""Request limits of the APIs (429 with Retry-After beyond) and how long an API call's
Idempotency-Key is kept. Star-imported by ``base`` after it has read ``.env``."""

from __future__ import annotations

import environ

env = environ.Env()

# Public widget API: per visitor IP and per widget, per minute (429 with Retry-After beyond).
WIDGET_RATE_LIMITS = {
    "ip_per_minute": env.int("WIDGET_RATE_IP_PER_MINUTE", default=120),
    "widget_per_minute": env.int("WIDGET_RATE_WIDGET_PER_MINUTE", default=6000),
    "sessions_per_ip_per_hour": env.int("WIDGET_RATE_SESSIONS_PER_IP_PER_HOUR", default=30),
    "visitor_per_minute": env.int("WIDGET_RATE_VISITOR_PER_MINUTE", default=60),
}
# Chat: message limits before any LLM call (429 with Retry-After beyond).
CHAT_RATE_LIMITS = {
    "visitor_messages_per_minute": env.int("CHAT_RATE_VISITOR_MESSAGES_PER_MINUTE", default=12),
    "widget_messages_per_minute": env.int("CHAT_RATE_WIDGET_MESSAGES_PER_MINUTE", default=1200),
    "transcripts_per_hour": env.int("CHAT_RATE_TRANSCRIPTS_PER_HOUR", default=3),
    "transcripts_per_recipient_per_day": env.int("CHAT_RATE_TRANSCRIPTS_PER_RECIPIENT_PER_DAY", default=5),
    "ip_messages_per_minute": env.int("CHAT_RATE_IP_MESSAGES_PER_MINUTE", default=30),
    "attachments_per_hour": env.int("CHAT_RATE_ATTACHMENTS_PER_HOUR", default=20),
    "offline_messages_per_hour": env.int("CHAT_RATE_OFFLINE_MESSAGES_PER_HOUR", default=5),
    # A visitor renaming or deleting their conversations (each delete is an audit event).
    "conversation_edits_per_hour": env.int("CHAT_RATE_CONVERSATION_EDITS_PER_HOUR", default=60),
}
# The workspace API (/api/v1/), per API key and per signed-in person, per minute; every
# answer says where the caller stands (RateLimit-Limit, -Remaining, -Reset).
API_RATE_LIMITS = {
    "key_per_minute": env.int("API_RATE_KEY_PER_MINUTE", default=600),
    "session_per_minute": env.int("API_RATE_SESSION_PER_MINUTE", default=1200),
}
# A POST's Idempotency-Key: its first result is answered again to a retry for this long.
API_IDEMPOTENCY_HOURS = env.int("API_IDEMPOTENCY_HOURS", default=24)
