"""Bitemporal state: the log's facts with their windows, foldable at any date and as of any
knowledge or recording time.

As of a date D, a fact whose window ends on or before D is settled and folded; one whose
window holds D but ends after it is pending: not folded, shown beside the entry it touches;
one whose window starts after D is absent. Settled facts fold in history order: by window
start, then position, an assault before the other facts of its day (`order`).

Two paths give every answer, and property tests hold them equal:
- `replay()` and `pending()` filter, sort and fold from scratch: the definition;
- `Timeline` keeps facts sorted in history order as they arrive, in any order, with a
  checkpoint of every projection at each complete day X (checkpoints.py: a whole state
  every `every` facts, each day between only its changes): the fold of every fact that
  starts on or before X. The settled set at D is not a prefix of history order (a
  fact of a long window settles after facts that start later), but it differs from one only
  in the facts pending at D, which a length-classed index finds (`_Long`). So an answer at
  D takes the latest checkpoint, folds the settled facts after it, and folds again, alone,
  each entry that a pending fact touches, from the last checkpoint before that fact's
  start (folds are per key: projections/base.py). A late report of an old fact, or a
  retraction, drops the checkpoints it makes stale.

The timeline holds each fact as its JSON text, not as a decoded dict: a dict of a
~300-byte event costs ~1.5 KB, and a server keeps every fact of the log. A query decodes
only what it folds.
"""

from __future__ import annotations

import bisect
from array import array
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from sys import intern
from typing import Any, NamedTuple

import orjson

from .catalog import Catalog
from .checkpoints import MISSING, Checkpoint, Checkpoints, Day
from .dates import utc_now
from .errors import StoreError
from .fold import Fold
from .kinds import REGISTRATIONS
from .projections import PROJECTIONS, Pending, Projection, State
from .records import Record
from .summary import possibly
from .upcast import upcast

_ASSAULT = "AssaultLaunched"
_OWNER = {kind: p for p in PROJECTIONS.values() for kind in p.handlers}  # each fact type feeds one projection
_BUCKETS = (7, 31, 366)  # multi-day windows, by length in days, for the pending and late scans


def today() -> str:
    return utc_now().date().isoformat()


def order(record: Record) -> tuple[str, int, int]:
    """History order: window start, an assault first among its day's facts, then position."""
    e = record.event
    return (e.get("occurred_from") or "", 0 if e["type"] == _ASSAULT else 1, record.position)


class Fact(NamedTuple):
    """A fact as the timeline keeps it: its record with the event still encoded."""

    start: str  # interned window bounds
    rank: int
    position: int
    end: str
    recorded_at: datetime
    known_from: datetime
    type: str  # interned: a query decodes only the facts its projection folds
    key: Any  # the state entry it touches in the projection that folds it (None if none does)
    data: str | None  # the event as JSON text (orjson's bytes keep a ~4 KB buffer each: str is exact);
    # None once the texts are left to the store (Timeline.leave_texts): read back by position


# The store's texts by position, read without an await (an embedded store's own file): what a
# serving node is given so that it keeps no fact's text, only its place in history.
Texts = Callable[[Sequence[int]], Mapping[int, str]]


def _sort_key(f: Fact) -> tuple[str, int, int]:
    return (f.start, f.rank, f.position)


def _decode(facts: Iterable[Fact]) -> list[Record]:
    loads = orjson.loads
    out = []
    for f in facts:
        if f.data is None:  # an image without texts used without leave_texts: a bug, said plainly
            raise StoreError(f"the fact at position {f.position} has no text and no store to read it from")
        out.append(Record(f.position, f.recorded_at, loads(f.data), f.known_from))
    return out


def _indexes(facts: list[Fact], by_key: dict[Any, array], buckets: list[tuple[Any, array]],
             ) -> tuple[dict[Any, list[Fact]], list[tuple[Any, list[Fact]]]]:
    """Timeline._places made facts again, from `facts` in history order."""
    return ({key: [facts[i] for i in places] for key, places in by_key.items()},
            [(keys, [facts[i] for i in places]) for keys, places in buckets])


