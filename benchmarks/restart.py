"""`python -m benchmarks.restart --log DB [--base DIR] [--cycles N] [--events N]`

A server's start and restart, side by side: `tracker serve` run from this tree and, with
`--base`, from another source tree (e.g. a `git worktree` of the commit before a change),
each on its own copy of one SQLite log, interleaved A B A B. A first cycle starts without an
image (the log folded, the checkpoints built); its clean stop writes the image, which the
next cycles read back. Prints, per start: seconds until /healthz answers 200, the process's
resident and peak memory then, the stop's seconds and the image's size. Without `--log`, a
workload log of `--events` events over 5,000 places and 50 actors is built first (as
benchmarks.dashboard does).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from .dashboard import Server, build
from .endtoend import peak_rss_mb, status_mb

HERE = str(Path(__file__).resolve().parent.parent)


def cycle(tree: str, db: str, log: Path) -> str:
    """One start until /healthz 200 and a clean stop, with `tree` first on the server's path."""
    # `python -m tracker` finds the package in its working directory first, then on PYTHONPATH
    os.chdir(tree)
    os.environ["PYTHONPATH"] = tree  # Server passes the environment on (TRACKER_* aside)
    server = Server(db, log)
    rss, peak = status_mb(server.proc.pid, "VmRSS"), peak_rss_mb(server.proc.pid)
    stopping = time.perf_counter()
    server.stop()
    stopped = time.perf_counter() - stopping
    image = Path(db + ".image")
    size = f"{image.stat().st_size / 1e6:,.0f} MB" if image.exists() else "none"
    return (f"start {server.start_seconds:.2f} s, RSS {rss:,.0f} MB (peak {peak:,.0f} MB), "
            f"stop {stopped:.1f} s, image {size}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--log", help="a SQLite log to copy (default: build a workload log)")
    parser.add_argument("--base", help="another source tree to run side by side with this one")
    parser.add_argument("--cycles", type=int, default=3, help="starts per tree, the first without an image")
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="tracker-restart-"))
    try:
        source = args.log
        if source is None:
            source = str(tmp / "source.db")
            build(source, args.events, 5_000, 50)
        trees = {"this": HERE, **({"base": str(Path(args.base).resolve())} if args.base else {})}
        dbs = {}
        for name in trees:
            dbs[name] = str(tmp / f"{name}.db")
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(source + suffix):
                    shutil.copy(source + suffix, dbs[name] + suffix)
        for n in range(args.cycles):
            for name, tree in (trees.items() if n % 2 == 0 else reversed(trees.items())):
                print(f"{name} cycle {n + 1}: {cycle(tree, dbs[name], tmp / f'{name}.log')}", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
