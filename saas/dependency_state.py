"""One log line when a dependency (the database, Redis, ...) goes down or comes back,
never one per request or per probe.

Every place that meets a dependency's failure or success reports it with
:func:`state_changed`; the first failure logs a warning ("database unreachable: ..."),
the first success after it logs "database reachable again", and the reports in between
log nothing. The state is per process: each web process and worker logs its own change
once. A dependency never reported is taken as reachable, so a healthy start logs nothing.
"""

from __future__ import annotations

import logging
import threading

logger = logging.getLogger("saas.dependencies")

_lock = threading.Lock()
_down: set[str] = set()


def state_changed(name: str, ok: bool, detail: str = "") -> bool:
    """Record that ``name`` answered (``ok``) or failed; log and return True when this
    changes its state."""
    if ok and name not in _down:
        return False  # the usual case (every connection made reports it), without the lock
    with _lock:
        if ok == (name not in _down):
            return False
        if ok:
            _down.discard(name)
        else:
            _down.add(name)
    if ok:
        logger.info("%s reachable again", name)
    else:
        logger.warning("%s unreachable%s", name, f": {detail}" if detail else "")
    return True


def is_down(name: str) -> bool:
    """Whether the last report about ``name`` was a failure."""
    return name in _down


def describe(exc: BaseException) -> str:
    """A one-line reason for the log: the exception's type and first line (the driver's
    own message when a wrapper re-raised it), never a traceback."""
    cause = exc.__cause__ or exc
    lines = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {lines[0][:200] if lines else ''}".rstrip(": ")
