"""Appends through tracker (validated, durable) against bare executemany, side by side.

- batched: one client appends the log in 1,000-event batches, awaiting each;
- concurrent: 100 clients each append one event per call and await its acknowledgement
  (what group commit is for), against one stdlib transaction per event.
Each run writes a fresh log; only the append calls are timed (decoding each batch's
JSON into the dicts a client would send happens outside the timed section).
"""

from __future__ import annotations

import asyncio
import time

import orjson

from tracker.core.batch import Item
from tracker.core.events import REGISTRATIONS
from tracker.service import Tracker

from . import bare, workload
from .core import Context, Figure, Timer, benchmark, rate_figure, settle


def items_of(rows: list[workload.Row]) -> list[Item]:
    # the size is known to a caller that read the JSON (a server, the CLI), as here
    return [Item(f"event {ident}", orjson.loads(data), len(data)) for ident, _, data in rows]


async def tracker_batched(path: str, rows: list[workload.Row], size: int) -> float:
    timer = Timer()
    async with await Tracker.open(path) as tracker:
        for batch in workload.batches_of(rows, size):
            items = items_of(batch)
            with timer:
                await tracker.append(items)
        assert await tracker.store.head() == len(rows)
    return timer.seconds


def split(rows: list[workload.Row]) -> tuple[list[workload.Row], list[workload.Row]]:
    registrations = [r for r in rows if r[1] in REGISTRATIONS]
    return registrations, [r for r in rows if r[1] not in REGISTRATIONS]


async def tracker_concurrent(path: str, rows: list[workload.Row], clients: int) -> float:
    """Seconds for `clients` tasks to append `rows` one event per call (registrations are
    appended first, untimed: facts can only name what is registered)."""
    registrations, facts = split(rows)
    async with await Tracker.open(path) as tracker:
        for batch in workload.batches_of(registrations, 1000):
            await tracker.append(items_of(batch))
        shares = [items_of(facts[c::clients]) for c in range(clients)]

        async def client(items: list[Item]) -> None:
            for item in items:
                await tracker.append([item])

        started = time.perf_counter()
        await asyncio.gather(*(client(share) for share in shares))
        seconds = time.perf_counter() - started
        assert await tracker.store.head() == len(rows)
    return seconds


async def tracker_sequential(path: str, rows: list[workload.Row]) -> float:
    """One client, one event per call, each awaited: no one to share a commit with."""
    registrations, facts = split(rows)
    async with await Tracker.open(path) as tracker:
        for batch in workload.batches_of(registrations, 1000):
            await tracker.append(items_of(batch))
        items = items_of(facts)
        started = time.perf_counter()
        for item in items:
            await tracker.append([item])
        return time.perf_counter() - started


@benchmark("append")
def append_figures(ctx: Context) -> list[Figure]:
    s = ctx.sizes
    rows = workload.rows(s.batched)
    ours, theirs = [], []
    for run in range(s.runs):
        sides = [("ours", None), ("bare", None)]
        if run % 2:
            sides.reverse()
        for side, _ in sides:
            settle()
            path = ctx.path(side)
            if side == "ours":
                ours.append(len(rows) / asyncio.run(tracker_batched(path, rows, s.batch)))
            else:
                prepared = bare.insert_rows(rows, s.batch)
                theirs.append(len(rows) / bare.executemany(path, prepared))
                del prepared
            ctx.remove(path)
    batched = rate_figure("batched append, validated, durable", "events/s",
                          f"{s.batched:,} events, {s.batch:,} per batch",
                          ours, "bare sqlite3 executemany, same schema and indexes", theirs, 100_000, 0.5,
                          notes="tracker: pydantic validation, name resolution, canonical JSON, idempotency, "
                                "one transaction per batch")

    rows = workload.rows(s.concurrent)
    sample = rows[:min(len(rows), 20_000)]
    ours, theirs = [], []
    for _ in range(s.runs):
        settle()
        path = ctx.path("concurrent")
        ours.append((len(rows) - len(split(rows)[0])) / asyncio.run(tracker_concurrent(path, rows, s.clients)))
        ctx.remove(path)
        settle()
        path = ctx.path("one-commit")
        theirs.append(len(sample) / bare.one_commit_per_event(path, sample))
        ctx.remove(path)
    concurrent = rate_figure(f"concurrent single-event appends ({s.clients} clients, each awaits its ack)", "events/s",
                             f"{s.concurrent:,} events", ours, "bare sqlite3, one transaction per event",
                             theirs, 30_000, None, notes="group commit: queued appends share one transaction")
    return [batched, concurrent]
