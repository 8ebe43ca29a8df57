"""Full replay into all three projections against bare read + orjson decode + dict fold."""

from __future__ import annotations

import asyncio

from tracker.service import Tracker

from . import bare, workload
from .core import Context, Figure, benchmark, rate_figure, settle


def fixture(ctx: Context, n: int) -> str:
    """A log of the first `n` workload events, built once per run and shared."""
    key = f"log-{n}"
    if key not in ctx.cache:
        path = ctx.path(key)
        bare.build_log(path, workload.rows(n))
        ctx.cache[key] = path
    return ctx.cache[key]


async def tracker_replay(path: str) -> tuple[float, dict]:
    async with await Tracker.open(path) as tracker:
        report = await tracker.replay()
    return report["total_seconds"], report


@benchmark("replay")
def replay_figures(ctx: Context) -> list[Figure]:
    n = ctx.sizes.replay
    path = fixture(ctx, n)
    ours, theirs, reports = [], [], []
    for run in range(ctx.sizes.runs):
        order = ["ours", "bare"] if run % 2 == 0 else ["bare", "ours"]
        for side in order:
            settle()
            if side == "ours":
                seconds, report = asyncio.run(tracker_replay(path))
                ours.append(n / seconds)
                reports.append(report)
            else:
                seconds, count, _ = bare.read_decode_fold(path)
                assert count == n
                theirs.append(n / seconds)
    figure = rate_figure("full replay into all three projections", "events/s", f"{n:,} events", ours,
                         "bare read + orjson decode + dict fold", theirs, 300_000, 0.6,
                         durability="read-only (log written WAL synchronous=FULL)",
                         notes="Tracker.replay(): read in history order (the store's date index), decode, "
                               "fold territory, arsenal and deployments in one pass, page by page")
    last = reports[-1]
    figure.extra = {k: round(last[k], 3) for k in ("read_seconds", "decode_seconds", "fold_seconds", "total_seconds")}
    return [figure]
