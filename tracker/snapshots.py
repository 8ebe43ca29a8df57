"""Persisted snapshots: a one-shot query (`tracker state`) answered without folding the log.

The pure part is tracker/core/snapshot.py. Here: the store keeps snapshots (a cache beside
the log, per the snapshot code's VERSION), and a query takes the latest one cut on or before
its date, checks it against the log, reads only the facts that start after its cut (the
history index's range), and advances it. A query that had no snapshot keeps one at its
date, and one that reads a long way keeps one every KEEP_AFTER facts, so the next is fast.

Never trusted over the log: a snapshot is valid up to its `head`; the events after it are
read, and a fact that starts on or before a snapshot's cut, or a retraction of one, drops
the snapshots it made stale (those cut on or after that start). Removing every snapshot
changes no answer: the property tests hold snapshot-started answers equal to `replay()`.

A snapshot is stored as its projections' parts, each pickled apart (core/snapshot.py `only`),
so a query of one projection unpickles, reads the facts of and advances that one alone;
unless it goes a long way, which keeps snapshots: then every projection is folded.

Snapshots are pickled, and read back with an unpickler that admits only the state's own
classes: a store's bytes never name arbitrary code to run.
"""

from __future__ import annotations

import bisect
import io
import pickle
import time
import zlib
from collections.abc import Callable, Collection
from datetime import date
from typing import Any

import orjson

from .core import filters
from .core.catalog import Catalog
from .core.errors import StoreError
from .core.filters import EVERYTHING, Filter
from .core.gc_pause import paused_gc
from .core.kinds import REGISTRATIONS
from .core.projections import PROJECTIONS
from .core.records import Record, decode_many
from .core.snapshot import FOLDED, VERSION, Snapshot, advance, pending
from .core.timeline import order, rendered
from .logs import Logger
from .store import EventStore, HistoryKey, StoredEvent

log = Logger("tracker")

KEEP_AFTER = 20_000  # a query that reads more facts than this keeps a snapshot every KEEP_AFTER facts
MAX_KEPT = 80  # snapshots kept at most: the oldest-cut ones beyond go (each holds a whole state)
_FIRST_PAGE = 1_000
_PAGE = 20_000
_END = (1 << 63) - 1
_UNREADABLE = (pickle.UnpicklingError, zlib.error, EOFError, AttributeError, TypeError, ValueError)

ALLOWED = {
    ("tracker.core.snapshot", "Snapshot"), ("tracker.core.records", "Record"),
    ("tracker.core.projections.territory", "Held"), ("tracker.core.projections.territory", "Change"),
    ("tracker.core.projections.deployments", "Deployed"), ("tracker.core.projections.base", "Amount"),
    ("tracker.core.projections.arsenal", "Holding"), ("tracker.core.projections.arsenal", "Resource"),
    ("datetime", "datetime"), ("datetime", "timezone"), ("datetime", "timedelta"), ("datetime", "date"),
}


class Unpickler(pickle.Unpickler):
    """Admits only the classes in `allowed`: a cache's bytes never name arbitrary code to run."""

    allowed: frozenset[tuple[str, str]] | set[tuple[str, str]] = ALLOWED

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self.allowed:
            raise pickle.UnpicklingError(f"a cached state may not name {module}.{name}")
        return super().find_class(module, name)


def dumps(snapshot: Snapshot) -> bytes:
    """Each projection's part compressed apart, in a dict by projection name."""
    return pickle.dumps({name: zlib.compress(pickle.dumps(snapshot.only((name,)), protocol=pickle.HIGHEST_PROTOCOL), 1)
                         for name in snapshot.states}, protocol=pickle.HIGHEST_PROTOCOL)


