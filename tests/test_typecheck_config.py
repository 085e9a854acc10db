"""The strictly type-checked modules (pyproject.toml, ``[[tool.mypy.overrides]]``) only grow.

``make typecheck`` runs mypy; this reads its configuration only. It fails when a services
module or ``saas.errors`` is not checked strictly, when a module of the recorded baseline
leaves the strict set, or when an override weakens a strict module. A module made strict
is added to its override in pyproject.toml and to :data:`BASELINE` here, in the same commit.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ("saas", "tenants", "billing", "widget_builder", "chat", "knowledge", "public_site")

# What "strict" means per module: mypy --strict, as far as mypy takes its flags per module.
STRICT: dict[str, bool] = {
    "disallow_untyped_defs": True,
    "disallow_incomplete_defs": True,
    "disallow_untyped_calls": True,
    "disallow_untyped_decorators": True,
    "disallow_subclassing_any": True,
    "disallow_any_generics": True,
    "check_untyped_defs": True,
    "warn_return_any": True,
    "warn_unused_ignores": True,
    "implicit_reexport": False,
    "strict_equality": True,
    "extra_checks": True,
}
# Options that would switch checks off again for a module of the strict set.
WEAKENING: dict[str, Any] = {"ignore_errors": True, "disable_error_code": None, "follow_imports": "skip"}

# The strict set when this test was written; it may only grow.
BASELINE = frozenset(
    {
        "billing.limits",
        "billing.middleware",
        "billing.models",
        "billing.owner_emails",
        "billing.periods",
        "billing.plans",
        "billing.quotas",
        "billing.selectors",
        "billing.services",
        "billing.stripe_events",
        "billing.stripe_sync",
        "billing.tasks",
        "chat.answering",
        "chat.answering.claims",
        "chat.answering.finish",
        "chat.answering.greeting",
        "chat.answering.outcome",
        "chat.answering.prepare",
        "chat.answering.preview",
        "chat.answering.prompt",
        "chat.answering.stream",
        "chat.attachments",
        "chat.automations",
        "chat.llm",
        "chat.llm.anthropic_provider",
        "chat.llm.base",
        "chat.llm.clients",
        "chat.llm.offline",
        "chat.llm.openai_provider",
        "chat.llm.pricing",
        "chat.llm.registry",
        "chat.llm.resilience",
        "chat.markdown",
        "chat.models",
        "chat.selectors",
        "chat.services",
        "chat.services.attachments",
        "chat.services.automations",
        "chat.services.bot_settings",
        "chat.services.contacts",
        "chat.services.conversations",
        "chat.services.messages",
        "chat.services.model_fields",
        "chat.services.transcripts",
        "chat.tasks",
        "chat.visitor_tokens",
        "chat.widget_api.auth",
        "chat.widget_api.base",
        "chat.widget_api.openapi",
        "chat.widget_api.routes",
        "chat.widget_api.selectors",
        "chat.widget_api.throttles",
        "knowledge.embeddings",
        "knowledge.embeddings.base",
        "knowledge.embeddings.local",
        "knowledge.embeddings.remote",
        "knowledge.extraction",
        "knowledge.extraction.detection",
        "knowledge.extraction.dispatch",
        "knowledge.extraction.hygiene",
        "knowledge.extraction.markdown",
        "knowledge.extraction.outline",
        "knowledge.extraction.types",
        "knowledge.fetching",
        "knowledge.fetching.crawling",
        "knowledge.fetching.decoding",
        "knowledge.fetching.links",
        "knowledge.fetching.page",
        "knowledge.fetching.results",
        "knowledge.fetching.robots",
        "knowledge.fetching.sitemaps",
        "knowledge.models",
        "knowledge.retrieval",
        "knowledge.selectors",
        "knowledge.services",
        "knowledge.tasks",
        "knowledge.views",
        "saas.celery",
        "saas.crypto",
        "saas.errors",
        "saas.health",
        "saas.outbound",
        "saas.outbound.addresses",
        "saas.outbound.backends",
        "saas.outbound.keys",
        "saas.outbound.policy",
        "saas.outbound.sdk",
        "saas.outbound.transports",
        "saas.ratelimit",
        "saas.routes",
        "saas.tenant_cache",
        "saas.tenant_connection",
        "saas.throttles",
        "tenants.api_base",
        "tenants.context",
        "tenants.contributions",
        "tenants.dashboard",
        "tenants.errors",
        "tenants.hosts",
        "tenants.initializers",
        "tenants.limits",
        "tenants.middleware",
        "tenants.models",
        "tenants.requests",
        "tenants.selectors",
        "tenants.services",
        "tenants.services.api_keys",
        "tenants.services.audit",
        "tenants.services.handoffs",
        "tenants.services.lifecycle",
        "tenants.services.pool",
        "tenants.services.provisioning",
        "tenants.services.schemas",
        "tenants.services.status",
        "tenants.services.team",
        "tenants.services.widget_routes",
        "tenants.sessions",
        "tenants.slugs",
        "tenants.tasks",
        "widget_builder.drafts",
        "widget_builder.hours",
        "widget_builder.images",
        "widget_builder.models",
        "widget_builder.origins",
        "widget_builder.selectors",
        "widget_builder.services",
    }
)


def module_names() -> set[str]:
    """Every module of the apps mypy checks (a package by its own name)."""
    names = set()
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts or "__pycache__" in path.parts:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            names.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def pattern_regex(pattern: str) -> re.Pattern[str]:
    """A mypy ``module`` pattern as a regex, as mypy reads it: ``*`` alone is any one or
    more components, and a trailing ``.*`` is the module itself and everything below it."""
    parts = pattern.split(".")
    expr = ".*" if parts[0] == "*" else re.escape(parts[0])
    for part in parts[1:]:
        expr += r"(\..*)?" if part == "*" else re.escape("." + part)
    return re.compile(expr + r"\Z")


def overrides() -> list[dict[str, Any]]:
    with (ROOT / "pyproject.toml").open("rb") as f:
        config = tomllib.load(f)
    found = config["tool"]["mypy"].get("overrides", [])
    for override in found:
        if isinstance(override["module"], str):
            override["module"] = [override["module"]]
    return found


def covered(patterns: list[str], modules: set[str]) -> set[str]:
    regexes = [pattern_regex(p) for p in patterns]
    return {m for m in modules if any(r.match(m) for r in regexes)}


def strict_modules() -> set[str]:
    patterns = [p for o in overrides() if all(o.get(k) == v for k, v in STRICT.items()) for p in o["module"]]
    return covered(patterns, module_names())


@pytest.mark.parametrize(
    ("pattern", "module", "matches"),
    [
        ("*.services", "chat.services", True),
        ("*.services.*", "chat.services.messages", True),
        ("*.services.*", "chat.services", True),
        ("*.selectors", "chat.widget_api.selectors", True),
        ("saas.outbound.*", "saas.outbound", True),
        ("saas.outbound.*", "saas.outbound_extra", False),
        ("saas.errors", "saas.errors_old", False),
        ("*.services", "chat.servicesx", False),
    ],
)
def test_patterns_are_read_as_mypy_reads_them(pattern, module, matches):
    assert bool(pattern_regex(pattern).match(module)) is matches


def test_there_is_a_strict_override():
    assert any(all(o.get(k) == v for k, v in STRICT.items()) for o in overrides()), (
        "pyproject.toml has no [[tool.mypy.overrides]] with every strict flag: " + ", ".join(STRICT)
    )


def test_every_services_module_and_the_error_module_are_strict():
    required = {m for m in module_names() if "services" in m.split(".")} | {"saas.errors"}
    assert required - strict_modules() == set(), "Check these strictly (pyproject.toml, [tool.mypy])"


def test_the_strict_set_only_grows():
    assert BASELINE - module_names() == set(), "A baseline module moved: name it as it is now"
    assert BASELINE - strict_modules() == set(), "These modules left the strict set; it may only grow"


def test_no_override_weakens_a_strict_module():
    strict = strict_modules()
    weakened = []
    for override in overrides():
        hit = covered(override["module"], strict)
        if not hit:
            continue
        loosened = [k for k, v in STRICT.items() if k in override and override[k] != v]
        loosened += [
            k for k, bad in WEAKENING.items() if k in override and (bad is None or override[k] == bad)
        ]
        if loosened:
            weakened.append(f"{override['module']}: {', '.join(loosened)} (on {', '.join(sorted(hit))})")
    assert weakened == []
