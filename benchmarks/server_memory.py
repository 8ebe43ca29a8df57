"""What a server's timeline costs on a long log: catch up with it, render every projection's
current state (this builds the checkpoints), then answer as-of queries at random dates.

`python -m benchmarks.server_memory PATH [QUERIES]` prints the catch-up time, the as-of
p50/p99 and this process's peak RSS. Run it on a log that `python -m benchmarks` left, or on
one made by `benchmarks.bare.build_log`. Not a registered figure: it measures a design
choice (README, Performance), before and after, one run after the other.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from datetime import timedelta

from tracker.core.projections import PROJECTIONS
from tracker.service import Tracker

from .memory import peak_mib
from .workload import DAYS, START


async def measure(path: str, queries: int) -> None:
    async with await Tracker.open(path) as tracker:
        started = time.perf_counter()
        timeline = await tracker.catch_up()
        for name in PROJECTIONS:
            timeline.state(name)
        ready = time.perf_counter() - started
        rng = random.Random(1)
        latencies = []
        for _ in range(queries):
            as_of = (START + timedelta(days=rng.randrange(DAYS))).isoformat()
            t = time.perf_counter()
            for name in PROJECTIONS:
                timeline.state(name, as_of)
            latencies.append((time.perf_counter() - t) * 1000)
    latencies.sort()
    print(f"catch-up and first render {ready:.1f} s; as-of p50 {latencies[len(latencies) // 2]:.2f} ms, "
          f"p99 {latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))]:.2f} ms; "
          f"peak RSS {peak_mib():,.0f} MiB")


if __name__ == "__main__":
    asyncio.run(measure(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 300))
