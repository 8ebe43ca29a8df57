"""`python -m benchmarks.switched WHAT [--size N] [--runs R]`: a lever switched on and off
between runs in one process, the same code otherwise (steadier than two trees on a shared
machine). What the README's "switched in one process" rows came from:

- group-insert: 100 clients appending one event per call, with SQLite's one-statement group
  insert (`_insert_group`) or without it (every request on its own, `executemany`);
- store-insert: the store alone (no validation), 1,000-event batches, the same switch;
- prepare: `prepare()` alone on the workload's facts in 1,000-event batches, best of R
  (nothing switched: run it on each tree to compare).
Prints each run, the medians and CPU microseconds per event.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import timeit
from datetime import date

from tracker.logs import configure
from tracker.store import NewEvent
from tracker.store import sqlite as sqlite_store

from . import workload
from .append import items_of, split, tracker_concurrent


def _fresh(path: str) -> str:
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.unlink(path + suffix)
    return path


async def _store_alone(path: str, batches: list[list[NewEvent]]) -> float:
    store = await sqlite_store.SQLiteStore.open(path)
    try:
        started = time.perf_counter()
        for batch in batches:
            await store.append(batch)
        return time.perf_counter() - started
    finally:
        await store.close()


def switched(what: str, size: int, runs: int, folder: str) -> None:
    rows = workload.rows(size)
    insert_group = sqlite_store._insert_group
    if what == "group-insert":
        count = size - len(split(rows)[0])
        def measure(path: str) -> float:
            return asyncio.run(tracker_concurrent(path, rows, 100))
    else:
        count = size
        batches = [[NewEvent(i, k, d.decode()) for i, k, d in rows[a:a + 1000]] for a in range(0, size, 1000)]
        def measure(path: str) -> float:
            return asyncio.run(_store_alone(path, batches))
    results: dict[str, list[tuple[float, float]]] = {"on": [], "off": []}
    try:
        for run in range(runs):
            for side in (("on", "off") if run % 2 == 0 else ("off", "on")):
                sqlite_store._insert_group = insert_group if side == "on" else (lambda *args: None)
                cpu = time.process_time()
                rate = count / measure(_fresh(os.path.join(folder, "log.db")))
                results[side].append((rate, (time.process_time() - cpu) / count * 1e6))
                print(f"{what} {side}: {rate:,.0f} events/s, {results[side][-1][1]:.1f} us CPU/event", flush=True)
    finally:
        sqlite_store._insert_group = insert_group
    for side, got in results.items():
        print(f"== {what} {side}: median {statistics.median(r for r, _ in got):,.0f} events/s, "
              f"CPU {statistics.median(c for _, c in got):.1f} us/event")


def prepare_alone(size: int, runs: int) -> None:
    from tracker.core.batch import prepare
    from tracker.core.catalog import Catalog
    registered, told = split(workload.rows(size))
    registrations, facts = items_of(registered), items_of(told)
    catalog, today = Catalog(), date.today()
    for prepared in prepare(registrations, catalog, today, {}):
        catalog.register(prepared.event)
    best = min(timeit.repeat(lambda: [prepare(facts[a:a + 1000], catalog, today, {})
                                      for a in range(0, len(facts), 1000)], number=1, repeat=runs))
    print(f"== prepare: {best / len(facts) * 1e6:.2f} us per fact (best of {runs}, {len(facts):,} facts)")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.switched", description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["group-insert", "store-insert", "prepare"])
    parser.add_argument("--size", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=6)
    args = parser.parse_args()
    configure()
    if args.what == "prepare":
        prepare_alone(args.size, args.runs)
        return
    with tempfile.TemporaryDirectory(prefix="tracker-switched-") as folder:
        switched(args.what, args.size, args.runs, folder)


if __name__ == "__main__":
    main()
