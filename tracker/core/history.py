"""One entry's history, paged: what a state no longer carries.

A state carries each entry's current facts; the facts behind an entry (every capture,
assault and repulse of a place; every deployment of an actor at a place; every seizure of
an actor) are asked for one entry at a time, newest first in history order, a page at a
time. The cursor is a position (`before`): the fact it names and those after it in history
order are on earlier pages, so a page boundary holds even when a late report slots in.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from .errors import BadQuery
from .projections import PROJECTIONS
from .records import Record
from .summary import summarize, summary_parts, when

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000


def entry_of(projection: str, get: Callable[[str], Any]) -> tuple:
    """The rendered entry asked for, from its key fields (a place; an actor; an actor and a place)."""
    if projection not in PROJECTIONS:
        raise BadQuery(f"unknown projection '{projection}': one of {', '.join(PROJECTIONS)}", field="projection")
    fields = PROJECTIONS[projection].key_fields
    values = []
    for name in fields:
        value = get(name)
        if value is None or value == "":
            raise BadQuery(f"the history of {projection} needs {' and '.join(repr(f) for f in fields)}: "
                           f"'{name}' is missing (an id, as `tracker places` / `tracker actors` list them)",
                           field=name)
        if not isinstance(value, str):
            raise BadQuery(f"'{name}' must be an id string, got {value!r}", field=name)
        values.append(value)
    return tuple(values)


def limit_of(value: Any) -> int:
    if value is None:
        return DEFAULT_LIMIT
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LIMIT:
        raise BadQuery(f"'limit' must be a whole number from 1 to {MAX_LIMIT}, got {value!r}", field="limit")
    return value


def page(projection: str, entry: tuple, facts: list[tuple[Record, str]], as_of: str,
         known_at: datetime | None, recorded_at: datetime | None, limit: int = DEFAULT_LIMIT,
         before: int | None = None) -> dict[str, Any]:
    """`facts` in history order (Timeline.history) -> one page, newest first, with the cursor
    of the next (None on the last page)."""
    end = len(facts)
    if before is not None:
        at = next((i for i, (record, _) in enumerate(facts) if record.position == before), None)
        if at is None:
            raise BadQuery(f"'before' is {before}, which is not the position of a fact in this history: pass "
                           "the 'next_before' of the previous page", field="before")
        end = at
    start = max(0, end - limit)
    chosen = facts[start:end]
    chosen.reverse()
    entries = [{**record.as_json(), "summary": summarize(record.event), "summary_parts": summary_parts(record.event),
                "when": when(record.event), "status": status} for record, status in chosen]
    return {"projection": projection,
            "key": dict(zip(PROJECTIONS[projection].key_fields, entry, strict=True)),
            "as_of": as_of, "known_at": known_at.isoformat() if known_at else None,
            "recorded_at": recorded_at.isoformat() if recorded_at else None,
            "entries": entries, "next_before": facts[start][0].position if start > 0 else None}