def visible(record: Record, known_at: datetime | None, recorded_at: datetime | None) -> bool:
    return (recorded_at is None or record.recorded_at <= recorded_at) and (
        known_at is None or record.known_from <= known_at)


def retractions(records: Iterable[Record], known_at: datetime | None,
                recorded_at: datetime | None = None) -> set[str]:
    """Ids retracted by the retractions known at `known_at` and recorded by `recorded_at`."""
    return {r.event["retracts"] for r in records if r.event["type"] == "EventRetracted"
            and visible(r, known_at, recorded_at)}


def _settling(records: Iterable[Record], projection: Projection, as_of: str | None, known_at: datetime | None,
              recorded_at: datetime | None) -> tuple[list[Record], Pending]:
    """The definition, from scratch: the facts settled at `as_of` (today when None), in
    history order, and those pending then, by rendered entry, in history order."""
    as_of = as_of or today()
    records = list(records)
    retracted = retractions(records, known_at, recorded_at)
    settled: list[Record] = []
    waiting: Pending = {}
    for r in sorted((r for r in records if r.event["type"] in projection.types and r.id not in retracted
                     and visible(r, known_at, recorded_at)), key=order):
        if r.event["occurred_to"] <= as_of:
            settled.append(r)
        elif r.event["occurred_from"] <= as_of:
            waiting.setdefault(projection.entry_key(r.event), []).append(r.event)
    return settled, waiting


def replay(records: Iterable[Record], projection: Projection, as_of: str | None = None,
           known_at: datetime | None = None, recorded_at: datetime | None = None) -> State:
    """The state from scratch: the reference every faster path must match. `as_of` None is today."""
    return projection.fold({}, _settling(records, projection, as_of, known_at, recorded_at)[0])


def pending(records: Iterable[Record], projection: Projection, as_of: str | None = None,
            known_at: datetime | None = None, recorded_at: datetime | None = None) -> Pending:
    """The facts pending at `as_of` by rendered entry, in history order: the reference."""
    return _settling(records, projection, as_of, known_at, recorded_at)[1]


def catalog_of(records: Iterable[Record], recorded_at: datetime | None = None) -> Catalog:
    catalog = Catalog()
    for record in sorted((r for r in records if r.event["type"] in REGISTRATIONS
                          and (recorded_at is None or r.recorded_at <= recorded_at)), key=lambda r: r.position):
        catalog.register(record.event)
    return catalog


def _merged(old: list[Fact], new: list[Fact]) -> list[Fact]:
    """Two runs in history order merged. A page of the log is mostly facts after all the
    others, with a few late reports: each of those is placed by bisection and the rest is
    copied in slices, so the keys computed are a few per late fact, not one per fact of the
    weeks of history a late report reaches back over (a sort would compute them all)."""
    out: list[Fact] = []
    i = 0
    last = _sort_key(old[-1])
    for n, fact in enumerate(new):
        key = _sort_key(fact)
        if key > last:  # this one and all after it follow the old run
            out += old[i:]
            out += new[n:]
            return out
        j = bisect.bisect_right(old, key, lo=i, key=_sort_key)
        out += old[i:j]
        out.append(fact)
        i = j
    out += old[i:]
    return out


def _put(state: State, key: Any, entry: Any) -> None:
    if entry is MISSING:
        state.pop(key, None)
    else:
        state[key] = entry


def _days_before(day: str, days: int) -> str:
    try:
        return (date.fromisoformat(day) - timedelta(days=days)).isoformat()
    except (ValueError, OverflowError):
        return ""


