"""The tracker application: a store, the batch rules and a timeline kept in step.

The thin shell around the pure core. The CLI uses it now; the server will hold one for
its lifetime, so everything here is incremental: the catalog and the timeline catch up
from the position they last saw rather than rereading the log.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from types import ModuleType
from typing import TYPE_CHECKING, Any

import orjson

from . import snapshots
from .core import filters, history
from .core.catalog import Catalog, Kind
from .core.dates import utc_now
from .core.errors import BadQuery
from .core.filters import EVERYTHING, Filter
from .core.fold import ByDay, Fold
from .core.gc_pause import paused_gc
from .core.kinds import REGISTRATIONS
from .core.projections import PROJECTIONS, State
from .core.records import Record, decode_many, knowledge_time
from .core.timeline import Timeline, today
from .core.tokens import Token
from .logs import Logger, enabled
from .store import EventStore, NewEvent, open_store

if TYPE_CHECKING:  # the batch rules build the event models: imported by the appends that need them
    from .core.batch import Item, Prepared

# Decoded records are folded this many at a time: a small batch of fresh dicts stays in the CPU's
# caches between decode and fold (measured: 200-1,000 decode ~1.5x faster than 20,000 at once).
_CHUNK = 500
_FREEZE_AFTER = 50_000  # records folded by one catch-up after which its objects are frozen (gc.freeze)

log = Logger("tracker")


@functools.cache
def _batch() -> ModuleType:
    """The batch rules, imported by the first append (they build the event models, which
    commands that never append need not wait for); an import statement per append cost
    ~7% of a single-event append's time beside its validation (py-spy)."""
    from .core import batch
    return batch


def _debugging() -> bool:
    """Whether debug lines are kept. A debug call that the level filters out still binds a
    logger (~10 us, measured): too much to pay on every single-event append."""
    return enabled(logging.DEBUG)


@dataclass(frozen=True, slots=True)
class AppendResult:
    positions: list[int]
    new: int  # how many were stored now; the rest were already in the log (idempotent retry)
    head_before: int
    ids: list[str] = field(default_factory=list)


