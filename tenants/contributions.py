"""The one place where apps above tenancy contribute to it.

The tenancy layer shows per-tenant counts to platform staff, runs a new workspace's
initializers, computes the dashboard's onboarding checklist and asks for plan limits;
billing shows each quota's use. What to count, initialize, check and measure belongs to the
apps above (widgets, knowledge, chat, billing), and they must not be imported from here
(apps import tenants, never the reverse). So each app's ``AppConfig`` derives from
:class:`ContributingAppConfig` and declares its :class:`Contributions`; :func:`contributions`
merges every installed app's declaration once, in ``INSTALLED_APPS`` order, and the
consumers read that:

* ``counted_models``          -> ``tenants.selectors.tenant_usage_counts``
* ``usage_measures``          -> ``billing.selectors.quota_uses``
* ``onboarding_steps``        -> ``tenants.dashboard.onboarding_checklist``
* ``workspace_initializers``  -> ``tenants.initializers.workspace_initialize``
* ``quota_check``             -> ``tenants.limits.quota_require``
* ``nav_badges``              -> ``tenants.shell.Shell.nav`` (a count beside a section)
* ``daily_counts``            -> ``tenants.services.platform_usage`` (the platform's figures)
* ``stored_file_names``       -> ``tenants.services.storage_reconcile`` (files rows name
                                 outside a ``FileField``)
* ``answer_tools``            -> ``chat.answering`` (the tools the bot may call while it
                                 answers: the AI actions, the visitor's files; several
                                 apps' providers merge into one :class:`AnswerToolsMerged`)

This module imports no model and no app, so an ``apps.py`` can import it at load time.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from types import MappingProxyType
from typing import Any, Protocol

from django.apps import AppConfig, apps
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Model


class WorkspaceInitializer(Protocol):
    """Runs in the new tenant's schema, inside the transaction that creates the tenant;
    must be idempotent (a retried provisioning runs it again)."""

    def __call__(self, *, tenant: Any, owner: Any) -> object: ...


class QuotaCheck(Protocol):
    """Raises ``QuotaExceeded`` when ``used() + adding`` passes the tenant's ``quota``."""

    def __call__(self, tenant: Any, quota: str, *, used: Callable[[], int], adding: int) -> None: ...


@dataclass(frozen=True)
class PlanSummary:
    """The tenant's plan as the dashboard's sidebar shows it."""

    name: str
    upgradable: bool  # a bigger plan exists


class PlanSummaryRead(Protocol):
    def __call__(self, tenant: Any) -> PlanSummary: ...


class NavBadgeRead(Protocol):
    """The count shown beside a section for this member (0: none); runs in the tenant's
    schema on every full dashboard page, so one query at most."""

    def __call__(self, *, user_id: int, role: str) -> int: ...


class DailyCounts(Protocol):
    """Rows of the tenant's schema per UTC day in ``[start, end)`` (days without any may be
    left out); runs in the tenant's schema, one query."""

    def __call__(self, *, start: datetime, end: datetime) -> Mapping[date, int]: ...


class AnswerTools(Protocol):
    """The tools the bot may call while it answers a visitor (each app its own). Both
    run in the tenant's schema. ``offered`` gives the provider-neutral tool definitions
    (``chat.llm.base.Tool``); ``call`` runs one call the model asked for and gives the text
    the model reads back (never raising for a refused or failed call: the text says so)."""

    def offered(self, *, conversation_id: int, widget_id: int) -> list[Any]: ...

    def call(
        self,
        *,
        conversation_id: int,
        widget_id: int,
        name: str,
        arguments: dict[str, Any],
        arguments_error: str,
    ) -> tuple[str, bool] | ToolCard:
        """(the result for the model, whether it is an error), or a card: the visitor
        confirms first, nothing ran (the answer ends with the card)."""
        ...

    def offline_form(self, *, conversation_id: int, text: str) -> ToolCard | None:
        """Without an LLM: the form of an action whose trigger phrase ``text`` matches, or None."""
        ...