class _Long:
    """Facts whose window is longer than a day, by length class, sorted by start: the
    candidates for pending at D (start <= D < end) are those starting within the class's
    longest window before D."""

    def __init__(self) -> None:
        self.buckets: list[tuple[list[tuple[str, int, int]], list[Fact]]] = [([], []) for _ in (*_BUCKETS, None)]
        self.longest = [0] * (len(_BUCKETS) + 1)

    def add(self, fact: Fact) -> None:
        length = (date.fromisoformat(fact.end) - date.fromisoformat(fact.start)).days
        b = bisect.bisect_left(_BUCKETS, length)
        keys, facts = self.buckets[b]
        key = _sort_key(fact)
        i = bisect.bisect_right(keys, key)
        keys.insert(i, key)
        facts.insert(i, fact)
        self.longest[b] = max(self.longest[b], length)

    def reaching(self, day: str, upto: tuple[str, int, int]) -> list[Fact]:
        """Facts that start before `upto` (a history-order key) and within their class's
        longest window before `day`: every one whose window can reach `day`, and more."""
        out: list[Fact] = []
        for (keys, facts), longest in zip(self.buckets, self.longest, strict=True):
            if facts:
                lo = bisect.bisect_left(keys, (_days_before(day, longest), 0, 0))
                out += facts[lo:bisect.bisect_right(keys, upto)]
        return out

    def open_at(self, day: str) -> list[Fact]:
        """Facts with start <= day < end, in history order."""
        out = [f for f in self.reaching(day, (day, 2, 0)) if f.end > day]
        out.sort(key=_sort_key)
        return out


HOT = 64  # an entry with this many facts keeps its settled state at whole checkpoints (see Checkpoint)