def loads(data: bytes, names: Collection[str] = tuple(PROJECTIONS)) -> Snapshot:
    """The snapshot of projections `names`, unpickling their parts only."""
    parts = Unpickler(io.BytesIO(data)).load()
    if not isinstance(parts, dict) or not all(isinstance(v, bytes) for v in parts.values()):
        raise pickle.UnpicklingError(f"a snapshot holds a dict of its parts, not {type(parts).__name__}")
    found = []
    for name in names:
        if name not in parts:
            raise pickle.UnpicklingError(f"a snapshot without its {name} part")
        part = Unpickler(io.BytesIO(zlib.decompress(parts[name]))).load()
        if not isinstance(part, Snapshot) or list(part.states) != [name]:
            raise pickle.UnpicklingError(f"a snapshot's {name} part holds that projection's Snapshot, "
                                         f"not {type(part).__name__}")
        found.append(part)
    return found[0] if len(found) == 1 else Snapshot.joined(found)


async def state(store: EventStore, projection: str, as_of: str, flt: Filter = EVERYTHING) -> dict[str, Any]:
    """`projection` as of `as_of`, known now, from the whole log: from a snapshot."""
    with paused_gc():  # reads, decodes, unpickles and folds: many objects, no cycles
        return await _state(store, projection, as_of, flt)


async def _state(store: EventStore, projection: str, as_of: str, flt: Filter) -> dict[str, Any]:
    started = time.perf_counter()
    head = await store.head()
    catalog, retracted = await reference_data(store, head)
    base, base_head, data = await _base(store, as_of, head, projection)
    tail, whole = await _tail(store, base.cut, as_of, head, retracted, PROJECTIONS[projection].types)
    if whole:  # a long way, or from the beginning: every projection, keeping snapshots
        try:
            snapshot = loads(data) if data is not None else Snapshot.empty()
        except _UNREADABLE as e:  # another projection's part: this query starts again, without it
            log.warning("unreadable snapshot dropped", cut=base.cut, error=str(e))
            await store.drop_snapshots(base.cut)
            return await _state(store, projection, as_of, flt)
        snapshot, kept = await _advance_keeping(store, snapshot, tail, as_of, head)
        if base.cut == "" and not kept:  # the store had none: the next query starts here
            await _keep(store, snapshot, head)
    else:  # a short way: this projection alone
        snapshot = advance(base, tail, as_of)
    log.info("state from a snapshot", projection=projection, as_of=as_of, cut=base.cut or None,
             snapshot_head=base_head, head=head, facts_folded=len(tail),
             seconds=round(time.perf_counter() - started, 3))
    answer = rendered(PROJECTIONS[projection], snapshot.states[projection], pending(snapshot, projection), catalog,
                      as_of, head)
    return filters.apply(projection, PROJECTIONS[projection].collection, answer, flt, catalog)


async def reference_data(store: EventStore, upto: int,
                         progress: Callable[[int], None] | None = None) -> tuple[Catalog, set[str]]:
    """The catalog and the retracted ids of the log up to `upto`, read by type: a retracted
    fact may come before its retraction in history order, so they are read first."""
    catalog, retracted = Catalog(), set()
    async for rows in store.iterate(0, types=REGISTRATIONS | {"EventRetracted"}, upto=upto):
        if progress is not None:
            progress(len(rows))
        for stored in rows:
            event = orjson.loads(stored.data)
            if stored.type == "EventRetracted":
                retracted.add(event["retracts"])
            else:
                catalog.register(event)
    return catalog, retracted


async def _advance_keeping(store: EventStore, snapshot: Snapshot, tail: list[Record], day: str,
                           head: int) -> tuple[Snapshot, int]:
    kept = 0
    for cut, chunk in _chunks(tail, day):
        snapshot = advance(snapshot, chunk, cut)
        if cut != day:  # on a long way, one every KEEP_AFTER facts: a later query reads at most that many
            await _keep(store, snapshot, head)
            kept += 1
    return snapshot, kept


