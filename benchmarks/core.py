"""The runner's parts: a figure, the registry of benchmarks, sizes, timing helpers.

A benchmark is a function `bench(ctx) -> list[Figure]` registered with `@benchmark`; any
module imported by `benchmarks.__main__` (see MODULES there) can add figures, so the live
(websocket) figures can come from a module of their own.
"""

from __future__ import annotations

import gc
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

DURABLE = "WAL synchronous=FULL"


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    size: str
    anchor: str | None
    anchor_value: float | None
    ratio: float | None  # value / anchor_value, measured side by side
    target: str
    met: bool
    durability: str = DURABLE
    runs: int = 1
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Sizes:
    batched: int = 1_000_000  # events appended in 1,000-event batches
    batch: int = 1_000
    concurrent: int = 100_000  # single-event appends by `clients` concurrent clients
    clients: int = 100
    replay: int = 1_000_000
    queries: int = 1_000
    memory_small: int = 100_000
    memory_large: int = 1_000_000
    peer_batched: int = 200_000  # eventsourcing is slow: its figures use smaller, equal-size logs
    peer_single: int = 10_000
    runs: int = 3

    @staticmethod
    def smoke() -> Sizes:
        return Sizes(batched=20_000, batch=1_000, concurrent=3_000, clients=100, replay=20_000, queries=100,
                     memory_small=5_000, memory_large=50_000, peer_batched=5_000, peer_single=500, runs=2)


class Context:
    def __init__(self, sizes: Sizes, smoke: bool) -> None:
        self.sizes = sizes
        self.smoke = smoke
        self.tmp = Path(tempfile.mkdtemp(prefix="tracker-bench-"))
        self.cache: dict[str, Any] = {}  # artefacts shared between benchmarks (fixture logs)
        self._n = 0

    def path(self, stem: str) -> str:
        self._n += 1
        return str(self.tmp / f"{stem}-{self._n}.db")

    def remove(self, path: str) -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(path + suffix).unlink(missing_ok=True)

    def close(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


Bench = Callable[[Context], list[Figure]]
REGISTRY: list[tuple[str, Bench]] = []


def benchmark(name: str) -> Callable[[Bench], Bench]:
    def register(fn: Bench) -> Bench:
        REGISTRY.append((name, fn))
        return fn
    return register


def median(values: list[float]) -> float:
    return statistics.median(values)


def rate_figure(name: str, unit: str, size: str, ours: list[float], anchor: str | None,
                theirs: list[float] | None, minimum: float | None, ratio_min: float | None,
                durability: str = DURABLE, notes: str = "") -> Figure:
    """A throughput figure: the median of each side, the median of the per-run ratios."""
    value = median(ours)
    anchor_value = median(theirs) if theirs else None
    ratio = median([a / b for a, b in zip(ours, theirs, strict=True)]) if theirs else None
    goals, met = [], True
    if minimum is not None:
        goals.append(f">= {minimum:,.0f} {unit}")
        met &= value >= minimum
    if ratio_min is not None and ratio is not None:
        goals.append(f">= {ratio_min:g} x anchor")
        met &= ratio >= ratio_min
    return Figure(name, round(value, 1), unit, size, anchor, None if anchor_value is None else round(anchor_value, 1),
                  None if ratio is None else round(ratio, 3), " and ".join(goals), bool(met), durability,
                  len(ours), notes)


class Timer:
    """Accumulates only the timed sections of a run (setup between them is not counted)."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def __enter__(self) -> Timer:
        self._t = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds += time.perf_counter() - self._t


def settle() -> None:
    """Between measured runs: collect garbage left by the previous side so neither side pays for it."""
    gc.collect()