class Tracker:
    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.catalog = Catalog()
        self._catalog_at = 0
        self._catalog_lock = asyncio.Lock()
        self._tickets = 0  # callers that asked for a fresh catalog
        self._served = 0  # callers whose question a finished read answered
        self._head_seen = 0  # the head that read saw
        self.timeline = Timeline()
        self._advancing = asyncio.Lock()

    @classmethod
    async def open(cls, url: str) -> Tracker:
        return cls(await open_store(url))

    async def close(self) -> None:
        await self.store.close()

    async def __aenter__(self) -> Tracker:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def refresh_catalog(self) -> Catalog:
        return (await self._refresh())[0]

    async def _refresh(self) -> tuple[Catalog, int]:
        """The catalog as of a head read after this call began, and that head.

        Concurrent callers share reads: a read that starts after a caller arrived answers it.
        That saves reads only where the store's read yields (PostgreSQL; SQLite when busy):
        SQLite's head and short reads run on the loop's thread without yielding, ~20 us each,
        so there each append reads the head once (measured: 29,782 reads for as many appends)."""
        self._tickets += 1
        ticket = self._tickets
        async with self._catalog_lock:
            if self._served >= ticket:
                return self.catalog, self._head_seen
            covers = self._tickets  # everyone who has arrived by now: the read starts after them
            head = await self.store.head()
            if head > self._catalog_at:  # up to that head: iterate() need not read it again
                async for page in self.store.iterate(self._catalog_at, types=REGISTRATIONS, upto=head):
                    for stored in page:
                        self.catalog.register(orjson.loads(stored.data))
                self._catalog_at = head
            self._served, self._head_seen = covers, head
            return self.catalog, head

    async def prepare(self, items: list[Item], today: date | None = None) -> list[Prepared]:
        return (await self._prepare(items, today))[0]

    async def _prepare(self, items: list[Item], today: date | None = None) -> tuple[list[Prepared], int]:
        batch = _batch()
        catalog, head = await self._refresh()
        targets = batch.retract_targets(items)
        found = await self.store.lookup(targets) if targets else {}
        stored = {i: s.type for i, s in found.items()}
        known = {i: knowledge_time(orjson.loads(s.data), s.recorded_at).date() for i, s in found.items()}
        return batch.prepare(items, catalog, today or utc_now().date(), stored, stored_known=known), head

    async def append(self, items: list[Item], expected_position: int | None = None,
                     recorded_by: str | None = None) -> AppendResult:
        """Validate the whole batch, then store it atomically: all or nothing. `recorded_by`
        says who appends (a token's name, `token`, `anonymous`, `local:<user>`): it is stored
        with each new event; an event already stored keeps its first appender."""
        prepared, head = await self._prepare(items)
        new = [NewEvent(p.id, p.type, p.data or orjson.dumps(p.event).decode()) for p in prepared]
        positions = await self.store.append(new, expected_position, recorded_by)
        self._skip_own(prepared, positions)
        stored_now = len({p for p in positions if p > head})
        if _debugging():
            log.debug("appended", events=len(positions), new=stored_now,
                      first=min(positions, default=None), last=max(positions, default=None))
        return AppendResult(positions, stored_now, head, [p.id for p in prepared])

    def _skip_own(self, prepared: list[Prepared], positions: list[int]) -> None:
        """Move the catalog's mark over positions this call just filled with facts: they hold
        no registration, so the next append need not read the log for them (with many
        concurrent single-event appends every commit moved the head, and nearly every append
        read the registrations since the mark on the reader's thread). Only contiguous
        positions right after the mark: whatever another process appended between is read."""
        if any(p.type in REGISTRATIONS for p in prepared):
            return
        for position in sorted(positions):
            if position == self._catalog_at + 1:
                self._catalog_at = position
            elif position > self._catalog_at:
                return

    async def catch_up(self, on_records: Callable[[list[Record]], None] | None = None,
                       page: int = 10_000) -> Timeline:
        """Fold into the timeline everything appended since it last looked: the one path from
        the log to the served state. `on_records` sees each page right after it is folded,
        with no await between, so a server's subscribers move in step with the timeline.
        Concurrent callers take turns, so no record is folded twice. (The garbage collector
        is paused meanwhile: a first catch-up with a long log makes millions of objects.)"""
        async with self._advancing:
            folded = 0
            # The timeline's millions of objects live as long as the process: frozen (left out of
            # the collector's passes, which otherwise stall answers for tens of ms) after a long catch-up.
            with paused_gc(keep=lambda: folded >= _FREEZE_AFTER):
                while True:
                    stored = await self.store.read(self.timeline.head, page)
                    if not stored:
                        break
                    records = decode_many(stored)
                    self.timeline.add(records)
                    folded += len(records)
                    if on_records is not None:
                        on_records(records)
            return self.timeline

    async def head(self) -> int:
        return await self.store.head()

    async def tokens(self) -> list[Token]:
        return await self.store.tokens()

    async def tokens_version(self) -> int:
        """Changes whenever a token is added or revoked, by any process or node."""
        return await self.store.tokens_version()

    async def wait(self, after: int, timeout: float) -> int:
        """The head as soon as it passes `after` (any process's append), or after `timeout`."""
        return await self.store.wait(after, timeout)

    async def state(self, projection: str, as_of: str | None = None, known_at: datetime | None = None,
                    recorded_at: datetime | None = None, flt: Filter = EVERYTHING) -> dict[str, Any]:
        """One projection as of a date (today when None), as known at an instant, from the log
        as it stood at an instant: the three clocks compose."""
        if projection not in PROJECTIONS:
            raise BadQuery(f"unknown projection '{projection}': one of {', '.join(PROJECTIONS)}")
        timeline = await self.catch_up()
        return filters.apply(projection, PROJECTIONS[projection].collection,
                             timeline.render(projection, as_of, known_at, recorded_at), flt, timeline.catalog)

    async def state_once(self, projection: str, as_of: str | None = None, known_at: datetime | None = None,
                         recorded_at: datetime | None = None, flt: Filter = EVERYTHING) -> dict[str, Any]:
        """One answer for a process that asks once (`tracker state`): from a persisted snapshot
        (tracker/snapshots.py) when it is as known now from the whole log, which is what most
        questions are; otherwise the timeline folds the log."""
        if projection not in PROJECTIONS:
            raise BadQuery(f"unknown projection '{projection}': one of {', '.join(PROJECTIONS)}")
        if known_at is None and recorded_at is None:
            return await snapshots.state(self.store, projection, as_of or today(), flt)
        return await self.state(projection, as_of, known_at, recorded_at, flt)

    async def history(self, projection: str, entry: tuple, as_of: str | None = None,
                      known_at: datetime | None = None, recorded_at: datetime | None = None,
                      limit: int = history.DEFAULT_LIMIT, before: int | None = None) -> dict[str, Any]:
        """One entry's facts, newest first, a page at a time (core/history.py), each with who
        recorded it (read back from the store for the page only: the timeline keeps less)."""
        from .core.protocol import nearest

        timeline = await self.catch_up()
        as_of = as_of or today()
        for name, ident in zip(PROJECTIONS[projection].key_fields, entry, strict=True):
            kind: Kind = "actor" if name == "actor" else "place"
            if ident not in timeline.catalog.entries[kind]:
                close = nearest(ident, timeline.catalog.entries[kind])
                hint = f" (did you mean '{close}'?)" if close else ""
                raise BadQuery(f"unknown {kind} '{ident}'{hint}: the ids are those `tracker {kind}s` lists",
                               field=name, suggestion=close)
        facts = timeline.history(projection, entry, as_of, known_at, recorded_at)
        answer = history.page(projection, entry, facts, as_of, known_at, recorded_at, limit, before)
        ids = [e["id"] for e in answer["entries"] if e["id"] is not None]
        stored = await self.store.lookup(ids) if ids else {}
        for e in answer["entries"]:
            found = stored.get(e["id"]) if e["id"] is not None else None
            if found is not None:
                e["recorded_by"] = found.recorded_by
        return answer

    async def read(self, after: int = 0, limit: int | None = None) -> list[Record]:
        return decode_many(await self.store.read(after, limit))

    async def replay(self, progress: Callable[[int], None] | None = None) -> dict[str, Any]:
        """Rebuild every projection from the log alone, timing each stage; `progress(n)` after
        each page of n records read (the CLI's bar)."""
        return (await self.rebuild(progress=progress))[0]

    async def rebuild(self, page: int = 10_000, progress: Callable[[int], None] | None = None,
                      ) -> tuple[dict[str, Any], dict[str, State], Catalog]:
        """Every projection's current state and the catalog, from the log alone; and a report.

        It streams: the store hands the facts back by window start (`read_history`), page
        by page, and each page is decoded (the types no projection folds are skipped, not
        decoded), its facts settled today folded (an assault first among its day's: ByDay),
        and dropped, so memory holds the state, not the log. Retractions and registrations
        are read first, by type: a retracted fact may come before its retraction in history.
        The cyclic garbage collector is paused: a replay makes millions of objects and no
        garbage cycles."""
        started = time.perf_counter()
        decode_s = fold_s = 0.0
        with paused_gc():
            end = await self.store.head()
            catalog, retracted = await snapshots.reference_data(self.store, end, progress)
            fold = Fold(PROJECTIONS.values(), skip=retracted)
            folded = fold.types  # the other types change no state: not even decoded
            by_day = ByDay(fold, today())
            async for rows in self.store.iterate_history(page, end):
                if progress is not None:
                    progress(len(rows))
                for at in range(0, len(rows), _CHUNK):
                    t0 = time.perf_counter()
                    records = decode_many([row for row in rows[at:at + _CHUNK] if row.type in folded])
                    t1 = time.perf_counter()
                    by_day.add(records)
                    del records
                    decode_s += t1 - t0
                    fold_s += time.perf_counter() - t1
                del rows
            t1 = time.perf_counter()
            by_day.close()
            fold_s += time.perf_counter() - t1
        total = time.perf_counter() - started
        report = {"events": end, "position": end, "read_seconds": total - decode_s - fold_s,
                  "decode_seconds": decode_s, "fold_seconds": fold_s,
                  "projections": {name: {"entries": len(state)} for name, state in fold.states.items()},
                  "total_seconds": total, "events_per_second": end / total if total else None}
        return report, fold.states, catalog


def records_json(records: Sequence[Record]) -> list[dict[str, Any]]:
    return [r.as_json() for r in records]
