"""PostgreSQL beside SQLite, side by side in one run (issue 4): append rates with 1 and 4
writer processes at batch sizes 1 and 100, full replay, and push latency from an append in
one process to a websocket subscriber of `tracker serve` in another.

Each PostgreSQL figure is held against the SQLite figure of the same setting, measured in
the same run (the anchor); neither has a target of its own, so `met` only says the figure
was measured. The PostgreSQL server is named by TRACKER_BENCH_PG_DSN or
TRACKER_TEST_PG_DSN (a database is created and dropped per measurement); without one, the
PostgreSQL figures are left out with a note.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import re
import subprocess
import sys
import time
import uuid
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

import orjson

from tracker.core.events import REGISTRATIONS
from tracker.logs import configure
from tracker.service import Tracker

from . import workload
from .append import items_of
from .core import Context, Figure, benchmark, median, settle

DSN = os.environ.get("TRACKER_BENCH_PG_DSN") or os.environ.get("TRACKER_TEST_PG_DSN")
PG_DURABILITY = "PostgreSQL default (fsync on, synchronous_commit on)"
SQLITE_DURABILITY = "WAL synchronous=FULL"


# ---------------------------------------------------------------- stores to measure

class PgDatabase:
    """A fresh database on the benchmark's PostgreSQL server, dropped afterwards."""

    def __init__(self) -> None:
        self.name = f"tracker_bench_{uuid.uuid4().hex[:10]}"
        parts = urlsplit(DSN)
        self.url = urlunsplit((parts.scheme, parts.netloc, f"/{self.name}", parts.query, ""))

    def _admin(self, sql: str) -> None:
        import asyncpg

        async def run() -> None:
            conn = await asyncpg.connect(DSN, timeout=10)
            try:
                await conn.execute(sql)
            finally:
                await conn.close()
        asyncio.run(run())

    def __enter__(self) -> str:
        self._admin(f'CREATE DATABASE "{self.name}"')
        return self.url

    def __exit__(self, *exc: object) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def pg_available() -> str | None:
    """None when PostgreSQL can be measured, else why not."""
    if not DSN:
        return "no TRACKER_BENCH_PG_DSN or TRACKER_TEST_PG_DSN"
    try:
        import asyncpg

        async def ping() -> None:
            conn = await asyncpg.connect(DSN, timeout=5)
            await conn.close()
        asyncio.run(ping())
    except Exception as e:
        return f"cannot reach {urlsplit(DSN).hostname}: {e}"
    return None


class Backend:
    def __init__(self, ctx: Context, name: str) -> None:
        self.ctx, self.name = ctx, name

    def __enter__(self) -> str:
        if self.name == "sqlite":
            self.path = self.ctx.path("backend")
            return self.path
        self.db = PgDatabase()
        return self.db.__enter__()

    def __exit__(self, *exc: object) -> None:
        if self.name == "sqlite":
            self.ctx.remove(self.path)
        else:
            self.db.__exit__(*exc)


# ---------------------------------------------------------------- appends by writer processes

def _writer(url: str, rows: list[workload.Row], size: int, barrier, results) -> None:
    configure()  # a spawned process starts with structlog's defaults: a debug line per append, measured
    async def run() -> float:
        async with await Tracker.open(url) as tracker:
            await tracker.refresh_catalog()
            batches = [items_of(rows[i:i + size]) for i in range(0, len(rows), size)]
            barrier.wait()
            for batch in batches:
                await tracker.append(batch)
            return time.perf_counter()
    results.put(asyncio.run(run()))


def append_rate(url: str, rows: list[workload.Row], writers: int, size: int) -> float:
    """Events/s of `writers` processes appending their share in batches of `size`, each awaited."""
    registrations = [r for r in rows if r[1] in REGISTRATIONS]
    facts = [r for r in rows if r[1] not in REGISTRATIONS]

    async def register() -> None:
        async with await Tracker.open(url) as tracker:
            await tracker.append(items_of(registrations))
    asyncio.run(register())
    shares = [facts[i::writers] for i in range(writers)]
    seconds = in_processes(_writer, [(url, share, size) for share in shares])
    return len(facts) / seconds


