"""Structured logs (structlog) on stderr: readable on a terminal, JSON lines with --log-json."""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

from .store.url import mask_secrets


def _mask(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> Mapping[str, Any]:
    """No store password reaches a log line, whoever logs it and however."""
    return {k: mask_secrets(v) if isinstance(v, str) else v for k, v in event.items()}


def configure(json: bool = False, level: int = logging.WARNING) -> None:
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
