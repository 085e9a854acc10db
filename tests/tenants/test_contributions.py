"""The one contribution point: each app's AppConfig declares what it adds to the tenancy
layer, and the consumers read the merged declaration."""

from __future__ import annotations

import types

import pytest
from django.apps import AppConfig
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django_tenants.utils import tenant_context

from billing.quotas import quota_require as billing_quota_require
from chat.models import Conversation
from chat.selectors import ai_answers_per_day, messages_per_day
from exports.models import ExportJob
from knowledge.models import Document
from knowledge.services import knowledge_base_ensure_default, knowledge_storage_mb
from saas.errors import QuotaExceeded
from tenants import limits
from tenants.contributions import (
    AnswerToolsMerged,
    ContributingAppConfig,
    Contributions,
    OnboardingStep,
    contributions,
    contributions_collect,
)
from tenants.dashboard import onboarding_checklist
from tenants.selectors import tenant_usage_counts
from widget_builder.models import Widget
from widget_builder.services import widget_ensure_default


def test_each_app_declares_its_contributions():
    found = contributions()
    assert dict(found.counted_models) == {"widgets": Widget, "conversations": Conversation}
    assert set(found.usage_measures) == {"widgets", "storage_mb", "pages"}
    assert found.usage_measures["storage_mb"] is knowledge_storage_mb
    assert found.usage_measures["pages"] == Document.objects.count
    assert [s.key for s in found.onboarding_steps] == [
        "customize_widget",
        "add_knowledge",
        "copy_snippet",
        "test_chat",
    ]
    # INSTALLED_APPS order: billing, widget_builder, knowledge.
    assert list(found.workspace_initializers) == [
        "billing.start",
        "widget_builder.default_widget",
        "knowledge.default_base",
    ]
    assert found.workspace_initializers["widget_builder.default_widget"] is widget_ensure_default
    assert found.workspace_initializers["knowledge.default_base"] is knowledge_base_ensure_default
    assert found.quota_check is billing_quota_require
    assert dict(found.daily_counts) == {"messages": messages_per_day, "ai_answers": ai_answers_per_day}
    assert dict(found.stored_file_names) == {"export_files": (ExportJob, "file_name")}


def test_it_is_collected_once_and_cannot_be_changed_afterwards():
    assert contributions() is contributions()
    with pytest.raises(TypeError):
        contributions().counted_models["widgets"] = Conversation  # type: ignore[index]


def _config(label: str, declared: Contributions | None) -> AppConfig:
    """An app config as the registry holds it (``declared`` None: an app that contributes
    nothing and does not derive from ContributingAppConfig)."""
    module = types.ModuleType(label)
    module.__file__ = f"/{label}/__init__.py"
    if declared is None:
        return AppConfig(label, module)

    class Config(ContributingAppConfig):
        def contributions(self) -> Contributions:
            return declared

    return Config(label, module)


def _step(key: str, order: int) -> OnboardingStep:
    return OnboardingStep(key, key.title(), order, lambda: False, "")


def test_collect_merges_in_order_and_sorts_the_steps():
    def check(tenant, quota, *, used, adding):
        return None

    merged = contributions_collect(
        [
            _config("plain", None),
            _config(
                "first", Contributions(counted_models={"a": Widget}, onboarding_steps=(_step("late", 30),))
            ),
            _config(
                "second",
                Contributions(
                    counted_models={"b": Conversation},
                    usage_measures={"b": lambda: 2},
                    onboarding_steps=(_step("early", 10),),
                    workspace_initializers={"second.init": widget_ensure_default},
                    quota_check=check,
                ),
            ),
        ]
    )
    assert dict(merged.counted_models) == {"a": Widget, "b": Conversation}
    assert merged.usage_measures["b"]() == 2
    assert [s.key for s in merged.onboarding_steps] == ["early", "late"]
    assert list(merged.workspace_initializers) == ["second.init"]
    assert merged.quota_check is check


@pytest.mark.parametrize(
    ("one", "other", "message"),
    [
        (Contributions(counted_models={"x": Widget}), Contributions(counted_models={"x": Conversation}), "x"),
        (Contributions(usage_measures={"q": int}), Contributions(usage_measures={"q": int}), "q"),
        (
            Contributions(onboarding_steps=(_step("s", 1),)),
            Contributions(onboarding_steps=(_step("s", 2),)),
            "onboarding step 's'",
        ),
        (
            Contributions(workspace_initializers={"i": widget_ensure_default}),
            Contributions(workspace_initializers={"i": widget_ensure_default}),
            "workspace initializer 'i'",
        ),
        (
            Contributions(daily_counts={"messages": messages_per_day}),
            Contributions(daily_counts={"messages": ai_answers_per_day}),
            "daily count 'messages'",
        ),
        (
            Contributions(stored_file_names={"f": (ExportJob, "file_name")}),
            Contributions(stored_file_names={"f": (ExportJob, "file_name")}),
            "stored file name 'f'",
        ),
        (
            Contributions(quota_check=billing_quota_require),
            Contributions(quota_check=billing_quota_require),
            "",
        ),
    ],
)
def test_two_apps_contributing_the_same_key_is_refused(one, other, message):
    with pytest.raises(ImproperlyConfigured, match=f"{message}.*both one and other"):
        contributions_collect([_config("one", one), _config("other", other)])


