"""Structured logs (structlog) on stderr: readable on a terminal, JSON lines with --log-json.

structlog (with the rich tracebacks it loads) costs a one-shot `tracker state` a tenth of a
second to import, for lines that, below --verbose, it never writes. So the shell logs through
`Logger`, and a command that asks `configure(..., lazy=True)` imports and configures structlog
only when a line at the chosen level or above is logged."""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

from .store.url import mask_secrets

_pending: tuple[bool, int] | None = None  # (json, level) of a lazy configure, not applied yet


def _mask(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> Mapping[str, Any]:
    """No store password reaches a log line, whoever logs it and however."""
    return {k: mask_secrets(v) if isinstance(v, str) else v for k, v in event.items()}


def configure(json: bool = False, level: int = logging.WARNING, lazy: bool = False) -> None:
    """Logs at `level` and above; `lazy`: structlog imported on the first such line (only
    for a command whose every logger is a `Logger`: structlog loggers made elsewhere would
    log unconfigured)."""
    global _pending
    _pending = (json, level)
    if not lazy:
        _apply()


def _apply() -> None:
    global _pending
    if _pending is None:
        return
    import structlog

    json, level = _pending
    _pending = None
    renderer = (structlog.processors.JSONRenderer() if json
                else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty()))
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, structlog.processors.add_log_level,
                    structlog.processors.TimeStamper(fmt="iso", utc=True),
                    _mask, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


def enabled(level: int) -> bool:
    """Whether a line at `level` is written (a filtered-out call still costs a bound logger)."""
    if _pending is not None:
        return level >= _pending[1]
    import structlog

    check = getattr(structlog.get_config()["wrapper_class"], "is_enabled_for", None)
    return check is None or check(None, level)


class Logger:
    """structlog's logger `name`, looked up on each line (so structlog's own configuration,
    and its test capture, apply as they would to structlog.get_logger's)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def _log(self, level: int, method: str, event: str, **fields: Any) -> None:
        if _pending is not None:
            if level < _pending[1]:
                return
            _apply()
        import structlog

        getattr(structlog.get_logger(self.name), method)(event, **fields)

    def debug(self, event: str, **fields: Any) -> None:
        self._log(logging.DEBUG, "debug", event, **fields)

    def info(self, event: str, **fields: Any) -> None:
        self._log(logging.INFO, "info", event, **fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._log(logging.WARNING, "warning", event, **fields)

    def error(self, event: str, **fields: Any) -> None:
        self._log(logging.ERROR, "error", event, **fields)
