"""Push latency on SQLite (issue 13): `tracker append` in another process to a websocket
subscriber of `tracker serve`, from the store's `recorded_at` stamp to receipt.

Real parts throughout: a `tracker serve` process on a copy of a seeded log, a websocket
subscriber in this process, and each append a `python -m tracker append FILE` process of its
own (its start-up is not counted: the clock starts at the stamp its commit writes). Two sides,
run after one another in each run, on the same machine and the same log:
- wake-up: the server listens on its socket in `<db>.wake/` (tracker/store/wake.py);
- polling (the anchor): a file is put at `<db>.wake`, so no socket can be bound and the server
  sees appends by polling the file, as every server did before the wake-up sockets.
Every append is one sample; p50/p99 are taken over every run's samples of a side.
The log is small (the seeds): what is measured is the path from another process's commit to
the server, not the fold of a large log.

Run alone: python -m benchmarks --only wake [--smoke]
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from .core import Context, Figure, benchmark, settle

SIDES = ("wake-up", "polling")
SOURCE = {"publisher": "Benchmark Wire", "url": "https://example.org/bench"}


def _seeded(ctx: Context) -> str:
    """A log holding the seed reports, built once per benchmark run; each side takes a copy."""
    path = ctx.cache.get("wake-seeded")
    if path is None:
        path = ctx.path("wake-seeded")
        done = subprocess.run([sys.executable, "-m", "tracker", "seed", "--db", path], capture_output=True,
                              text=True, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"tracker seed failed: {done.stderr}")
        ctx.cache["wake-seeded"] = path
    return path


def _reports(folder: Path, count: int) -> list[Path]:
    out = []
    for n in range(count):
        day = f"2014-06-{1 + n % 28:02d}"
        report = folder / f"append-{n}.json"
        report.write_text(json.dumps({"reported_on": "2014-07-24", "source": SOURCE, "events": [
            {"type": "CityCaptured", "occurred_on": day, "place": "baghdad", "captured_by": "isis",
             "sources": [SOURCE]}]}))
        out.append(report)
    return out


def _serve(db: str) -> tuple[subprocess.Popen[str], int]:
    server = subprocess.Popen([sys.executable, "-m", "tracker", "serve", "--port", "0", "--db", db],
                              stderr=subprocess.PIPE, text=True)
    assert server.stderr is not None
    while True:
        line = server.stderr.readline()
        if not line:
            server.wait(15)
            raise RuntimeError("tracker serve did not start")
        found = re.search(r"at http://127\.0\.0\.1:(\d+)/", line)
        if found:
            return server, int(found.group(1))


def latencies(ctx: Context, side: str, count: int) -> list[float]:
    """Seconds from each appended event's recorded_at to its arrival at the subscriber."""
    from websockets.asyncio.client import connect

    db = ctx.path(f"wake-{side}")
    for suffix in ("", "-wal", "-shm"):
        if Path(_seeded(ctx) + suffix).exists():
            shutil.copy(_seeded(ctx) + suffix, db + suffix)
    blocker = Path(db + ".wake")
    if side == "polling":
        blocker.write_text("no wake-up sockets here: the server polls")
    with sqlite3.connect(db) as conn:
        (head,) = conn.execute("SELECT MAX(position) FROM events").fetchone()
    reports = _reports(ctx.tmp, count)
    server, port = _serve(db)

    async def measure() -> list[float]:
        out: list[float] = []
        async with connect(f"ws://127.0.0.1:{port}/ws", max_size=None) as ws:
            await ws.send(json.dumps({"op": "subscribe", "stream": "events", "after": head}))
            while json.loads(await ws.recv())["type"] != "caught_up":
                pass
            for report in reports:
                append = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "tracker", "append", str(report), "--db", db,
                    stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
                while True:
                    message = json.loads(await asyncio.wait_for(ws.recv(), 60))
                    if message["type"] == "event":
                        out.append(time.time() - datetime.fromisoformat(message["recorded_at"]).timestamp())
                        break
                _, err = await append.communicate()
                if append.returncode != 0:
                    raise RuntimeError(f"tracker append failed: {err.decode()}")
        return out

    try:
        return asyncio.run(measure())
    finally:
        server.terminate()
        server.wait(15)
        if blocker.is_dir():  # the wake-up side's folder, its sockets closed with the server
            shutil.rmtree(blocker, ignore_errors=True)
        else:
            blocker.unlink(missing_ok=True)
        ctx.remove(db)


def commit_times(ctx: Context, count: int) -> list[float]:
    """Seconds of a one-row commit in WAL synchronous=FULL beside the logs: the floor of the figure,
    whose clock starts at the stamp an append takes before its commit (and its fsync)."""
    path = ctx.path("wake-commit")
    out = []
    with sqlite3.connect(path, isolation_level=None) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("CREATE TABLE t (x)")
        for n in range(count):
            started = time.perf_counter()
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO t VALUES (?)", (n,))
            conn.execute("COMMIT")
            out.append(time.perf_counter() - started)
    ctx.remove(path)
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@benchmark("wake")
def wake_figures(ctx: Context) -> list[Figure]:
    runs = 1 if ctx.smoke else ctx.sizes.runs
    count = 5 if ctx.smoke else 40
    samples: dict[str, list[float]] = {side: [] for side in SIDES}
    commits: list[float] = []
    for run in range(runs):
        for side in SIDES if run % 2 == 0 else tuple(reversed(SIDES)):
            settle()
            samples[side] += latencies(ctx, side, count)
            commits += commit_times(ctx, count)
    floor = {f"commit_{label}_ms": round(percentile(commits, q) * 1000, 2)
             for q, label in ((0.5, "p50"), (0.99, "p99"))}
    figures = []
    for q, label, target in ((0.5, "p50", 10.0), (0.99, "p99", 30.0)):
        ours = percentile(samples["wake-up"], q) * 1000
        theirs = percentile(samples["polling"], q) * 1000
        figures.append(Figure(
            f"push latency, SQLite, `tracker append` in another process to a websocket subscriber, {label}",
            round(ours, 2), "ms", f"{len(samples['wake-up'])} appends, seeded log", f"polling the file, {label}",
            round(theirs, 2), round(ours / theirs, 3) if theirs else None, f"<= {target:g} ms", ours <= target,
            runs=runs, notes="from the store's recorded_at stamp to receipt; wake-up socket beside the file "
                             "(tracker/store/wake.py) vs the 0.1 s poll it falls back to; extra: a bare one-row "
                             "durable commit on the same disk, which the figure includes",
            extra=floor))
    return figures
