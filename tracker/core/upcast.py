"""Reading stored events of older shapes as the current shape (upcasting).

The log is immutable: an event is stored once, in the shape its release wrote, and never
rewritten. Readers see every event in the current shape, made here when a record is decoded
(records.decode_many), so projections, the CLI and the wire handle one shape only:

- every fact carries its window, `occurred_from` and `occurred_to` (inclusive ISO dates):
  an `occurred_on` with `precision` day, week (ISO, Monday to Sunday), month or year
  expands to that window; a window given as such is kept;
- a place carries `geo_precision` (ACLED's 1-3): the older `approximate` flag reads as 2
  when true, 1 when false;
- `at_least` is the list of figures that are lower bounds: the older `true` names every
  figure the event gives, `false` none.

Export and `tracker verify` work on the stored text, never on this shape, so a log moved
between stores keeps its digest.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from .dates import window_end, window_start

_ENDS: dict[tuple[str, str], str] = {}  # (occurred_on, precision) -> the window's last day
_FIGURES = {"CiviliansDisplaced": ("count",), "ResourceControlled": ("share_percent", "output")}
_NO_WINDOW = frozenset({"ActorRegistered", "PlaceRegistered", "EventRetracted"})


def _end(start: str, precision: str) -> str:
    found = _ENDS.get((start, precision))
    if found is None:
        found = window_end(date.fromisoformat(start), precision).isoformat()
        if len(_ENDS) < 200_000:
            _ENDS[(start, precision)] = found
    return found


def upcast(event: dict[str, Any]) -> dict[str, Any]:
    """The event in the current shape; changes the dict in place (a fresh decode) and returns it."""
    kind = event["type"]
    if kind in _NO_WINDOW:
        if kind == "PlaceRegistered" and "geo_precision" not in event:
            event["geo_precision"] = 2 if event.get("approximate") else 1
        return event
    if "occurred_from" not in event:
        on = event.get("occurred_on")
        if on is not None:
            precision = event.get("precision", "day")
            event["occurred_from"] = on if precision == "day" else _start(on, precision)
            event["occurred_to"] = on if precision == "day" else _end(on, precision)
    at_least = event.get("at_least")
    if type(at_least) is bool:
        event["at_least"] = [f for f in _FIGURES.get(kind, ()) if event.get(f) is not None] if at_least else []
    return event


def _start(on: str, precision: str) -> str:
    return window_start(date.fromisoformat(on), precision).isoformat()


def window(event: dict[str, Any]) -> tuple[str, str] | None:
    """(occurred_from, occurred_to) of an upcast fact; None for one without a time."""
    start = event.get("occurred_from")
    return None if start is None else (start, event["occurred_to"])
