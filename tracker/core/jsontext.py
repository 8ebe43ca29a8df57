"""JSON text read strictly, the same way for every input: websocket frames, report files, exports.

What plain `json.loads` or `orjson.loads` would let through is refused with an error that
names the problem: a key given twice in one object (the second value would silently win),
an integer of more than 100 digits (Python refuses thousands with a ValueError; fields
bound the rest, naming themselves),
NaN and infinities, and nesting too deep for the stack.
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson

MAX_INT = (1 << 63) - 1  # the largest integer any input may carry (a log position, a count)
MAX_DIGITS = 100  # a longer integer is refused while parsing; shorter ones are checked by their field's bounds


class JSONTextError(ValueError):
    """A document that parses but is refused; `key` names a duplicated key."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.msg = message
        self.key = key


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise JSONTextError(f"duplicate key '{key}': each key may appear once in an object", key=key)
        out[key] = value
    return out


def _int(text: str) -> int:
    digits = text.lstrip("-")
    if len(digits) > MAX_DIGITS:
        raise JSONTextError(f"an integer of {len(digits):,} digits ({text[:12]}...) is too large: "
                            f"no field takes more than {MAX_INT:,} (2^63 - 1)")
    return int(text)


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JSONTextError(f"the number {text[:30]} is too large to be a finite number")
    return value


def _constant(text: str) -> Any:
    raise JSONTextError(f"{text} is not JSON: numbers are finite")


def loads(text: str | bytes) -> Any:
    """A JSON document, strictly. Raises json.JSONDecodeError for malformed text (with its
    position), JSONTextError for what parses but is refused."""
    if isinstance(text, bytes):
        text = text.decode()
    try:
        return json.loads(text, object_pairs_hook=_pairs, parse_int=_int, parse_float=_float,
                          parse_constant=_constant)
    except RecursionError:
        raise json.JSONDecodeError("nested too deeply", text, 0) from None


def loads_fast(text: str | bytes) -> Any:
    """`loads` for a server's frames: orjson refuses malformed text, lone surrogates and deep
    nesting first, quickly; a second pass refuses what orjson lets through (duplicate keys,
    integers of over 100 digits, which orjson reads as floats). Raises orjson.JSONDecodeError or JSONTextError."""
    value = orjson.loads(text)
    if isinstance(value, dict | list):
        try:
            loads(text)
        except json.JSONDecodeError as e:  # deeper than the stdlib's stack allows, not orjson's
            raise JSONTextError(f"malformed JSON: {e.msg}") from None
    return value