def in_processes(target, args: list[tuple]) -> float:
    """Seconds from the moment every process (spawned, one per `args`) is ready until the last
    is done: `target(*a, barrier, results)` waits at the barrier, then puts its end time
    (time.perf_counter()) on results."""
    mp = multiprocessing.get_context("spawn")
    barrier, results = mp.Barrier(len(args) + 1), mp.Queue()
    processes = [mp.Process(target=target, args=(*a, barrier, results)) for a in args]
    for p in processes:
        p.start()
    barrier.wait()
    started = time.perf_counter()
    finished = [results.get(timeout=600) for _ in processes]
    for p in processes:
        p.join(60)
    return max(finished) - started


# ---------------------------------------------------------------- replay

def replay_rate(url: str, rows: list[workload.Row]) -> float:
    async def load() -> None:
        async with await Tracker.open(url) as tracker:
            for i in range(0, len(rows), 5_000):
                await tracker.append(items_of(rows[i:i + 5_000]))
    asyncio.run(load())
    settle()

    async def replay() -> float:
        async with await Tracker.open(url) as tracker:
            report = await tracker.replay()
        return report["events"] / report["total_seconds"]
    return asyncio.run(replay())


# ---------------------------------------------------------------- push latency

def _paced_writer(url: str, rows: list[workload.Row], gap: float) -> None:
    configure()
    async def run() -> None:
        async with await Tracker.open(url) as tracker:
            for row in rows:
                await tracker.append(items_of([row]))
                await asyncio.sleep(gap)
    asyncio.run(run())


def push_latencies(url: str, rows: list[workload.Row], count: int) -> list[float]:
    """Seconds from each event's recorded_at (taken in the appending process's commit) to
    its arrival at a websocket subscriber of a `tracker serve` process on the same store."""
    from websockets.asyncio.client import connect

    registrations = [r for r in rows if r[1] in REGISTRATIONS]
    facts = [r for r in rows if r[1] not in REGISTRATIONS][:count]

    async def register() -> int:
        async with await Tracker.open(url) as tracker:
            await tracker.append(items_of(registrations))
            return await tracker.store.head()
    head = asyncio.run(register())
    server = subprocess.Popen([sys.executable, "-m", "tracker", "serve", "--port", "0", "--db", url],
                              stderr=subprocess.PIPE, text=True)
    try:
        port = None
        while port is None:
            line = server.stderr.readline()
            if not line:
                raise RuntimeError("tracker serve did not start")
            found = re.search(r"at http://127\.0\.0\.1:(\d+)/", line)
            port = int(found.group(1)) if found else None

        async def subscribe() -> list[float]:
            latencies = []
            async with connect(f"ws://127.0.0.1:{port}/ws", max_size=None) as ws:
                await ws.send(orjson.dumps({"op": "subscribe", "stream": "events", "after": head}).decode())
                while orjson.loads(await ws.recv())["type"] != "caught_up":
                    pass
                writer = multiprocessing.get_context("spawn").Process(target=_paced_writer, args=(url, facts, 0.02))
                writer.start()
                while len(latencies) < len(facts):
                    message = orjson.loads(await asyncio.wait_for(ws.recv(), 30))
                    if message["type"] == "event":
                        at = datetime.fromisoformat(message["recorded_at"]).timestamp()
                        latencies.append(time.time() - at)
                writer.join(30)
            return latencies
        return asyncio.run(subscribe())
    finally:
        server.terminate()
        server.wait(15)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# ---------------------------------------------------------------- the figures

