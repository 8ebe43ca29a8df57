"""ACLED import: 100k rows of a made-up export in one `tracker import --format acled` pass, then
the same export again (nothing to append), then a newer export with 1% of rows changed and 1%
gone, synced (--sync). Each a real `tracker` process on a fresh SQLite store, with its peak RSS."""

from __future__ import annotations

import csv
import random
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from tracker.core.acled import COLUMNS, EVENT_TYPES

from .core import Context, Figure, benchmark

_SUBS = [(kind, sub) for kind, subs in EVENT_TYPES.items() for sub in subs]


def make(path: Path, rows: int, seed: int, drop: float = 0.0, change: float = 0.0) -> None:
    """`rows` rows over 2014, 400 actors, 3,000 locations; with `drop` and `change` a newer export."""
    rng = random.Random(0)  # the same base rows every time
    pick = random.Random(seed)
    actors = [f"Armed group {n} (Iraq)" for n in range(400)]
    places = [(f"Village {n}", 30 + rng.random() * 7, 39 + rng.random() * 9) for n in range(3000)]
    start = date(2014, 1, 1)
    with path.open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(COLUMNS)
        for n in range(rows):
            kind, sub = _SUBS[rng.randrange(len(_SUBS))]
            location, lat, lon = places[rng.randrange(len(places))]
            day = start + timedelta(days=rng.randrange(360))
            deaths = rng.choice((0, 0, 1, 3, 12))
            stamp = datetime.combine(day + timedelta(days=7), datetime.min.time(), UTC).timestamp()
            cells = {"event_id_cnty": f"IRQ{n}", "event_date": day.isoformat(), "year": "2014",
                     "time_precision": str(rng.choice((1, 1, 1, 2, 3))), "event_type": kind, "sub_event_type": sub,
                     "actor1": actors[rng.randrange(400)], "inter1": "2", "actor2": actors[rng.randrange(400)],
                     "inter2": "3", "country": "Iraq", "admin1": "Ninewa", "location": location,
                     "latitude": f"{lat:.4f}", "longitude": f"{lon:.4f}", "geo_precision": str(rng.choice((1, 2, 3))),
                     "source": "Reuters; Shafaq News", "notes": f"Event {n}: a clash near {location}.",
                     "fatalities": str(deaths), "timestamp": str(int(stamp))}
            if drop and pick.random() < drop:
                continue
            if change and pick.random() < change:
                cells.update(fatalities=str(deaths + 5), timestamp=str(int(stamp) + 86400 * 30))
            out.writerow([cells.get(c, "") for c in COLUMNS])


# `python -m tracker ...` that prints its peak RSS (VmHWM: since its exec, unlike rusage's maxrss,
# which keeps the forking parent's) on stderr as it exits.
_WRAP = ("import atexit, runpy, sys\n"
         "def peak():\n"
         "    for line in open('/proc/self/status'):\n"
         "        if line.startswith('VmHWM:'):\n"
         "            print('PEAK_KB', line.split()[1], file=sys.stderr)\n"
         "atexit.register(peak)\n"
         "sys.argv = ['tracker', *sys.argv[1:]]\n"
         "runpy.run_module('tracker', run_name='__main__')\n")


def run(db: str, *args: str) -> tuple[float, str, float]:
    """Seconds, the first line printed, and the process's peak RSS in MiB."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _WRAP, "--db", db, "import", "--format", "acled", *args],
                          capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"tracker import failed: {done.stderr[-2000:]}")
    peak = [int(line.split()[1]) for line in done.stderr.splitlines() if line.startswith("PEAK_KB")]
    return seconds, done.stdout.splitlines()[0], (peak[0] / 1024 if peak else float("nan"))


@benchmark("acled_import")
def bench(ctx: Context) -> list[Figure]:
    rows = 5_000 if ctx.smoke else 100_000
    first, newer = ctx.tmp / "acled-1.csv", ctx.tmp / "acled-2.csv"
    make(first, rows, 1)
    make(newer, rows, 2, drop=0.01, change=0.01)
    db = ctx.path("acled")
    seconds, said, rss = run(db, str(first))
    again, said_again, rss_again = run(db, str(first))
    synced, said_synced, rss_synced = run(db, str(newer), "--sync", "--from", "2014-01-01", "--to", "2014-12-31")
    size = f"{rows:,} rows"
    return [
        Figure("ACLED import, one pass", rows / seconds, "rows/s", size, None, None, None, "one pass, all or nothing",
               True, notes=f"{seconds:.1f} s, peak RSS {rss:.0f} MiB; {said}"),
        Figure("ACLED re-import, unchanged", rows / again, "rows/s", size, None, None, None, "appends nothing",
               "appended 0 events" in said_again, notes=f"{again:.1f} s, peak RSS {rss_again:.0f} MiB; {said_again}"),
        Figure("ACLED re-import, 1% changed, 1% gone, --sync", rows / synced, "rows/s", size, None, None, None,
               "corrections only", True, notes=f"{synced:.1f} s, peak RSS {rss_synced:.0f} MiB; {said_synced}"),
    ]
