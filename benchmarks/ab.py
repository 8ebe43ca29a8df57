"""`python -m benchmarks.ab --base DIR [--what batched replay ...] [--size N] [--reps R]`

Before/after, side by side: the same measurement run against two source trees (DIR, e.g. a
`git archive` of the commit before a change, and this tree), interleaved A B B A ..., each
in a fresh process, so noise from a shared machine falls on both sides alike. Prints every
run, the medians and after/before. The measurements use only code both trees have
(benchmarks.append, benchmarks.replay, benchmarks.backends), taken from the tree under test.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = str(Path(__file__).resolve().parent.parent)

# Each snippet prints events/s (wall clock) and CPU microseconds per event (every thread of
# the process, over the same span: on a shared machine the steadier of the two); it runs with
# the tree under test first on sys.path.
SNIPPETS = {
    "batched": """
import asyncio, os, time
from benchmarks import workload
from benchmarks.append import items_of
from tracker.service import Tracker
rows = workload.rows(SIZE)
async def go():
    wall = cpu = 0.0
    async with await Tracker.open(os.path.join(TMP, 'batched.db')) as tracker:
        for batch in workload.batches_of(rows, 1000):
            items = items_of(batch)
            w, c = time.perf_counter(), time.process_time()
            await tracker.append(items)
            wall += time.perf_counter() - w
            cpu += time.process_time() - c
    return wall, cpu
wall, cpu = asyncio.run(go())
print(len(rows) / wall, cpu / len(rows) * 1e6)
""",
    "concurrent": """
import asyncio, os, time
from benchmarks import workload
from benchmarks.append import tracker_concurrent, split
rows = workload.rows(SIZE)
n = len(rows) - len(split(rows)[0])
c = time.process_time()  # the registrations appended first are in it: a few thousand of SIZE
seconds = asyncio.run(tracker_concurrent(os.path.join(TMP, 'concurrent.db'), rows, 100))
print(n / seconds, (time.process_time() - c) / n * 1e6)
""",
    "replay": """
import asyncio, time
from benchmarks.replay import tracker_replay
c = time.process_time()
seconds, report = asyncio.run(tracker_replay(SHARED))
print(report['events'] / seconds, (time.process_time() - c) / report['events'] * 1e6)
""",
    "pg4x1": """
from benchmarks import workload
from benchmarks.backends import PgDatabase, append_rate
rows = workload.rows(SIZE + 2_100)
with PgDatabase() as url:
    print(append_rate(url, rows, 4, 1), 0)
""",
    "pgstore4x1": """
import asyncio, multiprocessing, time, uuid
from benchmarks.backends import PgDatabase
from tracker.store import NewEvent, open_store
def writer(url, n, barrier, results):  # the store alone, no Tracker: each process awaits each one-event append
    async def run():
        async with await open_store(url) as store:
            events = [NewEvent(str(uuid.uuid4()), 'Thing', '{"n": %d}' % i) for i in range(n)]
            barrier.wait()
            cpu = time.process_time()
            for event in events:
                await store.append([event])
            return time.perf_counter(), time.process_time() - cpu
    results.put(asyncio.run(run()))
mp = multiprocessing.get_context('fork')
with PgDatabase() as url:
    barrier, results = mp.Barrier(5), mp.Queue()
    processes = [mp.Process(target=writer, args=(url, SIZE // 4, barrier, results)) for _ in range(4)]
    for p in processes:
        p.start()
    barrier.wait()
    started = time.perf_counter()
    finished = [results.get(timeout=600) for _ in processes]
    for p in processes:
        p.join(60)
n = SIZE // 4 * 4
print(n / (max(end for end, _ in finished) - started), sum(cpu for _, cpu in finished) / n * 1e6)
""",
    "sqlite4x1": """
import os
from benchmarks import workload
from benchmarks.backends import append_rate
rows = workload.rows(SIZE + 2_100)
print(append_rate(os.path.join(TMP, 'w4.db'), rows, 4, 1), 0)
""",
}


def run_one(tree: str, what: str, size: int, shared: str) -> tuple[float, float]:
    with tempfile.TemporaryDirectory(prefix="tracker-ab-") as tmp:
        code = (f"import sys; sys.path.insert(0, {tree!r})\n"
                f"SIZE, TMP, SHARED = {size}, {tmp!r}, {shared!r}\n"
                "from tracker.logs import configure\nconfigure()\n"  # logs at WARNING, as python -m benchmarks
                + SNIPPETS[what])
        env = {**os.environ, "PYTHONPATH": tree}  # and for the writer processes that pg4x1 spawns
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp)
        if out.returncode:
            raise SystemExit(f"{what} on {tree} failed:\n{out.stderr}")
        rate, cpu = out.stdout.strip().splitlines()[-1].split()
        return float(rate), float(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ab", description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the source tree to compare against")
    parser.add_argument("--what", nargs="+", default=["batched"], choices=sorted(SNIPPETS))
    parser.add_argument("--size", type=int, default=200_000)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    needs_pg = sorted(w for w in args.what if w.startswith("pg"))
    if needs_pg and not (os.environ.get("TRACKER_BENCH_PG_DSN") or os.environ.get("TRACKER_TEST_PG_DSN")):
        parser.error(f"{', '.join(needs_pg)} measure PostgreSQL: set TRACKER_BENCH_PG_DSN or TRACKER_TEST_PG_DSN "
                     "(e.g. postgresql://postgres@127.0.0.1:5432/postgres)")
    sides = {"before": str(Path(args.base).resolve()), "after": HERE}
    summary = {}
    with tempfile.TemporaryDirectory(prefix="tracker-ab-log-") as tmp:
        shared = os.path.join(tmp, "log.db")
        if "replay" in args.what:
            sys.path.insert(0, HERE)
            from benchmarks import bare, workload
            bare.build_log(shared, workload.rows(args.size))
        for what in args.what:
            rates: dict[str, list[float]] = {"before": [], "after": []}
            cpus: dict[str, list[float]] = {"before": [], "after": []}
            for rep in range(args.reps):
                order = ["before", "after"] if rep % 2 == 0 else ["after", "before"]
                for side in order:
                    rate, cpu = run_one(sides[side], what, args.size, shared)
                    rates[side].append(rate)
                    cpus[side].append(cpu)
                    print(f"{what} {side}: {rate:,.0f}/s, {cpu:.2f} us CPU/event", flush=True)
            before, after = statistics.median(rates["before"]), statistics.median(rates["after"])
            cpu_before, cpu_after = statistics.median(cpus["before"]), statistics.median(cpus["after"])
            summary[what] = {"size": args.size, "reps": args.reps, "before": round(before), "after": round(after),
                             "ratio": round(after / before, 3), "cpu_us_before": round(cpu_before, 2),
                             "cpu_us_after": round(cpu_after, 2),
                             "cpu_ratio": round(cpu_before / cpu_after, 3) if cpu_after else None}
            print(f"== {what} (size {args.size:,}, {args.reps} reps, medians): before {before:,.0f}/s, "
                  f"after {after:,.0f}/s, after/before {after / before:.2f}; CPU per event "
                  f"{cpu_before:.2f} -> {cpu_after:.2f} us", flush=True)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
