"""State as of a random date: the three projections folded from the nearest checkpoint."""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from datetime import timedelta

from tracker.core.projections import PROJECTIONS
from tracker.core.timeline import replay as from_scratch
from tracker.service import Tracker

from .core import Context, Figure, benchmark, median, settle
from .replay import fixture
from .workload import DAYS, START


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def measure(path: str, queries: int, seeds: list[int]) -> list[tuple[list[float], float]]:
    """The timeline a server builds when it starts (catch up with the log, then the current
    state of every projection, untimed), then one set of `queries` per seed."""
    out = []
    async with await Tracker.open(path) as tracker:
        timeline = await tracker.catch_up()
        for name in PROJECTIONS:
            timeline.state(name)  # builds the checkpoints, as the server's first render does
        for seed in seeds:
            settle()
            rng = random.Random(seed)
            dates = [(START + timedelta(days=rng.randrange(DAYS))).isoformat() for _ in range(queries)]
            latencies = []
            for as_of in dates:
                started = time.perf_counter()
                for name in PROJECTIONS:
                    timeline.state(name, as_of)
                latencies.append((time.perf_counter() - started) * 1000)
            # the anchor: the same question answered by folding the whole log from scratch
            records = timeline.records()
            started = time.perf_counter()
            for projection in PROJECTIONS.values():
                from_scratch(records, projection, dates[0])
            out.append((latencies, (time.perf_counter() - started) * 1000))
            del records
    return out


@benchmark("asof")
def asof_figures(ctx: Context) -> list[Figure]:
    n, q = ctx.sizes.replay, ctx.sizes.queries
    path = fixture(ctx, n)
    p50s, p99s, scratch = [], [], []
    for latencies, full in asyncio.run(measure(path, q, seeds=list(range(ctx.sizes.runs)))):
        p50s.append(statistics.median(latencies))
        p99s.append(percentile(latencies, 0.99))
        scratch.append(full)
    p50, p99, anchor = median(p50s), median(p99s), median(scratch)
    common = {"unit": "ms", "size": f"{n:,} events, {q:,} queries", "anchor": "fold from scratch (timeline.replay)",
                  "anchor_value": round(anchor, 2), "durability": "in memory, after catch-up", "runs": len(p50s),
                  "notes": "each query: territory, arsenal and deployments as of one random date; "
                        "one catch-up of the timeline (as a starting server), then one set of queries per run"}
    return [Figure("state as of a random date, p50", round(p50, 3), ratio=round(p50 / anchor, 5),
                   target="<= 5 ms", met=p50 <= 5, **common),
            Figure("state as of a random date, p99", round(p99, 3), ratio=round(p99 / anchor, 5),
                   target="<= 25 ms", met=p99 <= 25, **common)]
