"""Log lines as structured events. Every ``logging.getLogger(...)`` call keeps working: the
standard library's records go through the same processors as structlog's own loggers, so a
line carries the context bound for the request or task (``request_id``, ``workspace``,
``user_id``, ``widget_key``, ``task``...) whichever API wrote it.

``LOG_FORMAT``: ``json`` (production: one JSON object per line), ``console`` (development:
aligned, coloured when a terminal), ``plain`` (the old one-line text, for the test suite).
"""

from __future__ import annotations

import sys
from typing import Any

import structlog

FORMATS = ("json", "console", "plain")
_PLAIN = "%(asctime)s %(levelname)s %(name)s %(message)s"


def _shared_processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
    ]


def _renderer(fmt: str) -> list[Any]:
    if fmt == "json":
        return [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
    # Colours for a person at a terminal; none in a file or a pipe.
    return [structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())]


def structlog_configure() -> None:
    """structlog's own loggers (``structlog.get_logger``) hand their events to the standard
    library, whose handler renders them like every other record."""
    structlog.configure(
        # The level check first: a disabled level costs one comparison, not the chain.
        processors=[
            structlog.stdlib.filter_by_level,
            *_shared_processors(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def formatter_config(fmt: str) -> dict[str, Any]:
    """The ``LOGGING`` formatter for ``fmt`` (one of FORMATS)."""
    if fmt not in FORMATS:
        raise ValueError(f"LOG_FORMAT must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if fmt == "plain":
        return {"format": _PLAIN}
    return {
        "()": structlog.stdlib.ProcessorFormatter,
        "foreign_pre_chain": [*_shared_processors(), structlog.stdlib.ExtraAdder()],
        "processors": [structlog.stdlib.ProcessorFormatter.remove_processors_meta, *_renderer(fmt)],
    }
