"""Every projection folded at once: one pass over facts in history order, one dict lookup each.

Folding projection by projection walks the facts once per projection; this walks them once
and sends each to the handlers of its type. The timeline's checkpoints and the streaming
replay both use it, so both fold exactly as `Projection.fold` does.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from .projections import Projection, State
from .records import Record

_ASSAULT = "AssaultLaunched"


class Fold:
    def __init__(self, projections: Iterable[Projection], states: Mapping[str, State] | None = None,
                 skip: Collection[str] = ()) -> None:
        """`states`: where to start (copied, never changed); `skip`: ids of retracted facts."""
        self.states: dict[str, State] = {}
        self.skip = skip
        # type -> the (handler, state) pairs it feeds
        self._dispatch: dict[str, list[tuple[Any, State]]] = {}
        for projection in projections:
            state = self.states[projection.name] = dict(states[projection.name]) if states else {}
            for kind, handler in projection.handlers.items():
                self._dispatch.setdefault(kind, []).append((handler, state))

    @property
    def types(self) -> frozenset[str]:
        """The event types some projection folds: the others change no state."""
        return frozenset(self._dispatch)

    def feed(self, records: Iterable[Record]) -> None:
        """Fold `records`, which come after everything fed before them in history order."""
        dispatch, skip = self._dispatch, self.skip
        for record in records:
            event = record.event
            feeds = dispatch.get(event["type"])
            if feeds is None or (skip and event.get("id") in skip):
                continue
            for handler, state in feeds:
                handler(state, record)

    def snapshot(self) -> dict[str, State]:
        """Shallow copies: states' values are never mutated in place (projections/base.py)."""
        return {name: dict(state) for name, state in self.states.items()}


class ByDay:
    """Feeds a fold records that come in the store's history order (by window start, then
    position), holding back each start day's facts until the day is complete: history order
    puts an assault first among its day's, and the store's order does not. The facts not
    settled on `as_of` (their window ends after it) are left out.

    A day's facts usually come in position order: then the assaults, and the others, are
    each already sorted, and fold as two runs, with no sort."""

    def __init__(self, fold: Fold, as_of: str) -> None:
        self.fold = fold
        self.as_of = as_of
        self._start: str | None = None
        self._assaults: list[Record] = []
        self._others: list[Record] = []
        self._last = 0  # the position of the day's latest record
        self._sorted = True  # whether the day's records came in position order

    def add(self, records: Iterable[Record]) -> None:
        as_of, start = self.as_of, self._start
        assaults, others = self._assaults, self._others
        last, in_order = self._last, self._sorted
        for record in records:
            e = record.event
            if e["occurred_to"] > as_of:
                continue  # pending on as_of, or not yet begun: not folded
            if e["occurred_from"] != start:
                if assaults or others:
                    self._last, self._sorted = last, in_order
                    self._flush()
                start, last, in_order = e["occurred_from"], 0, True
            position = record.position
            if position < last:
                in_order = False
            last = position
            if e["type"] == _ASSAULT:
                assaults.append(record)
            else:
                others.append(record)
        self._start, self._last, self._sorted = start, last, in_order

    def close(self) -> None:
        """Fold the last day."""
        self._flush()

    def _flush(self) -> None:
        assaults, others = self._assaults, self._others
        if not assaults:
            self.fold.feed(others)
        elif self._sorted:
            self.fold.feed(assaults)
            self.fold.feed(others)
        else:
            day = assaults + others
            day.sort(key=_rank_position)
            self.fold.feed(day)
        assaults.clear()
        others.clear()


def _rank_position(record: Record) -> tuple[int, int]:
    """History order within one start day (timeline.order without the start, which is the same)."""
    return (0 if record.event["type"] == _ASSAULT else 1, record.position)
