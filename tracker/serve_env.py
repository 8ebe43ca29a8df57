"""`tracker serve`'s settings from environment variables, for containers and service managers:
each option given on the command line wins over its variable, and a variable wins over the
built-in default. A bad value is refused like a bad option, naming the variable."""

from __future__ import annotations

import argparse
import math
import os
import re
from collections.abc import Callable, Mapping
from typing import Any

from .core.errors import InputError

# option dest -> (variable, parse, default)
_Parse = Callable[[str, str], Any]


def _text(name: str, value: str) -> str:
    return value


def _int(name: str, value: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise InputError(f"{name}={value[:40]!r}: must be a whole number") from None


def _float(name: str, value: str) -> float:
    try:
        number = float(value.strip())
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise InputError(f"{name}={value[:40]!r}: must be a number")
    return number


def _flag(name: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("", "0", "false", "no", "off"):
        return False
    raise InputError(f"{name}={value[:40]!r}: must be 1/true/yes or 0/false/no")


def _list(name: str, value: str) -> list[str]:
    return [v for v in re.split(r"[,\s]+", value) if v]


SERVE_ENV: dict[str, tuple[str, _Parse, Any]] = {
    "host": ("TRACKER_HOST", _text, "127.0.0.1"),
    "port": ("TRACKER_PORT", _int, 8765),
    "token_file": ("TRACKER_TOKEN_FILE", _text, None),
    "public_read": ("TRACKER_PUBLIC_READ", _flag, False),
    "append_rate": ("TRACKER_APPEND_RATE", _float, None),
    "certfile": ("TRACKER_CERTFILE", _text, None),
    "keyfile": ("TRACKER_KEYFILE", _text, None),
    "allow_origin": ("TRACKER_ALLOW_ORIGIN", _list, []),
    "allow_host": ("TRACKER_ALLOW_HOST", _list, []),
    "queue_limit": ("TRACKER_QUEUE_LIMIT", _int, 1024),
    "image": ("TRACKER_IMAGE", _text, None),  # None: beside a SQLite store (tracker/images.py)
}
# TRACKER_TOKEN (the write token) and TRACKER_DB (the store) are read where they always were.


def resolve(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> None:
    """Fill each serve option the command line left unset (None) from its variable, else its default."""
    env = os.environ if environ is None else environ
    for dest, (variable, parse, default) in SERVE_ENV.items():
        if getattr(args, dest, None) is not None:
            continue
        if dest == "token_file" and getattr(args, "token", None):  # --token given: it wins over the file
            continue
        value = env.get(variable)
        setattr(args, dest, parse(variable, value) if value is not None and value != "" else
                (list(default) if isinstance(default, list) else default))
