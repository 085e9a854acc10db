"""Writes of the actions domain: defining actions (:mod:`.definitions`) and calling them
(:mod:`.calls`)."""

from .calls import Outcome, action_call, action_declined, action_test, confirmation_summary
from .confirmations import (
    ConfirmationAnswered,
    ConfirmationExpired,
    Decided,
    call_note,
    confirmation_ask,
    form_offer,
    pending_call_decide,
    result_said,
)
from .definitions import (
    OFFERED_KEY,
    action_create,
    action_delete,
    action_secret_rotate,
    action_update,
    actions_import,
)

__all__ = [
    "OFFERED_KEY",
    "ConfirmationAnswered",
    "ConfirmationExpired",
    "Decided",
    "Outcome",
    "action_call",
    "action_create",
    "action_declined",
    "action_delete",
    "action_secret_rotate",
    "action_test",
    "action_update",
    "actions_import",
    "call_note",
    "confirmation_ask",
    "confirmation_summary",
    "form_offer",
    "pending_call_decide",
    "result_said",
]
