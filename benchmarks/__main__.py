"""`python -m benchmarks [--smoke] [--only NAME ...] [--runs N] [--profile NAME]`

Runs every registered benchmark (see MODULES), prints a table and writes
benchmarks/results/latest.json (or --out). --smoke runs tiny sizes to prove the suite works.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import platform
import sys
import time
from pathlib import Path

from tracker.logs import configure

from . import core

# Each module registers its figures with @benchmark on import; another module (the live
# websocket figures) joins the run by being listed here.
MODULES = ["benchmarks.append", "benchmarks.replay", "benchmarks.asof", "benchmarks.memory", "benchmarks.peer",
           "benchmarks.live", "benchmarks.soak", "benchmarks.backends", "benchmarks.endtoend",
           "benchmarks.wake", "benchmarks.dashboard", "benchmarks.acled_import"]
RESULTS = Path(__file__).parent / "results"


def machine() -> dict[str, object]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import sqlite3
    return {"cpus": os.cpu_count(), "cpu": model or platform.processor(), "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version, "platform": platform.platform()}


def table(figures: list[core.Figure]) -> str:
    head = ("figure", "value", "anchor", "ratio", "target", "met")
    lines = []
    for f in figures:
        anchor = "" if f.anchor_value is None else f"{f.anchor_value:,.6g} ({f.anchor})"
        lines.append((f"{f.name} [{f.size}]", f"{f.value:,.6g} {f.unit}", anchor,
                      "" if f.ratio is None else f"{f.ratio:.3g}", f.target, "yes" if f.met else "NO"))
    widths = [max(len(str(row[i])) for row in [head, *lines]) for i in range(len(head))]
    out = ["  ".join(str(c).ljust(w) for c, w in zip(head, widths, strict=True))]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in lines]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, seconds: proves the suite works")
    parser.add_argument("--only", nargs="*", help="run only these benchmarks (by registered name)")
    parser.add_argument("--runs", type=int, help="runs per figure (the median is reported)")
    parser.add_argument("--out", help="where to write the JSON (default benchmarks/results/latest.json; "
                                      "--smoke and --only default to results/smoke.json / partial.json)")
    parser.add_argument("--profile", metavar="NAME", help="run one benchmark under pyinstrument, print its profile")
    args = parser.parse_args(argv)
    configure()  # tracker's logs at WARNING: an info line per append would be measured too

    for module in MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name != module:
                raise  # a module that is there but cannot import its dependencies is an error
    sizes = core.Sizes.smoke() if args.smoke else core.Sizes()
    if args.runs:
        sizes.runs = args.runs
    ctx = core.Context(sizes, args.smoke)
    selected = [(n, fn) for n, fn in core.REGISTRY if not args.only or n in args.only]
    if args.profile:
        selected = [(n, fn) for n, fn in core.REGISTRY if n == args.profile]
    if args.smoke:
        from .workload import check_canonical
        check_canonical(2000)

    # Make the largest workload once, then take it out of the collector's sight: a
    # million held rows would otherwise be rescanned by every full collection, on both sides.
    from . import workload
    workload.rows(max(sizes.batched, sizes.replay, sizes.memory_large, sizes.concurrent, sizes.peer_batched))
    gc.collect()
    gc.freeze()

    figures: list[core.Figure] = []
    started = time.perf_counter()
    try:
        for name, fn in selected:
            t = time.perf_counter()
            print(f"-- {name} ...", file=sys.stderr, flush=True)
            if args.profile:
                from pyinstrument import Profiler
                with Profiler() as profiler:
                    got = fn(ctx)
                print(profiler.output_text(unicode=True, color=False, show_all=False))
            else:
                got = fn(ctx)
            figures += got
            print(f"   {name}: {time.perf_counter() - t:.1f} s", file=sys.stderr, flush=True)
    finally:
        ctx.close()
    elapsed = time.perf_counter() - started

    print(table(figures))
    print(f"\n{sum(f.met for f in figures)} of {len(figures)} targets met; {elapsed:.0f} s; "
          f"{'smoke sizes (not a measurement)' if args.smoke else 'full sizes'}")
    out = Path(args.out) if args.out else RESULTS / (
        "smoke.json" if args.smoke else "partial.json" if (args.only or args.profile) else "latest.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    document = {"command": "python -m benchmarks" + (" --smoke" if args.smoke else ""), "smoke": args.smoke,
                "machine": machine(), "seconds": round(elapsed, 1), "runs": sizes.runs,
                "figures": [f.as_json() for f in figures]}
    out.write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