async def _base(store: EventStore, as_of: str, head: int, projection: str) -> tuple[Snapshot, int, bytes | None]:
    """The latest valid snapshot cut on or before `as_of` (stale ones dropped), `projection`'s
    part, its head and its data; or the empty one."""
    kept = [s for s in await store.snapshots(VERSION) if s.cut <= as_of and s.head <= head]
    if not kept:
        return Snapshot.empty((projection,)), 0, None
    oldest = min(s.head for s in kept)
    stale_from = await _earliest_change(store, oldest, head)
    if stale_from is not None:
        dropped = await store.drop_snapshots(stale_from)
        log.info("snapshots made stale by later facts dropped", dropped=dropped, from_cut=stale_from)
        kept = [s for s in kept if s.cut < stale_from]
    for info in sorted(kept, key=lambda s: s.cut, reverse=True):
        found = await store.get_snapshot(VERSION, info.cut)
        if found is None:
            continue  # dropped by another process meanwhile
        try:
            snapshot = loads(found[1], (projection,))
        except _UNREADABLE as e:
            log.warning("unreadable snapshot dropped", cut=info.cut, error=str(e))
            await store.drop_snapshots(info.cut)
            continue
        if head - info.head > 1000:
            await store.renew_snapshot(VERSION, info.cut, head)  # checked up to here: the next query reads less
        return snapshot, info.head, found[1]
    return Snapshot.empty((projection,)), 0, None


async def _earliest_change(store: EventStore, after: int, head: int) -> str | None:
    """The earliest start among the facts appended after `after`, and among the facts that
    retractions appended after it take back: snapshots cut on or after it are stale."""
    targets: list[str] = []
    starts: list[str] = []
    async for rows in store.iterate(after, upto=head):
        for record in decode_many(rows):  # decoded: an older shape's `occurred_on` is upcast to a window
            e = record.event
            if e["type"] == "EventRetracted":
                targets.append(e["retracts"])
            elif e["type"] in FOLDED and "occurred_from" in e:
                starts.append(e["occurred_from"])
    found = await store.lookup(targets) if targets else {}
    starts += [r.event["occurred_from"] for r in decode_many(list(found.values()))
               if r.event["type"] in FOLDED and "occurred_from" in r.event]
    return min(starts, default=None)


async def _tail(store: EventStore, cut: str, day: str, head: int, retracted: set[str],
                types: frozenset[str]) -> tuple[list[Record], bool]:
    """The facts that start after `cut` and by `day`, as a snapshot takes them (core/snapshot.py),
    and whether they are the whole tail. A short way (KEEP_AFTER facts or fewer, of every type,
    from a snapshot) gives those of `types` only, the only events it decodes; a long way, or
    one from the beginning, gives every fact a snapshot takes: the query keeps snapshots."""
    after: HistoryKey | None = (cut, _END) if cut else None
    rows: list[StoredEvent] = []  # a short way's: every event read, in the store's order
    wanted: list[tuple[int, Record]] = []  # ... and the facts of `types` among them, by index in `rows`
    folded = 0  # ... how many of them a snapshot takes
    whole: list[Record] | None = None if cut else []
    page = _FIRST_PAGE  # growing: a near snapshot needs a short read, a far one long pages
    read = 0
    while True:
        page_rows, after = await store.read_history(after, page, head)
        read += len(page_rows)
        page = _next_page(page, read, cut, after[0] if after else day, day)
        if whole is not None:
            for record in decode_many(page_rows):
                if record.event.get("occurred_from", "") > day:
                    return sorted(whole, key=order), True
                if record.event["type"] in FOLDED and record.id not in retracted:
                    whole.append(record)
            if after is None:
                return sorted(whole, key=order), True
            continue
        # Keyed by `day`, an event starts by it (a window starts on or before its key): the
        # facts wanted among those are decoded at once; after them, one at a time until one
        # starts after `day`.
        first = bisect.bisect_right(page_rows, day, key=_key)
        mine = [i for i, s in enumerate(page_rows[:first]) if s.type in types]
        wanted += zip([len(rows) + i for i in mine], decode_many([page_rows[i] for i in mine]), strict=True)
        past = None
        for i in range(first, len(page_rows)):
            if page_rows[i].type in types:
                record = decode_many(page_rows[i:i + 1])[0]
                wanted.append((len(rows) + i, record))
                if record.event.get("occurred_from", "") > day:
                    past = i
                    break
        page_rows = page_rows if past is None else page_rows[:past + 1]
        rows += page_rows
        folded += sum(1 for s in page_rows if s.type in FOLDED and s.id not in retracted)
        if past is None and after is not None and folded <= KEEP_AFTER:
            continue
        end = _end(rows, day)  # where the tail ends: an event of another type may start after `day` first
        done = past is not None or after is None
        if done and sum(1 for s in rows[:end] if s.type in FOLDED and s.id not in retracted) <= KEEP_AFTER:
            return sorted((r for i, r in wanted if i < end and r.id not in retracted), key=order), False
        whole = _whole(rows[:end], dict(wanted), retracted)
        if done or end < len(rows):
            return sorted(whole, key=order), True
        rows, wanted = [], []  # a long way: read on as from the beginning