def _figure(name: str, value: float, unit: str, size: str, anchor: str | None, anchor_value: float | None,
            durability: str, runs: int, notes: str = "") -> Figure:
    ratio = None if anchor_value in (None, 0) else round(value / anchor_value, 3)
    return Figure(name, round(value, 4 if unit == "ms" else 1), unit, size, anchor,
                  None if anchor_value is None else round(anchor_value, 4 if unit == "ms" else 1), ratio,
                  "measured beside SQLite (issue 4 sets no target)", True, durability, runs, notes)


@benchmark("backends")
def backend_figures(ctx: Context) -> list[Figure]:
    why = pg_available()
    if why is not None:
        print(f"benchmarks: PostgreSQL figures skipped: {why}", file=sys.stderr)
        return []
    smoke = ctx.smoke
    runs = 1 if smoke else max(2, ctx.sizes.runs - 1)
    appends = 200 if smoke else 20_000
    figures: list[Figure] = []
    for writers in (1, 4):
        for size in (1, 100):
            n = appends if size == 100 else max(200, appends // 10)  # one event per call is slow: a shorter log
            rows = workload.rows(n + 2_100)[: n + 2_100]
            rates: dict[str, list[float]] = {"sqlite": [], "postgresql": []}
            for run in range(runs):
                for backend in (("sqlite", "postgresql") if run % 2 == 0 else ("postgresql", "sqlite")):
                    settle()
                    with Backend(ctx, backend) as url:
                        rates[backend].append(append_rate(url, rows, writers, size))
            label = (f"{writers} writer process{'es' if writers > 1 else ''}, "
                     f"{size} event{'s' if size > 1 else ''} per append")
            for backend in ("sqlite", "postgresql"):
                anchor = None if backend == "sqlite" else f"SQLite, {label}"
                figures.append(_figure(f"{backend}: append, {label}", median(rates[backend]), "events/s",
                                       f"{len([r for r in rows if r[1] not in REGISTRATIONS]):,} events",
                                       anchor, None if backend == "sqlite" else median(rates["sqlite"]),
                                       SQLITE_DURABILITY if backend == "sqlite" else PG_DURABILITY, runs,
                                       "validated appends through Tracker.append, each awaited"))
    n = 2_000 if smoke else 100_000
    rows = workload.rows(n)
    replays: dict[str, list[float]] = {"sqlite": [], "postgresql": []}
    for run in range(runs):
        for backend in (("sqlite", "postgresql") if run % 2 == 0 else ("postgresql", "sqlite")):
            with Backend(ctx, backend) as url:
                replays[backend].append(replay_rate(url, rows))
    for backend in ("sqlite", "postgresql"):
        figures.append(_figure(f"{backend}: full replay into all three projections", median(replays[backend]),
                               "events/s", f"{n:,} events", None if backend == "sqlite" else "SQLite replay",
                               None if backend == "sqlite" else median(replays["sqlite"]), "read-only", runs))
    count = 20 if smoke else 200
    rows = workload.rows(count + 2_100)
    latency: dict[str, list[float]] = {"sqlite": [], "postgresql": []}
    for backend in ("sqlite", "postgresql"):
        with Backend(ctx, backend) as url:
            latency[backend] = push_latencies(url, rows, count)
    for backend in ("sqlite", "postgresql"):
        for q, label in ((0.5, "p50"), (0.99, "p99")):
            value = percentile(latency[backend], q) * 1000
            anchor = None if backend == "sqlite" else f"SQLite {label}"
            other = None if backend == "sqlite" else percentile(latency["sqlite"], q) * 1000
            figures.append(_figure(f"{backend}: push latency, append in another process to websocket subscriber, "
                                   f"{label}", value, "ms", f"{count} events, one every 20 ms", anchor, other,
                                   SQLITE_DURABILITY if backend == "sqlite" else PG_DURABILITY, 1,
                                   "SQLite: a wake-up socket beside the file; PostgreSQL: LISTEN/NOTIFY"))
    return figures
