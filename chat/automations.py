"""Automations: canned answers tried before the LLM (``chat.models.AutomationRule``).

Order: the offline auto-reply outside business hours first (nobody is there, whatever was
asked), then keyword and regex rules in the tenant's order. Regexes are the tenant's own;
they are validated when saved, and matched against a bounded text with a bounded pattern
and matched with RE2 (``google-re2``), whose time is linear in the text whatever the
pattern: a tenant's ``((a+))+$`` cannot freeze the process that serves every tenant
(Python's ``re`` backtracks and holds the GIL while it does).
"""

from __future__ import annotations

import functools
import re
from typing import Any

import re2

from widget_builder.hours import is_open
from widget_builder.models import Widget

from .models import AutomationRule

MAX_PATTERN = 300
MAX_MATCHED_TEXT = 2000


def pattern_error(kind: str, pattern: str) -> str | None:
    """Why a rule's pattern cannot be saved, or None."""
    if kind == AutomationRule.Kind.KEYWORD and not keywords(pattern):
        return "List at least one keyword, separated by commas."
    if kind == AutomationRule.Kind.REGEX:
        if not pattern or len(pattern) > MAX_PATTERN:
            return f"Write a regular expression of at most {MAX_PATTERN} characters."
        try:
            _compiled(pattern)
        except re2.error:
            return (
                "This is not a valid regular expression here (RE2 syntax: no backreferences or lookarounds)."
            )
    return None


@functools.lru_cache(maxsize=2048)
def _compiled(pattern: str) -> Any:  # an re2 pattern (google-re2 ships no types)
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False
    options.max_mem = 4 << 20
    return re2.compile(pattern, options)


def keywords(pattern: str) -> list[str]:
    return [k.strip().lower() for k in pattern.split(",") if k.strip()]


def rule_matches(rule: AutomationRule, text: str, *, widget: Widget) -> bool:
    text = text[:MAX_MATCHED_TEXT]
    if rule.kind == AutomationRule.Kind.OFFLINE:
        hours = widget.published_config.get("business_hours") or widget.business_hours or {}
        return bool(hours) and not is_open(hours)
    if rule.kind == AutomationRule.Kind.KEYWORD:
        lowered = text.lower()
        return any(re.search(rf"(?<!\w){re.escape(k)}(?!\w)", lowered) for k in keywords(rule.pattern))
    if rule.kind == AutomationRule.Kind.REGEX:
        try:
            return _compiled(rule.pattern).search(text) is not None
        except re2.error:
            return False
    return False


def rules_in_order(rules: list[AutomationRule]) -> list[AutomationRule]:
    """Offline first, then keyword and regex rules by position; greetings are not answers."""
    offline = [r for r in rules if r.kind == AutomationRule.Kind.OFFLINE]
    answers = [r for r in rules if r.kind in (AutomationRule.Kind.KEYWORD, AutomationRule.Kind.REGEX)]
    return offline + answers