def _next_page(page: int, read: int, cut: str, last: str, day: str) -> int:
    """Pages double (a near snapshot needs a short read, a far one long pages), but reach
    little past `day`: at most the events read per day so far times the days left, and some."""
    double = min(page * 2, _PAGE)
    try:
        done = (date.fromisoformat(last) - date.fromisoformat(cut)).days
        left = (date.fromisoformat(day) - date.fromisoformat(last)).days
    except ValueError:  # from the beginning (""), or a key that is no date: the store sorts any text
        return double
    if done <= 0 or left < 0:
        return double
    some = max(_FIRST_PAGE // 10, 1)
    return max(some, min(double, read * (left + 1) // done + some))


def _key(stored: StoredEvent) -> str:
    """The store's history key (store/base.py): `occurred_from`, else `occurred_on`."""
    event = orjson.loads(stored.data)
    found = event.get("occurred_from")
    return found if found is not None else event.get("occurred_on", "")


def _end(rows: list[StoredEvent], day: str) -> int:
    """The index of the first event in `rows` (the store's history order) that starts after
    `day`, or their number. A window starts on or before its key: only the events keyed after
    `day` are decoded."""
    first = bisect.bisect_right(rows, day, key=_key)
    for i, record in enumerate(decode_many(rows[first:]), first):
        if record.event.get("occurred_from", "") > day:
            return i
    return len(rows)


def _whole(rows: list[StoredEvent], decoded: dict[int, Record], retracted: set[str]) -> list[Record]:
    """The facts among `rows` that a snapshot takes, retracted ones left out, in the store's
    order; those in `decoded` (by index) are not decoded again."""
    others = [i for i, s in enumerate(rows) if s.type in FOLDED and i not in decoded]
    decoded = {**decoded, **dict(zip(others, decode_many([rows[i] for i in others]), strict=True))}
    return [decoded[i] for i, s in enumerate(rows) if s.type in FOLDED and s.id not in retracted]


def _chunks(tail: list[Record], day: str) -> list[tuple[str, list[Record]]]:
    """`tail` (history order) cut into runs of KEEP_AFTER facts or more, each ending with a
    whole day (a cut takes every fact that starts by it), the last one ending at `day`."""
    out: list[tuple[str, list[Record]]] = []
    start = 0
    for i in range(KEEP_AFTER, len(tail)):
        if i - start < KEEP_AFTER:
            continue
        previous, this = tail[i - 1].event["occurred_from"], tail[i].event["occurred_from"]
        if this > previous and previous < day:
            out.append((previous, tail[start:i]))
            start = i
    out.append((day, tail[start:]))
    return out


async def _keep(store: EventStore, snapshot: Snapshot, head: int) -> None:
    try:
        await store.put_snapshot(VERSION, snapshot.cut, head, dumps(snapshot))
        kept = await store.snapshots(VERSION)
        if len(kept) > MAX_KEPT:  # the earliest cuts go: a query before them folds from the start
            await store.drop_snapshots("", kept[len(kept) - MAX_KEPT - 1].cut)
            log.info("snapshots pruned", kept=MAX_KEPT, had=len(kept))
    except StoreError as e:  # a cache: failing to keep one loses no answer
        log.warning("could not keep a snapshot", error=str(e))
