"""A stored event as the domain sees it: decoded, trusted, with its knowledge time.

Stored events were validated when appended, so decoding is plain JSON parsing with no
model validation: that is the replay fast path.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any, NamedTuple

import orjson

from .dates import start_of_day
from .upcast import upcast


class Record(NamedTuple):
    """Immutable; a NamedTuple rather than a frozen dataclass because it is ~3x cheaper to
    make, and a replay makes one per event."""

    position: int
    recorded_at: datetime
    event: dict[str, Any]  # the canonical event (tracker.events.canonical)
    known_from: datetime  # reported_on's start of day if given, else recorded_at
    recorded_by: str | None = None  # who appended it (a token's name, local:<user>, ...); None: before audit

    @property
    def id(self) -> str:
        return self.event["id"]

    @property
    def type(self) -> str:
        return self.event["type"]

    def as_json(self) -> dict[str, Any]:
        """The wire and CLI shape of a stored event: `recorded_by` is null for events stored
        before the log recorded who appended them."""
        return {"position": self.position, "id": self.event.get("id"),
                "recorded_at": self.recorded_at.isoformat(timespec="microseconds"), "recorded_by": self.recorded_by,
                "event": self.event}


def knowledge_time(event: dict[str, Any], recorded_at: datetime) -> datetime:
    reported = event.get("reported_on")
    return start_of_day(date.fromisoformat(reported)) if reported else recorded_at


def make_record(position: int, recorded_at: datetime, event: dict[str, Any]) -> Record:
    """A record of `event` in the current shape (upcast.py: a copy, the caller's dict is kept)."""
    return Record(position, recorded_at, upcast(dict(event)), knowledge_time(event, recorded_at))


def decode(position: int, recorded_at: datetime, data: str | bytes, recorded_by: str | None = None) -> Record:
    event = upcast(orjson.loads(data))
    return Record(position, recorded_at, event, knowledge_time(event, recorded_at), recorded_by)


_DAY_STARTS: dict[str, datetime] = {}  # reported_on -> its start of day: a few thousand dates at most


def decode_many(stored: Iterable[Any]) -> list[Record]:
    """`decode` for a page of StoredEvents: the replay fast path (no validation, one
    orjson parse per event, each reported_on day parsed once per process), each event read
    in the current shape (upcast.py)."""
    loads, starts = orjson.loads, _DAY_STARTS
    out: list[Record] = []
    append = out.append
    for s in stored:
        event = upcast(loads(s.data))
        reported = event.get("reported_on")
        if reported:
            known = starts.get(reported)
            if known is None:
                known = starts[reported] = start_of_day(date.fromisoformat(reported))
        else:
            known = s.recorded_at
        append(Record(s.position, s.recorded_at, event, known, s.recorded_by))
    return out
