"""The peer: the `eventsourcing` library (PyPI) on SQLite, the same events, the same run.

Its SQLite recorder runs WAL; synchronous is whatever its connections have, which the
figure reads back and states (SQLite's default under WAL here is FULL, the same as
tracker's). Its usual shape: one aggregate whose command methods trigger events, saved by
the application, read back through the notification log into domain event objects.
- batched: 1,000 events triggered, then one `save()` (one transaction);
- one per call: one event, one `save()`, each returning before the next;
- read-back: every notification, mapped into its domain event object.
Tracker does the same work: batched validated appends; single-event appends from
concurrent clients (group commit: what tracker offers a caller with one event to store);
`Tracker.read` pages into `Record`s.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson

from tracker.service import Tracker

from . import workload
from .append import split, tracker_batched, tracker_concurrent
from .core import Context, Figure, benchmark, rate_figure, settle


def _peer_classes() -> tuple[type, type]:
    from .peer_model import Log, Situation  # imported here: the rest of the suite runs without it
    return Situation, Log


def peer_app(path: str) -> Any:
    _, Log = _peer_classes()
    return Log(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": path})


def peer_synchronous(app: Any) -> str:
    with app.recorder.datastore.transaction(commit=False) as c:
        c.execute("PRAGMA journal_mode")
        mode = c.fetchone()[0]
        c.execute("PRAGMA synchronous")
        level = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}[c.fetchone()[0]]
    return f"{mode.upper()} synchronous={level}"


def peer_batched(path: str, rows: list[workload.Row], size: int) -> tuple[float, str]:
    Situation, _ = _peer_classes()
    app = peer_app(path)
    timer = 0.0
    try:
        agg = Situation("log")
        app.save(agg)
        for batch in workload.batches_of(rows, size):
            events = [(kind, orjson.loads(data)) for _, kind, data in batch]
            started = time.perf_counter()
            for kind, data in events:
                agg.report(kind, data)
            app.save(agg)
            timer += time.perf_counter() - started
        return timer, peer_synchronous(app)
    finally:
        app.close()


def peer_single(path: str, rows: list[workload.Row]) -> float:
    Situation, _ = _peer_classes()
    app = peer_app(path)
    try:
        agg = Situation("log")
        app.save(agg)
        events = [(kind, orjson.loads(data)) for _, kind, data in rows]
        started = time.perf_counter()
        for kind, data in events:
            agg.report(kind, data)
            app.save(agg)
        return time.perf_counter() - started
    finally:
        app.close()


def peer_read_back(path: str) -> tuple[float, int]:
    app = peer_app(path)
    try:
        started = time.perf_counter()
        count, start = 0, 1
        while True:
            notifications = app.recorder.select_notifications(start, 10_000)
            if not notifications:
                break
            for n in notifications:
                app.mapper.to_domain_event(n)
            count += len(notifications)
            start = notifications[-1].id + 1
        return time.perf_counter() - started, count
    finally:
        app.close()


async def tracker_read_back(path: str) -> tuple[float, int]:
    async with await Tracker.open(path) as tracker:
        started = time.perf_counter()
        count, after = 0, 0
        while True:
            records = await tracker.read(after, 10_000)
            if not records:
                break
            count += len(records)
            after = records[-1].position
        return time.perf_counter() - started, count


@benchmark("peer")
def peer_figures(ctx: Context) -> list[Figure]:
    s = ctx.sizes
    rows = workload.rows(s.peer_batched)
    ours, theirs, ours_read, theirs_read = [], [], [], []
    setting = ""
    for run in range(s.runs):
        settle()
        mine = ctx.path("peer-ours")
        ours.append(len(rows) / asyncio.run(tracker_batched(mine, rows, s.batch)))
        settle()
        peer = ctx.path("peer-es")
        seconds, setting = peer_batched(peer, rows, s.batch)
        theirs.append(len(rows) / seconds)
        for side in (["ours", "peer"] if run % 2 == 0 else ["peer", "ours"]):
            settle()
            if side == "ours":
                seconds, count = asyncio.run(tracker_read_back(mine))
                assert count == len(rows)
                ours_read.append(count / seconds)
            else:
                seconds, count = peer_read_back(peer)
                assert count == len(rows) + 1  # and the aggregate's creation event
                theirs_read.append(count / seconds)
        ctx.remove(mine)
        ctx.remove(peer)
    durability = f"tracker: WAL synchronous=FULL; eventsourcing: {setting}"
    figures = [
        rate_figure("peer: batched append", "events/s", f"{len(rows):,} events, {s.batch:,} per call", ours,
                    "eventsourcing: 1,000 events per save()", theirs, None, 2, durability),
        rate_figure("peer: full read-back into domain objects", "events/s", f"{len(rows):,} events", ours_read,
                    "eventsourcing: notification log -> domain events", theirs_read, None, 3, durability)]

    single = workload.rows(max(s.peer_single, 2 * s.clients))
    facts = len(split(single)[1])
    ours, theirs = [], []
    for _ in range(s.runs):
        settle()
        mine = ctx.path("peer-one-ours")
        ours.append(facts / asyncio.run(tracker_concurrent(mine, single, s.clients)))
        ctx.remove(mine)
        settle()
        peer = ctx.path("peer-one-es")
        theirs.append(len(single) / peer_single(peer, single))
        ctx.remove(peer)
    figures.append(rate_figure("peer: one event per call", "events/s", f"{len(single):,} events", ours,
                               "eventsourcing: one event per save(), each awaited", theirs, None, 5, durability,
                               notes=f"tracker: {s.clients} concurrent clients, one event per append() each"))
    return figures
