"""Writes of the actions domain: defining actions (:mod:`.definitions`) and calling them
(:mod:`.calls`)."""

from .calls import TESTS_PER_MINUTE, Outcome, action_call, action_declined, action_test, confirmation_summary
from .definitions import (
    OFFERED_KEY,
    action_create,
    action_delete,
    action_secret_rotate,
    action_update,
    actions_import,
    offered_forget,
    offered_key,
    widget_removed,
)

__all__ = [
    "OFFERED_KEY",
    "TESTS_PER_MINUTE",
    "Outcome",
    "action_call",
    "action_create",
    "action_declined",
    "action_delete",
    "action_secret_rotate",
    "action_test",
    "action_update",
    "actions_import",
    "confirmation_summary",
    "offered_forget",
    "offered_key",
    "widget_removed",
]
