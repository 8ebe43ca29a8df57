"""Bitemporal state: the log's records in history order, foldable at any date and knowledge time.

Two paths give every answer, and property tests hold them equal:
- `replay()` sorts, filters and folds from scratch: the definition;
- `Timeline` keeps facts sorted by (occurred_on, position) as they arrive, in any order,
  with a checkpoint of every projection each `every` facts, so an as-of query folds
  only the tail after the nearest checkpoint. A late report of an old fact, or a
  retraction, drops the checkpoints it makes stale; the next query rebuilds them.

The timeline holds each fact as its JSON text, not as a decoded dict: a dict of a
~300-byte event costs ~1.5 KB, and a server keeps every fact of the log. A query decodes
only the tail it folds (at most `every` facts after a checkpoint).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from datetime import datetime
from sys import intern
from typing import Any, NamedTuple

import orjson

from .catalog import Catalog
from .events import REGISTRATIONS
from .fold import Fold
from .projections import PROJECTIONS, Projection, State
from .records import Record

_LAST = float("inf")


def _order(record: Record) -> tuple[str, int]:
    return (record.event.get("occurred_on") or "", record.position)


def _first(pair: tuple[Any, Any]) -> Any:
    return pair[0]


class Fact(NamedTuple):
    """A fact as the timeline keeps it: its record, with the event still encoded."""

    position: int
    recorded_at: datetime
    known_from: datetime
    type: str  # interned: a query decodes only the facts its projection folds
    data: str  # the canonical event as JSON text (orjson's bytes keep a ~4 KB buffer each: str is exact)


def _decode(facts: Iterable[Fact]) -> list[Record]:
    loads = orjson.loads
    return [Record(f.position, f.recorded_at, loads(f.data), f.known_from) for f in facts]


def retractions(records: Iterable[Record], known_at: datetime | None) -> set[str]:
    """Ids retracted by retractions known at `known_at` (all of them when None)."""
    return {r.event["retracts"] for r in records if r.event["type"] == "EventRetracted"
            and (known_at is None or r.known_from <= known_at)}


def replay(records: Iterable[Record], projection: Projection, as_of: str | None = None,
           known_at: datetime | None = None) -> State:
    """The state from scratch: the reference every faster path must match."""
    records = list(records)
    retracted = retractions(records, known_at)
    facts = sorted((r for r in records if r.event["type"] in projection.types
                    and r.id not in retracted
                    and (known_at is None or r.known_from <= known_at)
                    and (as_of is None or r.event["occurred_on"] <= as_of)), key=_order)
    return projection.fold({}, facts)


def catalog_of(records: Iterable[Record]) -> Catalog:
    catalog = Catalog()
    for record in sorted((r for r in records if r.event["type"] in REGISTRATIONS), key=lambda r: r.position):
        catalog.register(record.event)
    return catalog


class Timeline:
    def __init__(self, projections: Iterable[Projection] = PROJECTIONS.values(), every: int = 1000) -> None:
        self.projections = {p.name: p for p in projections}
        self.every = every
        self.catalog = Catalog()
        self.head = 0  # the highest position added
        self.count = 0
        self._keys: list[tuple[str, int]] = []  # (occurred_on, position), sorted
        self._facts: list[Fact] = []  # parallel to _keys
        self._index: dict[str, tuple[str, int]] = {}  # fact id -> its key
        self._retractions: list[Record] = []
        self._retracted: set[str] = set()
        self._last_known: datetime | None = None  # the latest knowledge time of any fact or retraction
        self._registrations: list[Record] = []
        self._checkpoints: list[tuple[int, dict[str, State]]] = [(0, {n: {} for n in self.projections})]

    def add(self, records: Iterable[Record]) -> None:
        """Take records in any order (each position once): late ones slot into history.

        A batch is sorted once and merged into history in one pass (Timsort merges the two
        sorted runs in linear time), not inserted record by record: a late record inserted
        alone costs a move of every later fact."""
        late_registration = False
        new: list[tuple[tuple[str, int], Fact]] = []
        targets: list[str] = []
        index, dumps = self._index, orjson.dumps
        for record in records:
            self.count += 1
            event = record.event
            kind = event["type"]
            if record.position > self.head:
                self.head = record.position
            elif kind in REGISTRATIONS:
                late_registration = True
            if kind in REGISTRATIONS:
                self._registrations.append(record)
                if not late_registration:
                    self.catalog.register(event)
                continue
            if self._last_known is None or record.known_from > self._last_known:
                self._last_known = record.known_from
            if kind == "EventRetracted":
                self._retractions.append(record)
                target = event["retracts"]
                self._retracted.add(target)
                targets.append(target)
                continue
            key = (intern(event.get("occurred_on") or ""), record.position)
            new.append((key, Fact(record.position, record.recorded_at, record.known_from, intern(kind),
                                     dumps(event).decode())))
            ident = event.get("id")
            if ident is not None:
                index[ident] = key
        if new:
            self._merge(new)
        for target in targets:  # after the batch's facts are in: a target may come later in it
            if target in index:
                self._invalidate(bisect.bisect_left(self._keys, index[target]))
        if late_registration:
            self.catalog = catalog_of(self._registrations)

    def _merge(self, new: list[tuple[tuple[str, int], Fact]]) -> None:
        keys, facts = self._keys, self._facts
        new.sort(key=_first)  # keys are unique (positions are): records are never compared
        first = new[0][0]
        if not keys or first > keys[-1]:  # the usual case: the batch is all after history
            keys.extend([k for k, _ in new])
            facts.extend([r for _, r in new])
            return
        at = bisect.bisect_right(keys, first)
        if len(new) <= 8:  # a few late records: insert each
            for key, record in new:
                i = bisect.bisect_right(keys, key, at)
                keys.insert(i, key)
                facts.insert(i, record)
        else:  # merge the two sorted runs: history from `at` on, and the batch
            merged = list(zip(keys[at:], facts[at:], strict=True))
            merged += new
            merged.sort(key=_first)
            del keys[at:], facts[at:]
            keys.extend([k for k, _ in merged])
            facts.extend([r for _, r in merged])
        self._invalidate(at)

    def _invalidate(self, at: int) -> None:
        """Checkpoints past fact index `at` folded a history that has changed."""
        while self._checkpoints[-1][0] > at:
            self._checkpoints.pop()

    def _extend_checkpoints(self) -> None:
        start, states = self._checkpoints[-1]
        end = len(self._facts)
        if end - start < self.every:
            return
        fold = Fold(self.projections.values(), states, self._retracted)
        facts = self._facts
        folded = frozenset().union(*(p.types for p in self.projections.values()))  # decode nothing else
        for index in range(start, end - self.every + 1, self.every):
            fold.feed(_decode([f for f in facts[index:index + self.every] if f.type in folded]))
            self._checkpoints.append((index + self.every, fold.snapshot()))

    def state(self, name: str, as_of: str | None = None, known_at: datetime | None = None) -> State:
        projection = self.projections[name]
        if known_at is not None and (self._last_known is None or known_at >= self._last_known):
            known_at = None  # everything was known by then: the same as now
        if known_at is not None:
            types = projection.types
            facts = _decode(f for f in self._facts if f.known_from <= known_at and f.type in types)
            return replay(facts + self._retractions, projection, as_of, known_at)
        end = len(self._facts) if as_of is None else bisect.bisect_right(self._keys, (as_of, _LAST))
        self._extend_checkpoints()
        at = bisect.bisect_right(self._checkpoints, end, key=lambda c: c[0]) - 1
        start, states = self._checkpoints[at]
        state = dict(states[name])
        retracted = self._retracted
        types = projection.types
        tail = _decode([f for f in self._facts[start:end] if f.type in types])
        if retracted:
            tail = [r for r in tail if r.event.get("id") not in retracted]
        return projection.fold(state, tail)

    def records(self) -> list[Record]:
        """Every record the timeline holds, decoded (facts in history order, then retractions
        and registrations): what `replay()` from scratch would be given."""
        return _decode(self._facts) + self._retractions + self._registrations

    def render(self, name: str, as_of: str | None = None, known_at: datetime | None = None) -> dict[str, Any]:
        """The answer as `tracker state X --json` prints it."""
        projection = self.projections[name]
        return {"projection": name, "as_of": as_of,
                "known_at": known_at.isoformat() if known_at else None, "position": self.head,
                projection.collection: projection.render(self.state(name, as_of, known_at), self.catalog)}
