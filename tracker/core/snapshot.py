"""Snapshots: every projection's state at a cut date, kept so that a query need not fold the
whole log again. Pure: the shell (tracker/snapshots.py) stores them, checks them against the
log and reads the facts they need.

A snapshot at cut C holds the state at C (the fold, in history order, of every fact whose
window ended by C) and the facts still open at C (window started by C, ending after it). The
state at a later date D is the snapshot advanced by the facts that start after C and by D
(`advance`): they come after everything folded in history order, so they fold on. The open
facts that have settled by D do not: they start on or before C, so they belong among facts
already folded. For the entries they touch, a snapshot keeps what refolding needs: the entry
folded from the facts that start before its earliest open fact (`prefix`), and its settled
facts from that start on (`rest`), a window's worth. Folds are per entry
(projections/base.py), so only those entries are folded again.

Projections fold apart (each its own fact types and entries), so a snapshot of some of them
(`only`) advances as the whole one does, restricted to them, and parts join back (`joined`):
a query of one projection reads, unpickles and folds that one alone.

Like every cache here, a snapshot is checked against the log and never trusted over it: it
is valid for the log up to its `head`, and a later fact that starts by its cut, or a later
retraction of one, makes it stale (the shell drops it).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from .projections import PROJECTIONS, Pending, Projection, State
from .records import Record
from .timeline import order

# Bumped whenever a projection's fold, its state's shape or this module changes: a snapshot
# of another version is never used, and the shell rebuilds it.
VERSION = "2"
_OWNER = {kind: p for p in PROJECTIONS.values() for kind in p.handlers}
FOLDED = frozenset(_OWNER)  # the fact types some projection folds: the only ones a snapshot takes


@dataclass
class Snapshot:
    cut: str  # C: "" is the beginning of time
    states: dict[str, State]  # each projection's state at C
    open: list[Record] = field(default_factory=list)  # the facts open at C, in history order
    prefix: dict[tuple[str, Any], Any] = field(default_factory=dict)  # (projection, key) -> entry or None
    rest: dict[tuple[str, Any], list[Record]] = field(default_factory=dict)  # its settled facts from its first open

    @classmethod
    def empty(cls, names: Collection[str] = tuple(PROJECTIONS)) -> Snapshot:
        return cls("", {name: {} for name in names})

    def only(self, names: Collection[str]) -> Snapshot:
        """The snapshot of these projections alone."""
        types = _types(names)
        return Snapshot(self.cut, {name: self.states[name] for name in names},
                        [r for r in self.open if r.event["type"] in types],
                        {w: e for w, e in self.prefix.items() if w[0] in names},
                        {w: rs for w, rs in self.rest.items() if w[0] in names})

    @classmethod
    def joined(cls, parts: Iterable[Snapshot]) -> Snapshot:
        """One snapshot of the parts' projections (parts of one snapshot: one cut, apart projections)."""
        parts = list(parts)
        cuts = {part.cut for part in parts}
        if len(cuts) != 1:
            raise ValueError(f"parts of one snapshot share a cut, not {sorted(cuts)}")
        joined = cls(cuts.pop(), {})
        for part in parts:
            joined.states.update(part.states)
            joined.open += part.open
            joined.prefix.update(part.prefix)
            joined.rest.update(part.rest)
        joined.open.sort(key=order)
        return joined


def _types(names: Collection[str]) -> frozenset[str]:
    return frozenset().union(*(PROJECTIONS[name].types for name in names))


def _where(record: Record) -> tuple[str, Any]:
    owner = _OWNER[record.event["type"]]
    return owner.name, owner.state_key(record.event)


def _fold_key(projection: Projection, key: Any, entry: Any, records: Iterable[Record]) -> Any:
    """One entry folded alone from `entry` (None: absent); the new entry, or None."""
    alone: State = {} if entry is None else {key: entry}
    projection.fold(alone, records)
    return alone.get(key)


def _put(state: State, key: Any, entry: Any) -> None:
    if entry is None:
        state.pop(key, None)
    else:
        state[key] = entry


def advance(snapshot: Snapshot, tail: list[Record], day: str) -> Snapshot:
    """The snapshot at `day` (on or after its cut). `tail`: the facts that start after the cut
    and on or before `day`, of the types some projection folds (or some projection of the
    snapshot's), retracted ones left out, in history order (`timeline.order`)."""
    if day < snapshot.cut:
        raise ValueError(f"a snapshot at {snapshot.cut} cannot answer for the earlier {day}")
    if len(snapshot.states) < len(PROJECTIONS):  # a part: the other projections' facts are not its own
        types = _types(snapshot.states)
        tail = [r for r in tail if r.event["type"] in types]
    states = {name: dict(state) for name, state in snapshot.states.items()}
    settling: dict[tuple[str, Any], list[Record]] = {}
    still_open = []
    for record in snapshot.open:
        if record.event["occurred_to"] <= day:
            settling.setdefault(_where(record), []).append(record)
        else:
            still_open.append(record)
    # Entries with open facts that settled: folded again from before their earliest open fact.
    merged: dict[tuple[str, Any], list[Record]] = {}
    for where, records in settling.items():
        name, key = where
        merged[where] = sorted([*snapshot.rest.get(where, ()), *records], key=order)
        _put(states[name], key, _fold_key(PROJECTIONS[name], key, snapshot.prefix.get(where), merged[where]))
    settled = [r for r in tail if r.event["occurred_to"] <= day]
    for name in states:
        projection = PROJECTIONS[name]
        types = projection.types
        projection.fold(states[name], [r for r in settled if r.event["type"] in types])
    opened = still_open + [r for r in tail if r.event["occurred_to"] > day]
    # For the entries open at `day`: their state before their earliest open fact, and the rest.
    first: dict[tuple[str, Any], str] = {}
    for record in opened:
        where = _where(record)
        start = record.event["occurred_from"]
        if start < first.get(where, "\uffff"):
            first[where] = start
    by_key: dict[tuple[str, Any], list[Record]] = {}
    for record in settled:
        where = _where(record)
        if where in first:
            by_key.setdefault(where, []).append(record)
    prefix: dict[tuple[str, Any], Any] = {}
    rest: dict[tuple[str, Any], list[Record]] = {}
    for where, start in first.items():
        name, key = where
        if where in snapshot.prefix:  # open at the cut too: its prefix covers less, the rest follows
            base = snapshot.prefix[where]
            earlier = merged.get(where, snapshot.rest.get(where, []))
            candidates = [*earlier, *by_key.get(where, ())]
        else:  # nothing open at the cut: its state there is the fold of facts that all start before
            base = snapshot.states[name].get(key)
            candidates = by_key.get(where, [])
        before = [r for r in candidates if r.event["occurred_from"] < start]
        prefix[where] = _fold_key(PROJECTIONS[name], key, base, before) if before else base
        rest[where] = [r for r in candidates if r.event["occurred_from"] >= start]
    return Snapshot(day, states, opened, prefix, rest)


def pending(snapshot: Snapshot, name: str) -> Pending:
    """The facts open at the snapshot's cut that projection `name` folds, by rendered entry, in
    history order: what `Timeline.answer` and `timeline.pending` give as pending."""
    projection = PROJECTIONS[name]
    out: Pending = {}
    for record in snapshot.open:
        if record.event["type"] in projection.types:
            out.setdefault(projection.entry_key(record.event), []).append(record.event)
    return out
