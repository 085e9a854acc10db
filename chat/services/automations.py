"""Writes for a widget's automation rules, and the log of the ones that fired. The rules'
patterns are checked here (``chat.automations.pattern_error``: keywords present, regexes
valid RE2 of bounded length), whoever calls. Preconditions: the tenant's schema is active."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction

from audit.services import Caller, audit_record, field_changes
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
    request: Caller | None = None,
) -> AutomationRule:
    """A new rule of ``widget``, effective for the next message (``automation.created``).
    Refusals raise ValidationFailed with errors per field."""
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
        audit_record(
            action="automation.created",
            request=request,
            target=rule,
            target_repr=rule.name,
            metadata={"name": rule.name, "kind": rule.kind, "widget": widget.pk, "is_enabled": is_enabled},
        )
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
    request: Caller | None = None,
) -> AutomationRule:
    """Change ``rule``; a value given as ``None`` stays as stored (``automation.updated``,
    the fields changed, old and new values but the reply's text). The pattern is checked
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
        _audit_change(rule, before, request)
    return rule


AUDIT_SHOWN = ("kind", "name", "pattern", "replaces_answer", "position", "is_enabled")


def _audit_change(rule: AutomationRule, before: dict[str, Any], request: Caller | None) -> None:
    metadata = field_changes(before, {f: getattr(rule, f) for f in before}, shown=AUDIT_SHOWN)
    if metadata:
        audit_record(
            action="automation.updated",
            request=request,
            target=rule,
            target_repr=rule.name,
            metadata=metadata,
        )


def automation_rule_toggle(
    *, rule: AutomationRule, enabled: bool | None = None, request: Caller | None = None
) -> AutomationRule:
    """Enable or disable ``rule`` (``enabled``), or flip it (``None``); recorded as
    ``automation.updated`` when it changed."""
    with transaction.atomic():
        before = {"is_enabled": rule.is_enabled}
        rule.is_enabled = (not rule.is_enabled) if enabled is None else enabled
        rule.save(update_fields=["is_enabled"])
        _forget_on_commit(rule)
        _audit_change(rule, before, request)
    return rule


def automation_rule_delete(*, rule: AutomationRule, request: Caller | None = None) -> None:
    """Delete ``rule``; messages it sent stay (without their rule), its firings go
    (``automation.deleted``)."""
    with transaction.atomic():
        rule_id, name = rule.pk, rule.name
        rule.delete()
        _forget_on_commit(rule)
        audit_record(
            action="automation.deleted",
            request=request,
            target_type="automationrule",
            target_id=str(rule_id),
            target_repr=name,
            metadata={"name": name, "kind": rule.kind},
        )


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
