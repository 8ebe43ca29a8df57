"""Event ids. Time-ordered UUIDs (version 7, RFC 9562) keep the id index append-friendly."""

from __future__ import annotations

import os
import time
import uuid


def uuid7() -> uuid.UUID:
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | (rand >> 62 & 0xFFF) << 64 | 0b10 << 62 | rand & ((1 << 62) - 1)
    return uuid.UUID(int=value)


# The namespace of ids derived from an append's idempotency key: fixed forever, so that a
# retry derives the same ids on any node, after any restart.
IDEMPOTENCY_NAMESPACE = uuid.UUID("5b0f3c6e-8d7a-4e51-9a3b-2c41d7e9f0a8")


def idempotent_id(principal: str, key: str, index: int) -> uuid.UUID:
    """The id of event `index` (in order, reports expanded) of an append by `principal` with
    idempotency `key`: the same request sent again names the same events, so it stores nothing new."""
    return uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{principal}\x00{key}\x00{index}")
