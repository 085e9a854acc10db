"""Writes for a widget's automation rules, and the log of the ones that fired. The rules'
patterns are checked here (``chat.automations.pattern_error``: keywords present, regexes
valid RE2 of bounded length), whoever calls. Preconditions: the tenant's schema is active."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction

from saas.errors import ValidationFailed
from widget_builder.models import Widget

from ..automations import pattern_error
from ..models import AutomationFiring, AutomationRule, Conversation, Message
from ..selectors import bot_snapshot_forget
from .model_fields import model_field_errors


def automation_rule_create(
    *,
    widget: Widget,
    kind: str,
    name: str,
    reply: str,
    pattern: str = "",
    replaces_answer: bool = True,
    position: int = 0,
    is_enabled: bool = True,
) -> AutomationRule:
    """A new rule of ``widget``, effective for the next message. Refusals raise
    ValidationFailed with errors per field."""
    rule = AutomationRule(
        widget=widget,
        kind=kind,
        name=name,
        pattern=pattern,
        reply=reply,
        replaces_answer=replaces_answer,
        position=position,
        is_enabled=is_enabled,
    )
    _check(rule, fields=("kind", "name", "pattern", "reply", "replaces_answer", "position", "is_enabled"))
    with transaction.atomic():
        rule.save()
        _forget_on_commit(rule)
    return rule


def automation_rule_update(
    *,
    rule: AutomationRule,
    kind: str | None = None,
    name: str | None = None,
    reply: str | None = None,
    pattern: str | None = None,
    replaces_answer: bool | None = None,
    position: int | None = None,
    is_enabled: bool | None = None,
) -> AutomationRule:
    """Change ``rule``; a value given as ``None`` stays as stored. The pattern is checked
    against the rule's kind after the change. Refusals raise ValidationFailed with errors
    per field and leave ``rule`` as it was."""
    changes: dict[str, Any] = {
        field: value
        for field, value in {
            "kind": kind,
            "name": name,
            "reply": reply,
            "pattern": pattern,
            "replaces_answer": replaces_answer,
            "position": position,
            "is_enabled": is_enabled,
        }.items()
        if value is not None
    }
    before = {field: getattr(rule, field) for field in changes}
    for field, value in changes.items():
        setattr(rule, field, value)
    try:
        _check(rule, fields=changes)
    except ValidationFailed:
        for field, value in before.items():
            setattr(rule, field, value)
        raise
    with transaction.atomic():
        rule.save(update_fields=list(changes))
        _forget_on_commit(rule)
    return rule


def automation_rule_toggle(*, rule: AutomationRule, enabled: bool | None = None) -> AutomationRule:
    """Enable or disable ``rule`` (``enabled``), or flip it (``None``)."""
    with transaction.atomic():
        rule.is_enabled = (not rule.is_enabled) if enabled is None else enabled
        rule.save(update_fields=["is_enabled"])
        _forget_on_commit(rule)
    return rule


def automation_rule_delete(*, rule: AutomationRule) -> None:
    """Delete ``rule``; messages it sent stay (without their rule), its firings go."""
    with transaction.atomic():
        rule.delete()
        _forget_on_commit(rule)


def automation_firing_create(
    *, rule: AutomationRule, conversation: Conversation, message: Message | None
) -> AutomationFiring:
    """Log that ``rule`` answered in ``conversation`` with ``message``."""
    return AutomationFiring.objects.create(rule=rule, conversation=conversation, message=message)


def _check(rule: AutomationRule, *, fields: Iterable[str]) -> None:
    errors = model_field_errors(rule, fields=fields)
    checked = "kind" not in errors and "pattern" not in errors
    if checked and (message := pattern_error(rule.kind, rule.pattern or "")):
        errors["pattern"] = [{"code": "invalid_pattern", "message": message}]
    if errors:
        raise ValidationFailed("This automation cannot be saved.", errors=errors)


def _forget_on_commit(rule: AutomationRule) -> None:
    # Answers read the enabled rules through the cached bot snapshot: a read between the
    # signal's delete and the commit could cache the old rules again.
    widget_id = rule.widget_id
    transaction.on_commit(lambda: bot_snapshot_forget(widget_id))
