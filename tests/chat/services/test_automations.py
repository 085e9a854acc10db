"""chat.services.automations: rules created, changed, toggled and deleted only with valid
patterns (whoever calls), their firings logged, and answers seeing each change."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django_tenants.utils import tenant_context

from chat.models import AutomationFiring, AutomationRule, Message
from chat.selectors import _snapshot_key, bot_snapshot
from chat.services import (
    automation_firing_create,
    automation_rule_create,
    automation_rule_delete,
    automation_rule_toggle,
    automation_rule_update,
    message_append,
)
from saas.errors import ValidationFailed
from tests.chat.factories import ConversationFactory
from widget_builder.models import Widget

pytestmark = pytest.mark.django_db


@pytest.fixture
def widget(tenant_a):
    with tenant_context(tenant_a.tenant):
        yield Widget.objects.order_by("id").first()


def rule_of(widget, **changes) -> AutomationRule:
    values = {
        "kind": "keyword",
        "name": "Refunds",
        "pattern": "refund, money back",
        "reply": "See our policy.",
    }
    return automation_rule_create(widget=widget, **(values | changes))


def pattern_refused(call, **kwargs) -> str:
    with pytest.raises(ValidationFailed) as error:
        call(**kwargs)
    assert error.value.status == 422 and list(error.value.errors) == ["pattern"]
    (problem,) = error.value.errors["pattern"]
    assert problem["code"] == "invalid_pattern"
    return problem["message"]


def test_create_stores_the_rule_with_its_defaults(widget):
    rule = rule_of(widget, position=3)
    stored = AutomationRule.objects.get(pk=rule.pk)
    assert (stored.widget_id, stored.kind, stored.name, stored.pattern) == (
        widget.pk,
        "keyword",
        "Refunds",
        "refund, money back",
    )
    assert stored.position == 3 and stored.replaces_answer is True and stored.is_enabled is True


@pytest.mark.parametrize(
    ("kind", "pattern", "message"),
    [
        ("keyword", " , ,", "List at least one keyword"),
        ("regex", "(refund", "not a valid regular expression"),
        ("regex", r"(a)\1", "not a valid regular expression"),  # backreferences: not RE2
        ("regex", "", "Write a regular expression of at most 300 characters."),
        ("regex", "a" * 301, "Write a regular expression of at most 300 characters."),
    ],
)
def test_create_refuses_a_bad_pattern(widget, kind, pattern, message):
    refusal = pattern_refused(rule_of, widget=widget, kind=kind, pattern=pattern)
    assert message in refusal
    assert not AutomationRule.objects.filter(widget=widget).exists()


def test_create_refuses_what_the_model_refuses(widget):
    with pytest.raises(ValidationFailed) as error:
        rule_of(widget, kind="telepathy", name="", reply="")
    assert set(error.value.errors) == {"kind", "name", "reply"}
    assert not AutomationRule.objects.filter(widget=widget).exists()


def test_greetings_and_offline_replies_need_no_pattern(widget):
    assert rule_of(widget, kind="greeting", pattern="").pk
    assert rule_of(widget, kind="offline", pattern="").pk


def test_update_changes_only_what_is_given_and_checks_the_pattern_against_the_kind(widget):
    rule = rule_of(widget)
    automation_rule_update(rule=rule, name="Refunds and returns", pattern=r"\brefunds?\b", kind="regex")
    stored = AutomationRule.objects.get(pk=rule.pk)
    assert (stored.name, stored.kind, stored.pattern) == ("Refunds and returns", "regex", r"\brefunds?\b")
    assert stored.reply == "See our policy."

    assert "not a valid" in pattern_refused(automation_rule_update, rule=rule, pattern="(refund")
    assert rule.pattern == r"\brefunds?\b"  # the refused value is not left on the object
    greeting = rule_of(widget, kind="greeting", pattern="")
    assert "keyword" in pattern_refused(automation_rule_update, rule=greeting, kind="keyword")
    assert AutomationRule.objects.get(pk=greeting.pk).kind == "greeting"


def test_toggle_flips_or_sets(widget):
    rule = rule_of(widget)
    automation_rule_toggle(rule=rule)
    assert AutomationRule.objects.get(pk=rule.pk).is_enabled is False
    automation_rule_toggle(rule=rule)
    assert AutomationRule.objects.get(pk=rule.pk).is_enabled is True
    automation_rule_toggle(rule=rule, enabled=True)
    assert AutomationRule.objects.get(pk=rule.pk).is_enabled is True
    automation_rule_toggle(rule=rule, enabled=False)
    assert AutomationRule.objects.get(pk=rule.pk).is_enabled is False


def test_delete_drops_the_rule_and_its_firings_and_keeps_what_it_sent(widget):
    rule = rule_of(widget)
    conversation = ConversationFactory(widget=widget)
    sent, _ = message_append(
        conversation=conversation, role=Message.Role.BOT, text="See our policy.", automation_rule=rule
    )
    firing = automation_firing_create(rule=rule, conversation=conversation, message=sent)
    assert AutomationFiring.objects.get(pk=firing.pk).rule_id == rule.pk

    automation_rule_delete(rule=rule)
    assert not AutomationRule.objects.filter(pk=rule.pk).exists()
    assert not AutomationFiring.objects.filter(pk=firing.pk).exists()
    kept = Message.objects.get(pk=sent.pk)
    assert kept.text == "See our policy." and kept.automation_rule_id is None


def test_answers_see_each_change_once_it_commits(widget, django_capture_on_commit_callbacks):
    def enabled() -> list[str]:
        return [r.name for r in bot_snapshot(widget).automations]

    def committed(change):
        before = bot_snapshot(widget)
        with django_capture_on_commit_callbacks(execute=True):
            result = change()
            cache.set(_snapshot_key(widget.pk), before, 60)  # cached again by a concurrent read
        return result

    assert enabled() == []
    rule = committed(lambda: rule_of(widget))
    assert enabled() == ["Refunds"]
    committed(lambda: automation_rule_update(rule=rule, name="Money back"))
    assert enabled() == ["Money back"]
    committed(lambda: automation_rule_toggle(rule=rule))
    assert enabled() == []
    committed(lambda: automation_rule_toggle(rule=rule))
    committed(lambda: automation_rule_delete(rule=rule))
    assert enabled() == []