@dataclass(frozen=True)
class ToolCard:
    """What the widget shows under the bot's message instead of a call made now: ``text``
    the bot's words, ``card`` the card (chat.Message.card: its ``kind``, ``id``, ``title``
    and what it shows)."""

    text: str
    card: dict[str, Any]


class AnswerToolsMerged:
    """Several apps' answer tools as one provider: the tools of each, in ``INSTALLED_APPS``
    order (a name already offered by an earlier app is left out: providers refuse two tools
    of one name), and a call run by the first provider that offers a tool of that name (a
    name nobody offers is refused like an unknown tool)."""

    def __init__(self, providers: Iterable[AnswerTools]) -> None:
        self.providers = tuple(providers)

    def offered(self, *, conversation_id: int, widget_id: int) -> list[Any]:
        tools: dict[str, Any] = {}
        for provider in self.providers:
            for tool in provider.offered(conversation_id=conversation_id, widget_id=widget_id):
                tools.setdefault(tool.name, tool)
        return list(tools.values())

    def call(
        self,
        *,
        conversation_id: int,
        widget_id: int,
        name: str,
        arguments: dict[str, Any],
        arguments_error: str,
    ) -> tuple[str, bool] | ToolCard:
        for provider in self.providers:
            offered = provider.offered(conversation_id=conversation_id, widget_id=widget_id)
            if any(tool.name == name for tool in offered):
                return provider.call(
                    conversation_id=conversation_id,
                    widget_id=widget_id,
                    name=name,
                    arguments=arguments,
                    arguments_error=arguments_error,
                )
        return f"There is no tool named {name!r}; use only the tools offered.", True

    def offline_form(self, *, conversation_id: int, text: str) -> ToolCard | None:
        for provider in self.providers:
            form = provider.offline_form(conversation_id=conversation_id, text=text)
            if form is not None:
                return form
        return None


@dataclass(frozen=True)
class OnboardingStep:
    key: str
    label: str
    order: int
    is_done: Callable[[], bool]  # runs in the tenant's schema
    hint: str
    url: Callable[[], str] = lambda: "/dashboard/"  # where the step is done (tenant's schema)


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class Contributions:
    """What one app adds to the tenancy layer (or, merged, what all of them add).

    ``counted_models``: label -> tenant-schema model whose rows platform staff see counted
    per tenant. ``usage_measures``: quota name -> function counting its use in the
    tenant's schema. ``onboarding_steps``: steps of the dashboard's checklist.
    ``workspace_initializers``: name -> what every new workspace starts with.
    ``quota_check``: the plan-limit check (one app, billing, provides it).
    ``plan_summary``: the tenant's plan for the dashboard's sidebar (billing provides it).
    """

    counted_models: Mapping[str, type[Model]] = field(default_factory=dict)
    usage_measures: Mapping[str, Callable[[], int]] = field(default_factory=dict)
    onboarding_steps: tuple[OnboardingStep, ...] = ()
    workspace_initializers: Mapping[str, WorkspaceInitializer] = field(default_factory=dict)
    quota_check: QuotaCheck | None = None
    plan_summary: PlanSummaryRead | None = None
    nav_badges: Mapping[str, NavBadgeRead] = field(default_factory=dict)  # section key -> count
    # Figure name ("messages", "ai_answers") -> its count per day in a tenant's schema.
    daily_counts: Mapping[str, DailyCounts] = field(default_factory=dict)
    # Label -> (model, name of a CharField holding a name in the default storage): stored
    # files that a FileField does not point to (FileFields are found by themselves).
    stored_file_names: Mapping[str, tuple[type[Model], str]] = field(default_factory=dict)
    answer_tools: AnswerTools | None = None

    def __post_init__(self) -> None:
        # Read by every request of every tenant: nobody changes them after start-up.
        names = ("counted_models", "usage_measures", "workspace_initializers", "nav_badges")
        for name in (*names, "daily_counts", "stored_file_names"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))
        object.__setattr__(self, "onboarding_steps", tuple(self.onboarding_steps))


