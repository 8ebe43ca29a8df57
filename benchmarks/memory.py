"""Peak RSS of a replay, measured in a fresh subprocess: a log 10x longer of the same world.

Run as `python -m benchmarks.memory PATH` it replays PATH and prints its peak RSS in MiB.
"""

from __future__ import annotations

import asyncio
import resource
import subprocess
import sys

from .core import Context, Figure, benchmark, median
from .replay import fixture


def peak_mib() -> float:
    """This process's peak RSS. VmHWM belongs to the process image, so unlike getrusage's
    ru_maxrss it does not carry the parent's peak across fork and exec."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def child(path: str | None) -> None:
    from tracker.service import Tracker  # imported in both cases: the baseline includes it

    async def main() -> None:
        async with await Tracker.open(path) as tracker:
            await tracker.replay()

    if path:
        asyncio.run(main())
    print(f"{peak_mib():.1f}")


def run_child(path: str | None) -> float:
    out = subprocess.run([sys.executable, "-m", "benchmarks.memory", *([path] if path else [])],
                         check=True, capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


@benchmark("memory")
def memory_figures(ctx: Context) -> list[Figure]:
    small_n, large_n = ctx.sizes.memory_small, ctx.sizes.memory_large
    small, large = fixture(ctx, small_n), fixture(ctx, large_n)
    smalls, larges, ratios = [], [], []
    for _ in range(ctx.sizes.runs):
        s, big = run_child(small), run_child(large)
        smalls.append(s)
        larges.append(big)
        ratios.append(big / s)
    baseline = run_child(None)
    ratio = median(ratios)
    return [Figure("memory: peak RSS of a replay", round(median(larges), 1), "MiB",
                   f"{large_n:,} vs {small_n:,} events", f"the same replay of {small_n:,} events",
                   round(median(smalls), 1), round(ratio, 3), "<= 1.5 x anchor", ratio <= 1.5,
                   durability="read-only (log written WAL synchronous=FULL)", runs=len(ratios),
                   notes="Tracker.replay() in a fresh process; "
                         f"the interpreter with tracker imported: {baseline:.0f} MiB")]


if __name__ == "__main__":
    child(sys.argv[1] if len(sys.argv) > 1 else None)