class Timeline:
    def __init__(self, projections: Iterable[Projection] = PROJECTIONS.values(), every: int = 10_000,
                 hot: int = HOT) -> None:
        self.projections = {p.name: p for p in projections}
        self.every = every  # facts between whole checkpoints (days between keep their changes)
        self.hot = hot  # entries with this many facts keep their settled state at checkpoints
        self.catalog = Catalog()
        self.head = 0  # the highest position added
        self.count = 0
        self._facts: list[Fact] = []  # in history order (bisected by _sort_key: no parallel list of keys)
        self._by_key: dict[Any, list[Fact]] = {}  # (projection, state key) -> its facts in history order
        self._entries: dict[tuple[str, tuple], set[Any]] = {}  # (projection, rendered entry) -> its state keys
        self._long = _Long()
        # hash of a fact's id -> its start: where a retraction of it makes checkpoints stale (a
        # hash, not the id: a collision only drops a few checkpoints more, and 1M ids cost ~85 MB)
        self._starts: dict[int, str] = {}
        self._retractions: list[Record] = []
        self._retracted: set[str] = set()
        self._last_known: datetime | None = None  # the latest knowledge time of any fact or retraction
        self._last_recorded: datetime | None = None  # the latest recording time of any record
        self._registrations: list[Record] = []
        self._warm: dict[int, Record] = {}  # while checkpoints are built: the recent days' facts, decoded
        self._texts: Texts | None = None  # set: facts keep no text, and are read back through it
        self.checkpoints = Checkpoints(list(self.projections))
        self.checkpoints_built = 0  # for /metrics: checkpoints made (whole or day)

    def __getstate__(self) -> dict[str, Any]:
        """Pickled whole (a server's image, tracker/images.py) but for its projections, which
        are code: found again by name when read back. The decoded cache starts empty.

        The facts go as columns, and the indexes as the facts' places in history order:
        unpickled as NamedTuples, each fact's argument tuple would stay in the unpickler's
        memo until the end, and a million of them leave freed holes in the allocator's pools
        that the process never gives back (measured at 1M events: 1.8 GB resident after
        reading the image, against 1.4 GB after folding the log)."""
        state = self.__dict__.copy()
        state["projections"] = list(self.projections)
        state["_warm"] = {}
        state["_texts"] = None  # the reader is the process's: the next one gives its own
        facts = self._facts
        state["_facts"] = [[f[i] for f in facts] for i in range(len(Fact._fields))]
        state["_by_key"], buckets = self._places()
        state["_long"] = (self._long.longest, buckets)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state["projections"] = {name: PROJECTIONS[name] for name in state["projections"]}
        facts = state["_facts"] = list(map(Fact._make, zip(*state["_facts"], strict=True)))
        longest, buckets = state["_long"]
        long = state["_long"] = _Long()
        long.longest = longest
        state["_by_key"], long.buckets = _indexes(facts, state["_by_key"], buckets)
        self.__dict__.update(state)

    def _places(self) -> tuple[dict[Any, array], list[tuple[Any, array]]]:
        """The indexes (by key, and the long windows' buckets) as the places of their facts in
        history order: what still holds once the facts are new objects (_indexes)."""
        at = {id(f): i for i, f in enumerate(self._facts)}
        return ({key: array("q", [at[id(f)] for f in kept]) for key, kept in self._by_key.items()},
                [(keys, array("q", [at[id(f)] for f in kept])) for keys, kept in self._long.buckets])

    def leave_texts(self, texts: Texts) -> None:
        """From now on keep no fact's text: read each back by position through `texts` when an
        answer folds or shows it (a tail after a checkpoint, the facts pending at a date, an
        entry's history). A serving node's memory then holds where each fact sits in history,
        not what it says: the texts were ~40% of it at 1M events. Facts held already lose theirs."""
        self._texts = texts
        if not any(f.data is not None for f in self._facts):
            return
        by_key, buckets = self._places()
        self._facts = [f._replace(data=None) for f in self._facts]
        self._by_key, self._long.buckets = _indexes(self._facts, by_key, buckets)

    def events(self, facts: Iterable[Fact]) -> list[dict[str, Any]]:
        """The events of `facts` (from `overlapping`), decoded in the current shape."""
        return [r.event for r in self._records(facts)]

    @property
    def keeps_texts(self) -> bool:
        """Whether its facts carry their texts (else it needs `leave_texts` before it answers)."""
        return self._texts is None and all(f.data is not None for f in self._facts[:1])

    def _records(self, facts: Iterable[Fact]) -> list[Record]:
        """Facts decoded, in the current shape: from their texts, or read back from the store."""
        texts = self._texts
        if texts is None:
            return _decode(facts)
        facts = facts if isinstance(facts, list) else list(facts)
        read = texts([f.position for f in facts if f.data is None])
        loads = orjson.loads
        try:
            return [Record(f.position, f.recorded_at, loads(f.data) if f.data is not None
                           else upcast(loads(read[f.position])), f.known_from) for f in facts]
        except KeyError as e:
            raise StoreError(f"the store has no event at position {e.args[0]}, which the timeline holds") from None

    @property
    def checkpoints_dropped(self) -> int:
        """For /metrics: checkpoints dropped by a late fact or retraction."""
        return self.checkpoints.dropped

    def add(self, records: Iterable[Record]) -> None:
        """Take records in any order (each position once): late ones slot into history."""
        late_registration = False
        new: list[Fact] = []
        targets: list[str] = []
        for record in records:
            self.count += 1
            event = record.event
            kind = event["type"]
            if record.position > self.head:
                self.head = record.position
            if self._last_recorded is None or record.recorded_at > self._last_recorded:
                self._last_recorded = record.recorded_at
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
                self._retracted.add(event["retracts"])
                targets.append(event["retracts"])
                continue
            if "occurred_from" not in event:
                continue  # no time: nothing to fold (never stored by this release's validation)
            owner = _OWNER.get(kind)
            key = None
            if owner is not None:
                key = owner.state_key(event)
                # the key object the entry's facts hold already: a million facts share a few thousand
                # keys (each decoded anew would cost ~50 MB at 1M events, and as many objects in an image)
                kept = self._by_key.get((owner.name, key))
                if kept:
                    key = kept[0].key
                self._entries.setdefault((owner.name, owner.entry_key(event)), set()).add(key)
            fact = Fact(intern(event["occurred_from"]), 0 if kind == _ASSAULT else 1, record.position,
                        intern(event["occurred_to"]), record.recorded_at, record.known_from, intern(kind),
                        key, orjson.dumps(event).decode() if self._texts is None else None)
            new.append(fact)
            if event.get("id") is not None:
                self._starts[hash(event["id"])] = fact.start
        if new:
            self._merge(new)
        for target in targets:  # after the batch's facts are in: a target may come later in it
            start = self._starts.get(hash(target))
            if start is not None:
                self._invalidate(start)
        if late_registration:
            self.catalog = catalog_of(self._registrations)

    def _merge(self, new: list[Fact]) -> None:
        facts = self._facts
        new.sort(key=_sort_key)
        for fact in new:
            if fact.key is not None:
                self._insert(self._by_key.setdefault((_OWNER[fact.type].name, fact.key), []), fact)
            if fact.end != fact.start:
                self._long.add(fact)
        first = _sort_key(new[0])
        if not facts or first > _sort_key(facts[-1]):  # the usual case: the batch is all after history
            facts.extend(new)
        else:
            at = bisect.bisect_right(facts, first, key=_sort_key)
            facts[at:] = _merged(facts[at:], new)
        self._invalidate(new[0].start)

    @staticmethod
    def _insert(facts: list[Fact], fact: Fact) -> None:
        if not facts or _sort_key(fact) > _sort_key(facts[-1]):
            facts.append(fact)
        else:
            facts.insert(bisect.bisect_right(facts, _sort_key(fact), key=_sort_key), fact)

    def _invalidate(self, start: str) -> None:
        """Checkpoints cut on or after `start` folded a history that has changed."""
        self.checkpoints.invalidate(start)

    def prepare(self, budget: int) -> bool:
        """Checkpoints for up to about `budget` facts more; True once every complete day has
        one. A starting server builds them a slice at a time before it answers, so that its
        first answer is not the one that folds the whole log, and it can say how far it is."""
        return self._extend_checkpoints(budget)

    def _extend_checkpoints(self, budget: int | None = None) -> bool:
        """Checkpoint every complete day after the last one (the newest day stays out:
        appends keep coming to it): a whole one once `every` facts have passed since the
        last whole one, else the day's changes (checkpoints.py). False if `budget` facts
        were folded before the end."""
        facts, cuts = self._facts, self.checkpoints
        last = cuts.last()
        folded = begun = last.folded
        if folded >= len(facts) or bisect.bisect_right(facts, (facts[folded].start, 2, 0), key=_sort_key) >= len(facts):
            return True
        fold = Fold(self.projections.values(), cuts.states_at(list(self.projections), last.cut)[1], self._retracted)
        folded_types = frozenset().union(*(p.types for p in self.projections.values()))
        # refolds at each cut read the facts of the longest window before it: decoded once, kept meanwhile
        recent: deque[tuple[str, list[int]]] = deque()
        reach = max(self._long.longest)
        try:
            while True:
                day = facts[folded].start
                index = bisect.bisect_right(facts, (day, 2, 0), key=_sort_key)
                if index >= len(facts):
                    return True
                if budget is not None and folded - begun >= budget:
                    return False
                todo = [f for f in facts[folded:index] if f.type in folded_types]
                records = self._records(todo)
                fold.feed(records)
                self._warm.update((r.position, r) for r in records)
                recent.append((day, [r.position for r in records]))
                oldest = _days_before(day, reach + 1)
                while recent and recent[0][0] < oldest:
                    for position in recent.popleft()[1]:
                        del self._warm[position]
                folded = self._cut_day(day, index, todo, fold)
        finally:
            self._warm.clear()

    def _cut_day(self, day: str, index: int, todo: list[Fact], fold: Fold) -> int:
        """The checkpoint at `day`, whose facts `fold` has just folded: whole or the day's changes."""
        cuts = self.checkpoints
        touched = {(_OWNER[f.type].name, f.key) for f in todo}
        settled = self._settled_at(day, cuts.last(), touched)
        if index - cuts.whole[-1].folded >= self.every:
            cuts.add_whole(Checkpoint(day, index, fold.snapshot(), settled))
        else:
            changed: dict[str, dict[Any, Any]] = {}
            gone: dict[str, list[Any]] = {}
            for name, key in touched:
                entry = fold.states[name].get(key, MISSING)
                if entry is MISSING:
                    gone.setdefault(name, []).append(key)
                else:
                    changed.setdefault(name, {})[key] = entry
            cuts.add_day(Day(day, index, changed, gone, settled))
        self.checkpoints_built += 1
        return index

    def _settled_at(self, cut: str, previous: Checkpoint | Day,
                    touched: set[tuple[str, Any]]) -> dict[str, dict[Any, tuple[Any, str]]]:
        """For each busy entry with facts open at `cut`: its settled state there (see
        Checkpoint). `previous`: the cut before, the day before `cut`'s facts; an entry
        none of `cut`'s facts touch keeps its settled state from there while none settles."""
        out: dict[str, dict[Any, tuple[Any, str]]] = {}
        before = previous.settled or {}
        open_ = self._long.open_at(cut)
        for name, projection in self.projections.items():
            first: dict[Any, tuple[str, str]] = {}  # key -> (earliest start, earliest end) of its open facts
            for f in open_:
                if f.type in projection.types and len(self._by_key.get((name, f.key), ())) >= self.hot:
                    start, end = first.get(f.key, (f.start, f.end))
                    first[f.key] = (min(start, f.start), min(end, f.end))
            kept: dict[Any, tuple[Any, str]] = {}
            was = before.get(name, {})
            for key, (start, end) in first.items():
                then = was.get(key)
                if then is not None and cut < then[1] and (name, key) not in touched:
                    kept[key] = then  # the same facts open, none settled, none new
                    continue
                alone: State = {}
                self._refold(name, key, start, cut, alone, previous)  # the latest cut before this one
                kept[key] = (alone.get(key, MISSING), end)
            out[name] = kept
        return out

    def _answer(self, name: str, as_of: str) -> tuple[State, Pending]:
        """The settled state and the pending facts at `as_of`.

        From the latest checkpoint on or before `as_of`: its entries are right for every key
        with no fact pending at `as_of` (all their facts up to the cut are settled then), and
        the facts after the cut that are settled by `as_of` are folded on. A key with a
        pending fact is folded again alone (`_refold`)."""
        projection = self.projections[name]
        types, retracted = projection.types, self._retracted
        latest, states = self.checkpoints.states_at([name], as_of)
        cut, folded = latest.cut, latest.folded
        waiting = [f for f in self._long.open_at(as_of) if f.type in types]
        first: dict[Any, str] = {}  # key -> the earliest start of its pending facts
        for f in waiting:
            if f.start < first.get(f.key, "\uffff"):
                first[f.key] = f.start
        state = states[name]
        # no fact starts after the cut and by `as_of` when the cut is `as_of`: a complete day's usual case
        end = folded if cut == as_of else bisect.bisect_right(self._facts, (as_of, 2, 0), key=_sort_key)
        tail = self._records(f for f in self._facts[folded:end]
                       if f.type in types and f.end <= as_of and f.key not in first)
        if retracted:
            tail = [r for r in tail if r.event.get("id") not in retracted]
        projection.fold(state, tail)
        for key, start in first.items():
            self._refold(name, key, start, as_of, state, latest)
        pending: Pending = {}
        for record in self._records(waiting):
            if record.event.get("id") not in retracted:
                pending.setdefault(projection.entry_key(record.event), []).append(record.event)
        return state, pending

    def _refold(self, name: str, key: Any, first: str, as_of: str, state: State, latest: Checkpoint | Day) -> None:
        """`key`'s entry at `as_of`, from the last checkpoint cut before `first` (the start of
        its earliest pending fact): every fact of it up to that cut is settled at `as_of`.
        `latest`: the latest checkpoint on or before `as_of`, whole or day."""
        projection = self.projections[name]
        facts = self._by_key.get((name, key), [])
        kept = latest.settled[name].get(key) if latest.settled else None
        if kept is not None and as_of < kept[1]:
            # its facts open at the latest cut are all still pending at `as_of`: start from its state without them
            cut, entry = latest.cut, kept[0]
        else:
            cut, entry = self.checkpoints.entry_before(name, key, first)
        alone: State = {} if entry is MISSING else {key: entry}
        if cut == as_of:  # nothing of it starts after the cut and by `as_of`
            _put(state, key, entry)
            return
        start = bisect.bisect_right(facts, (cut, 2, 0), key=_sort_key) if cut else 0
        end = bisect.bisect_right(facts, (as_of, 2, 0), key=_sort_key)
        chosen = [f for f in facts[start:end] if f.end <= as_of]
        warm = self._warm  # while checkpoints are built, most are decoded already
        if warm:
            cold = {r.position: r for r in self._records([f for f in chosen if f.position not in warm])}
            records = [warm.get(f.position) or cold[f.position] for f in chosen]
        else:
            records = self._records(chosen)
        if self._retracted:
            records = [r for r in records if r.event.get("id") not in self._retracted]
        projection.fold(alone, records)
        _put(state, key, alone.get(key, MISSING))

    def state(self, name: str, as_of: str | None = None, known_at: datetime | None = None,
              recorded_at: datetime | None = None) -> State:
        return self.answer(name, as_of, known_at, recorded_at)[0]

    def answer(self, name: str, as_of: str | None = None, known_at: datetime | None = None,
               recorded_at: datetime | None = None) -> tuple[State, Pending]:
        """(settled state, pending facts) of one projection."""
        as_of = as_of or today()
        projection = self.projections[name]
        if known_at is not None and (self._last_known is None or known_at >= self._last_known):
            known_at = None  # everything was known by then: the same as now
        recorded_at = self._effective(recorded_at)
        if known_at is not None or recorded_at is not None:
            types = projection.types
            facts = self._records(f for f in self._facts if f.type in types and (
                known_at is None or f.known_from <= known_at) and (recorded_at is None or f.recorded_at <= recorded_at))
            settled, waiting = _settling(facts + self._retractions, projection, as_of, known_at, recorded_at)
            return projection.fold({}, settled), waiting
        self._extend_checkpoints()
        return self._answer(name, as_of)

    def history(self, name: str, entry: tuple, as_of: str | None = None, known_at: datetime | None = None,
                recorded_at: datetime | None = None) -> list[tuple[Record, str]]:
        """The facts about one rendered entry (a place, an actor, an actor at a place) that
        have begun by `as_of`, as known at `known_at` from the log as recorded by
        `recorded_at`, in history order, each with its status then: settled, pending or
        retracted. What a state no longer carries: it reads the entry's own facts only."""
        as_of = as_of or today()
        facts: list[Fact] = []
        for key in self._entries.get((name, entry), ()):
            facts += self._by_key.get((name, key), ())
        if len(self._entries.get((name, entry), ())) > 1:
            facts.sort(key=_sort_key)
        retracted = retractions(self._retractions, known_at, recorded_at) if (
            known_at is not None or recorded_at is not None) else self._retracted
        out = []
        seen = [f for f in facts if f.start <= as_of and (known_at is None or f.known_from <= known_at)
                and (recorded_at is None or f.recorded_at <= recorded_at)]
        for record in self._records(seen):
            status = ("retracted" if record.event.get("id") in retracted
                      else "settled" if record.event["occurred_to"] <= as_of else "pending")
            out.append((record, status))
        return out

    def _effective(self, recorded_at: datetime | None) -> datetime | None:
        """None when everything was recorded by then: the same as now."""
        if recorded_at is not None and (self._last_recorded is None or recorded_at >= self._last_recorded):
            return None
        return recorded_at

    def known(self, known_at: datetime | None, names: Iterable[str] | None = None) -> Timeline:
        """The timeline of what was known at `known_at`: itself when everything was, else a new
        one, of the projections `names` (all by default), holding their facts and the
        retractions known by then, and every registration (answers as known then name things
        as now). For many questions at one knowledge time (a chart's days): each answer from it
        takes the checkpointed path, where `answer(known_at=...)` folds from scratch."""
        if known_at is None or self._last_known is None or known_at >= self._last_known:
            return self
        projections = [self.projections[n] for n in names] if names is not None else list(self.projections.values())
        types = frozenset().union(*(p.types for p in projections))
        timeline = Timeline(projections, self.every, self.hot)
        timeline.add([*self._registrations, *self._records(f for f in self._facts if f.type in types
                                                     and f.known_from <= known_at),
                      *(r for r in self._retractions if r.known_from <= known_at)])
        return timeline

    def span(self) -> tuple[str, str] | None:
        """The first day of the earliest fact's window and the last of the latest, or None
        without facts (retracted ones count: a span, not a state)."""
        if not self._facts:
            return None
        return self._facts[0].start, max(f.end for f in self._facts)

    def overlapping(self, start: str, end: str, known_at: datetime | None = None) -> list[Fact]:
        """The facts whose window overlaps start..end, known at `known_at`, not retracted as
        known then, in history order: still encoded (a chart counts them by their dates). Found
        by bisection (facts starting in the range) and the long-window index (those starting
        before it), and only the facts on a retracted fact's first day are decoded."""
        lo = bisect.bisect_left(self._facts, (start, 0, 0), key=_sort_key)
        hi = bisect.bisect_right(self._facts, (end, 2, 0), key=_sort_key)
        found = self._facts[lo:hi]
        found += [f for f in self._long.reaching(start, (start, -1, 0)) if f.end >= start]  # starting before it
        if known_at is not None:
            found = [f for f in found if f.known_from <= known_at]
        gone = retractions(self._retractions, known_at) if known_at is not None else self._retracted
        if gone:
            days = {self._starts.get(hash(target)) for target in gone}
            ids = {r.position: r.event.get("id") for r in self._records([f for f in found if f.start in days])}
            found = [f for f in found if f.start not in days or ids[f.position] not in gone]
        found.sort(key=_sort_key)
        return found

    def records(self) -> list[Record]:
        """Every record the timeline holds, decoded (facts in history order, then retractions
        and registrations): what `replay()` from scratch would be given."""
        return self._records(self._facts) + self._retractions + self._registrations

    def position_at(self, recorded_at: datetime | None) -> int:
        """The log's head as it stood at `recorded_at` (positions grow with recording time)."""
        if recorded_at is None:
            return self.head
        everything: tuple[Fact | Record, ...] = (*self._facts, *self._retractions, *self._registrations)
        return max((r.position for r in everything if r.recorded_at <= recorded_at), default=0)

    def render(self, name: str, as_of: str | None = None, known_at: datetime | None = None,
               recorded_at: datetime | None = None) -> dict[str, Any]:
        """The answer as `tracker state X --json` prints it."""
        as_of = as_of or today()
        state, waiting = self.answer(name, as_of, known_at, recorded_at)
        effective = self._effective(recorded_at)
        catalog = self.catalog if effective is None else catalog_of(self._registrations, effective)
        return rendered(self.projections[name], state, waiting, catalog, as_of, self.position_at(effective),
                        known_at, recorded_at)


def rendered(projection: Projection, state: State, waiting: Pending, catalog: Catalog, as_of: str, position: int,
             known_at: datetime | None = None, recorded_at: datetime | None = None) -> dict[str, Any]:
    """A state as `tracker state X --json` prints it, whichever path folded it."""
    entries = projection.render(state, catalog, waiting)
    if waiting:  # one phrasing for every reader (CLI, watch, dashboard): "possibly captured by ..."
        for entry in entries:
            if entry["pending"]:
                entry["pending_text"] = [possibly(e, catalog.label) for e in entry["pending"]]
    return {"projection": projection.name, "as_of": as_of,
            "known_at": known_at.isoformat() if known_at else None,
            "recorded_at": recorded_at.isoformat() if recorded_at else None,
            "position": position, projection.collection: entries}
