"""The plans: one definition for the pricing page, the dashboard and enforcement.

A quota of ``None`` is unlimited. Prices are whole US dollars; the Stripe price ids come
from settings (``STRIPE_PRICES``: ``{"starter_monthly": "price_...", ...}``), so a plan
without ids for the current Stripe account can be shown but not bought through Stripe
(demo billing switches plans directly).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

# Quotas a plan sets, with the words the dashboard and the errors use.
QUOTAS: dict[str, tuple[str, str]] = {
    "widgets": ("widget", "widgets"),
    "ai_answers": ("AI answer a month", "AI answers a month"),
    "storage_mb": ("MB of knowledge", "MB of knowledge"),
    "pages": ("knowledge page", "knowledge pages"),
    "seats": ("team seat", "team seats"),
    "action_calls": ("AI action call a month", "AI action calls a month"),
}


@dataclass(frozen=True)
class Plan:
    code: str
    name: str
    monthly: int  # USD a month, billed monthly
    yearly: int  # USD a year, billed yearly
    widgets: int | None
    ai_answers: int | None  # a month, platform credits (answers with the tenant's own key are not counted)
    storage_mb: int | None
    pages: int | None  # knowledge documents: files and web pages
    seats: int | None  # members, owners included
    remove_branding: bool = False
    own_llm_key: bool = False
    overage: bool = False  # AI answers past the quota are billed instead of refused
    overage_per_1000: int = 0  # USD per 1,000 AI answers past the quota
    sso: bool = False  # the workspace's own OpenID Connect provider (sso app)
    # The longest the workspace may keep conversations (with their messages), attachments
    # and contacts, in days; None: as long as it likes ("forever"). The workspace chooses
    # within it (retention.services); a downgrade narrows a longer choice to it.
    retention_days: int | None = 30
    # A month: the bot's calls of the workspace's AI actions (test runs not counted); every
    # plan of PLANS sets it (None: unlimited).
    action_calls: int | None = None

    def quota(self, name: str) -> int | None:
        limit: int | None = getattr(self, name)  # a field of QUOTAS
        return limit

    def price_id(self, interval: str) -> str:
        """The Stripe price for ``interval`` ("monthly" or "yearly"), or "" if none is set."""
        prices: dict[str, str] = getattr(settings, "STRIPE_PRICES", {}) or {}
        return prices.get(f"{self.code}_{interval}", "")

    @property
    def is_free(self) -> bool:
        return self.monthly == 0 and self.yearly == 0

    def features(self) -> list[str]:
        """What the plan includes, in words (pricing page, billing page)."""
        lines = [quota_words(name, self.quota(name)) for name in QUOTAS]
        lines.append(retention_words(self.retention_days))
        if self.overage:
            lines.append(f"More AI answers at ${self.overage_per_1000} per 1,000")
        if self.own_llm_key:
            lines.append("Your own OpenAI or Anthropic key")
        lines.append("No “Powered by” branding" if self.remove_branding else "“Powered by” branding")
        if self.sso:
            lines.append("Single sign-on with your identity provider (OpenID Connect)")
        return lines


def quota_words(name: str, value: int | None) -> str:
    one, many = QUOTAS[name]
    return f"Unlimited {many}" if value is None else f"{value:,} {one if value == 1 else many}"


def retention_words(days: int | None) -> str:
    if days is None:
        return "Conversations and contacts kept as long as you choose"
    if days % 365 == 0:
        years = days // 365
        return f"Conversations and contacts kept up to {years} year{'' if years == 1 else 's'}"
    return f"Conversations and contacts kept up to {days:,} days"


PLANS: tuple[Plan, ...] = (
    Plan(
        "free", "Free", 0, 0,
        widgets=1, ai_answers=100, storage_mb=10, pages=50, seats=1, action_calls=100,
    ),
    Plan(
        "starter", "Starter", 29, 290,
        widgets=2, ai_answers=2_000, storage_mb=100, pages=500, seats=3, action_calls=1_000,
        own_llm_key=True,
        retention_days=365,
    ),
    Plan(
        "pro", "Pro", 99, 990,
        widgets=5, ai_answers=10_000, storage_mb=1_000, pages=5_000, seats=10, action_calls=10_000,
        remove_branding=True, own_llm_key=True, sso=True,
        retention_days=3 * 365,
    ),
    Plan(
        "business", "Business", 399, 3_990,
        widgets=20, ai_answers=50_000, storage_mb=10_000, pages=50_000, seats=50, action_calls=100_000,
        remove_branding=True, own_llm_key=True, overage=True, overage_per_1000=8, sso=True,
        retention_days=None,
    ),
)  # fmt: skip
BY_CODE = {plan.code: plan for plan in PLANS}
FREE = BY_CODE["free"]


def plan_get(code: str | None) -> Plan:
    """The plan called ``code``; an unknown code (a plan retired from this list) is Free."""
    return BY_CODE.get(code or "", FREE)


def plan_upgrade_for_feature(feature: str) -> Plan:
    """The cheapest plan with ``feature`` (a boolean of Plan: own_llm_key, remove_branding, sso)."""
    return next(plan for plan in PLANS if getattr(plan, feature))


def plan_upgrade_for(plan: Plan, quota: str, needed: int) -> Plan | None:
    """The cheapest plan above ``plan`` whose ``quota`` allows ``needed``, if any."""
    for candidate in PLANS[PLANS.index(plan) + 1 :] if plan in PLANS else PLANS:
        limit = candidate.quota(quota)
        if limit is None or limit >= needed:
            return candidate
    return None
