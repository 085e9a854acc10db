"""Writes of the retention app: the workspace's policy (``policy``) and the purge
(``purge``). Preconditions: the tenant's schema is active."""

from .policy import MAX_DAYS, RetentionBeyondPlan, retention_policy_narrow, retention_policy_update
from .purge import PurgeOutcome, retention_purge

__all__ = [
    "MAX_DAYS",
    "PurgeOutcome",
    "RetentionBeyondPlan",
    "retention_policy_narrow",
    "retention_policy_update",
    "retention_purge",
]