class ContributingAppConfig(AppConfig):
    """An app that contributes to the tenancy layer declares it by overriding
    :meth:`contributions`. It is called once, after every app's models are loaded, so it
    may import its own models and services there."""

    def contributions(self) -> Contributions:
        return Contributions()


def _merge_mapping(
    merged: dict[str, Any], owners: dict[str, str], items: Mapping[str, Any], *, what: str, app: str
) -> None:
    for key, value in items.items():
        if key in merged:
            raise ImproperlyConfigured(f"{what} {key!r} is contributed by both {owners[key]} and {app}")
        merged[key], owners[key] = value, app


def contributions_collect(configs: Iterable[AppConfig]) -> Contributions:
    """Merge the contributions of ``configs`` (in order). Two apps contributing the same
    key, or two quota checks, is a configuration error named at start-up rather than one
    silently replacing the other."""
    counted: dict[str, type[Model]] = {}
    measures: dict[str, Callable[[], int]] = {}
    initializers: dict[str, WorkspaceInitializer] = {}
    badges: dict[str, NavBadgeRead] = {}
    daily: dict[str, DailyCounts] = {}
    files: dict[str, tuple[type[Model], str]] = {}
    steps: dict[str, OnboardingStep] = {}
    owners: dict[str, dict[str, str]] = {
        "counted": {},
        "measures": {},
        "initializers": {},
        "steps": {},
        "badges": {},
        "daily": {},
        "files": {},
    }
    quota_check: QuotaCheck | None = None
    quota_check_app = ""
    plan_summary: PlanSummaryRead | None = None
    plan_summary_app = ""
    answer_tools: list[AnswerTools] = []
    for config in configs:
        if not isinstance(config, ContributingAppConfig):
            continue
        app, found = config.label, config.contributions()
        _merge_mapping(counted, owners["counted"], found.counted_models, what="counted model", app=app)
        _merge_mapping(measures, owners["measures"], found.usage_measures, what="usage measure", app=app)
        _merge_mapping(
            initializers,
            owners["initializers"],
            found.workspace_initializers,
            what="workspace initializer",
            app=app,
        )
        _merge_mapping(badges, owners["badges"], found.nav_badges, what="navigation badge", app=app)
        _merge_mapping(daily, owners["daily"], found.daily_counts, what="daily count", app=app)
        _merge_mapping(files, owners["files"], found.stored_file_names, what="stored file name", app=app)
        _merge_mapping(
            steps,
            owners["steps"],
            {step.key: step for step in found.onboarding_steps},
            what="onboarding step",
            app=app,
        )
        if found.quota_check is not None:
            if quota_check is not None:
                raise ImproperlyConfigured(
                    f"a quota check is contributed by both {quota_check_app} and {app}"
                )
            quota_check, quota_check_app = found.quota_check, app
        if found.plan_summary is not None:
            if plan_summary is not None:
                raise ImproperlyConfigured(
                    f"a plan summary is contributed by both {plan_summary_app} and {app}"
                )
            plan_summary, plan_summary_app = found.plan_summary, app
        if found.answer_tools is not None:
            answer_tools.append(found.answer_tools)
    return Contributions(
        counted_models=counted,
        usage_measures=measures,
        onboarding_steps=tuple(sorted(steps.values(), key=lambda step: step.order)),
        workspace_initializers=initializers,
        quota_check=quota_check,
        plan_summary=plan_summary,
        nav_badges=badges,
        daily_counts=daily,
        stored_file_names=files,
        # One app's provider as it is; several, merged (None: no tools).
        answer_tools=AnswerToolsMerged(answer_tools)
        if len(answer_tools) > 1
        else next(iter(answer_tools), None),
    )


@functools.cache
def contributions() -> Contributions:
    """Every installed app's contributions, merged once (INSTALLED_APPS order)."""
    apps.check_models_ready()
    return contributions_collect(apps.get_app_configs())
