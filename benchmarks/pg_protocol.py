"""`python -m benchmarks.pg_protocol [checked] [call] [call-nosync] [--appends N] [--reps R]`

The PostgreSQL append protocol alone: 4 processes of bare asyncpg appending one event at a
time, no tracker code around it, so what is left is the ordering lock, the round trips under
it and the commit's WAL flush. Each mode runs on a fresh database made by this tree's store;
modes interleaved, medians printed.
- checked: the path a retry or a conflict takes, four round trips (BEGIN and the lock, the
  reads, the insert with its NOTIFY, COMMIT), the lock held across three of them;
- call: the common path, one call of tracker_append, the lock held inside the server only;
- call-nosync: the same with the session's synchronous_commit off: a measurement of what the
  flush costs, never what the store does.
Needs TRACKER_BENCH_PG_DSN or TRACKER_TEST_PG_DSN.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid

import asyncpg

from tracker.store import open_store
from tracker.store import postgres as pg

from .backends import PgDatabase, in_processes

MODES = ("checked", "call", "call-nosync")
DATA = '{"occurred_on": "2014-01-01", "n": 1}'


async def _append(url: str, mode: str, count: int, barrier) -> float:
    conn = await asyncpg.connect(url)
    if mode == "call-nosync":
        await conn.execute("SET synchronous_commit = off")
    barrier.wait()
    for _ in range(count):
        ident = str(uuid.uuid4())
        if mode == "checked":
            await conn.execute(f"BEGIN; SELECT pg_advisory_xact_lock({pg.APPEND_LOCK})")
            found = await conn.fetch(pg._LAST_AND_STORED, [ident])
            head = (found[0][0] or 0) + 1
            await conn.execute(pg._INSERT_AND_NOTIFY, [head], [ident], ["Thing"], [DATA], found[0][1], [None],
                               str(head))
            await conn.execute("COMMIT")
        else:
            await conn.fetchval(pg._APPEND_CALL, [ident], ["Thing"], [DATA], [None], None)
    await conn.close()
    return time.perf_counter()


def _writer(url: str, mode: str, count: int, barrier, results) -> None:
    results.put(asyncio.run(_append(url, mode, count, barrier)))


def rate(mode: str, writers: int, count: int) -> float:
    """Appends/s of `writers` processes, each appending `count` single events, awaited."""
    with PgDatabase() as url:
        async def schema() -> None:
            await (await open_store(url)).close()
        asyncio.run(schema())
        return writers * count / in_processes(_writer, [(url, mode, count)] * writers)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pg_protocol", description=__doc__.splitlines()[0])
    parser.add_argument("modes", nargs="*", help=f"of {', '.join(MODES)}; all if none")
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--appends", type=int, default=600, help="per writer process")
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    modes = args.modes or list(MODES)
    if set(modes) - set(MODES):
        parser.error(f"modes are {', '.join(MODES)}")
    rates: dict[str, list[float]] = {mode: [] for mode in modes}
    for rep in range(args.reps):
        for mode in modes if rep % 2 == 0 else modes[::-1]:
            rates[mode].append(rate(mode, args.writers, args.appends))
            print(f"{mode}: {rates[mode][-1]:,.0f} appends/s", flush=True)
    for mode, runs in rates.items():
        print(f"== {mode}: median {statistics.median(runs):,.0f} appends/s ({', '.join(f'{r:,.0f}' for r in runs)})")


if __name__ == "__main__":
    main()
