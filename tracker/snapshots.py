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

Snapshots are pickled, and read back with an unpickler that admits only the state's own
classes: a store's bytes never name arbitrary code to run.
"""

from __future__ import annotations

import io
import pickle
import time
import zlib
from collections.abc import Callable
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
from .store import EventStore, HistoryKey

log = Logger("tracker")

KEEP_AFTER = 40_000  # a query that reads more facts than this keeps a snapshot every KEEP_AFTER facts
MAX_KEPT = 40  # snapshots kept at most: the oldest-cut ones beyond go (each holds a whole state)
_PAGE = 20_000
_END = (1 << 63) - 1

_ALLOWED = {
    ("tracker.core.snapshot", "Snapshot"), ("tracker.core.records", "Record"),
    ("tracker.core.projections.territory", "Held"), ("tracker.core.projections.territory", "Change"),
    ("tracker.core.projections.deployments", "Deployed"), ("tracker.core.projections.base", "Amount"),
    ("tracker.core.projections.arsenal", "Holding"), ("tracker.core.projections.arsenal", "Resource"),
    ("datetime", "datetime"), ("datetime", "timezone"), ("datetime", "timedelta"), ("datetime", "date"),
}


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"a snapshot may not name {module}.{name}")
        return super().find_class(module, name)


def dumps(snapshot: Snapshot) -> bytes:
    return zlib.compress(pickle.dumps(snapshot, protocol=pickle.HIGHEST_PROTOCOL), 1)


def loads(data: bytes) -> Snapshot:
    found = _Unpickler(io.BytesIO(zlib.decompress(data))).load()
    if not isinstance(found, Snapshot):
        raise pickle.UnpicklingError(f"a snapshot holds a Snapshot, not {type(found).__name__}")
    return found


async def state(store: EventStore, projection: str, as_of: str, flt: Filter = EVERYTHING) -> dict[str, Any]:
    """`projection` as of `as_of`, known now, from the whole log: from a snapshot."""
    with paused_gc():  # reads, decodes, unpickles and folds: many objects, no cycles
        return await _state(store, projection, as_of, flt)


async def _state(store: EventStore, projection: str, as_of: str, flt: Filter) -> dict[str, Any]:
    started = time.perf_counter()
    head = await store.head()
    catalog, retracted = await reference_data(store, head)
    base, base_head = await _base(store, as_of, head)
    tail = await _tail(store, base.cut, as_of, head, retracted)
    snapshot, kept = base, 0
    for cut, chunk in _chunks(tail, as_of):
        snapshot = advance(snapshot, chunk, cut)
        if cut != as_of:  # on a long way, one every KEEP_AFTER facts: a later query reads at most that many
            await _keep(store, snapshot, head)
            kept += 1
    if base.cut == "" and not kept:  # the store had none: the next query starts here
        await _keep(store, snapshot, head)
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


async def _base(store: EventStore, as_of: str, head: int) -> tuple[Snapshot, int]:
    """The latest valid snapshot cut on or before `as_of` (stale ones dropped), or the empty one."""
    kept = [s for s in await store.snapshots(VERSION) if s.cut <= as_of and s.head <= head]
    if not kept:
        return Snapshot.empty(), 0
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
            snapshot = loads(found[1])
        except (pickle.UnpicklingError, zlib.error, EOFError, AttributeError, TypeError, ValueError) as e:
            log.warning("unreadable snapshot dropped", cut=info.cut, error=str(e))
            await store.drop_snapshots(info.cut)
            continue
        if head - info.head > 1000:
            await store.renew_snapshot(VERSION, info.cut, head)  # checked up to here: the next query reads less
        return snapshot, info.head
    return Snapshot.empty(), 0


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


async def _tail(store: EventStore, cut: str, day: str, head: int, retracted: set[str]) -> list[Record]:
    """The facts that start after `cut` and by `day`, as a snapshot takes them (core/snapshot.py)."""
    out: list[Record] = []
    after: HistoryKey | None = (cut, _END) if cut else None
    page = 1_000  # growing: a near snapshot needs a short read, a far one long pages
    while True:
        rows, after = await store.read_history(after, page, head)
        page = min(page * 2, _PAGE)
        for record in decode_many(rows):
            e = record.event
            if e.get("occurred_from", "") > day:
                return sorted(out, key=order)
            if e["type"] in FOLDED and e.get("id") not in retracted:
                out.append(record)
        if after is None:
            return sorted(out, key=order)


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