class _Tools:
    """An app's answer tools: ``names`` offered, each call answered with the app's name."""

    def __init__(self, app: str, *names: str) -> None:
        self.app, self.names, self.asked, self.widgets = app, names, [], []

    def offered(self, *, conversation_id: int, widget_id: int) -> list:
        self.widgets.append(widget_id)
        return [types.SimpleNamespace(name=name) for name in self.names]

    def call(self, *, conversation_id: int, widget_id: int, name: str, arguments: dict, arguments_error: str):
        self.asked.append((conversation_id, name, arguments))
        return f"{self.app} ran {name}", False

    def offline_form(self, *, conversation_id: int, text: str):
        return f"{self.app}'s form" if self.app in text else None


def test_several_apps_answer_tools_are_merged_and_each_call_goes_to_its_owner():
    actions, files = _Tools("actions", "order_status"), _Tools("files", "query_table", "order_status")
    merged = contributions_collect(
        [
            _config("one", Contributions(answer_tools=actions)),
            _config("two", Contributions(answer_tools=files)),
        ]
    ).answer_tools
    assert isinstance(merged, AnswerToolsMerged)
    # A name offered twice goes to the first app only (providers refuse duplicate names).
    assert [t.name for t in merged.offered(conversation_id=7, widget_id=3)] == ["order_status", "query_table"]
    assert merged.call(conversation_id=7, widget_id=3, name="order_status", arguments={}, arguments_error="")[
        0
    ] == ("actions ran order_status")
    ran = merged.call(
        conversation_id=7, widget_id=3, name="query_table", arguments={"file": "a"}, arguments_error=""
    )
    assert ran == ("files ran query_table", False) and files.asked == [(7, "query_table", {"file": "a"})]
    text, is_error = merged.call(
        conversation_id=7, widget_id=3, name="rm_rf", arguments={}, arguments_error=""
    )
    assert is_error and "no tool named 'rm_rf'" in text
    assert set(actions.widgets) == set(files.widgets) == {3}  # each asked in the conversation's widget
    # Without an LLM, the first app whose rule matches gives the form.
    assert merged.offline_form(conversation_id=7, text="the files form") == "files's form"
    assert merged.offline_form(conversation_id=7, text="nothing") is None
    # One app's tools stay as they are; none, None.
    alone = contributions_collect([_config("one", Contributions(answer_tools=actions))])
    assert alone.answer_tools is actions
    assert contributions_collect([_config("one", Contributions())]).answer_tools is None
    # chat (the visitor's files) and actions both contribute in the installed project.
    assert isinstance(contributions().answer_tools, AnswerToolsMerged)


def test_tenant_usage_counts_reads_the_counted_models(tenant_a, tenant_b):
    counts = tenant_usage_counts([tenant_a.tenant, tenant_b.tenant])
    assert counts[tenant_a.tenant.pk] == {
        "members": 1,
        "widgets": tenant_a.widget_count,
        "conversations": tenant_a.conversation_count,
    }
    assert counts[tenant_b.tenant.pk]["widgets"] == tenant_b.widget_count


def test_onboarding_checklist_reads_the_contributed_steps(tenant_a):
    with tenant_context(tenant_a.tenant):
        steps = {step.key: done for step, done in onboarding_checklist()}
    assert list(steps) == ["customize_widget", "add_knowledge", "copy_snippet", "test_chat"]
    assert steps["test_chat"] is True  # tenant A has conversations


def test_tenants_limits_asks_the_contributed_quota_check(tenant_a, monkeypatch):
    calls = []

    def check(tenant, quota, *, used, adding):
        calls.append((tenant, quota, used(), adding))

    monkeypatch.setattr(limits, "contributions", lambda: Contributions(quota_check=check))
    limits.quota_require(tenant_a.tenant, "seats", used=lambda: 3, adding=2)
    assert calls == [(tenant_a.tenant, "seats", 3, 2)]

    monkeypatch.setattr(limits, "contributions", lambda: Contributions())
    limits.quota_require(tenant_a.tenant, "seats", used=lambda: 10**6)  # nothing limits without billing


def test_the_real_quota_check_is_billings(tenant_a):
    with pytest.raises(QuotaExceeded), transaction.atomic():  # Free: one seat, the owner's
        limits.quota_require(tenant_a.tenant, "seats", used=lambda: 1)
