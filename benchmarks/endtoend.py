"""What a user gets, end to end, through the public interfaces: `tracker state --as-of` as a
whole process, `tracker serve` (re)start until /healthz answers at the head, served as-of
answers over HTTP (latency and bytes as sent) and the serving node's peak memory."""

from __future__ import annotations

import http.client
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import timedelta

from .asof import percentile
from .core import Context, Figure, benchmark
from .dashboard import Server, build
from .workload import DAYS, START


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("TRACKER_DB", "TRACKER_TOKEN", "TRACKER_DEBUG")}


def _dates(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    return [(START + timedelta(days=rng.randrange(DAYS))).isoformat() for _ in range(n)]


def cli_seconds(path: str, dates: list[str]) -> list[float]:
    """`tracker state territory --as-of D --json` as a whole process, one per date, in turn."""
    out = []
    for day in dates:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "tracker", "state", "territory", "--as-of", day, "--json", "--db", path],
                       check=True, stdout=subprocess.DEVNULL, env=_env())
        out.append(time.perf_counter() - started)
    return out


def _get(port: int, path: str, gzip: bool = True) -> tuple[int, int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request("GET", path, headers={"Accept-Encoding": "gzip"} if gzip else {})
        answer = conn.getresponse()
        body = answer.read()
        return answer.status, len(body), body
    finally:
        conn.close()


def status_mb(pid: int, field: str) -> float:
    """A memory figure of /proc/PID/status (VmRSS, VmHWM, ...) in MB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb(pid: int) -> float:
    return status_mb(pid, "VmHWM")


@benchmark("endtoend")
def endtoend_figures(ctx: Context) -> list[Figure]:
    n, q = ctx.sizes.replay, ctx.sizes.queries
    path = ctx.path("endtoend")
    places, actors = (200, 20) if ctx.smoke else (5_000, 50)  # the scale issue's world
    build(path, n, places, actors)  # its own log: snapshots are written into it
    size = f"{n:,} events, {places:,} places, {actors} actors"
    figures = []

    # The CLI: the first query folds the log and keeps a snapshot; later ones start from the nearest.
    first = cli_seconds(path, _dates(0, 1))[0]
    later = cli_seconds(path, _dates(1, 5 if ctx.smoke else 15))
    figures.append(Figure("tracker state territory --as-of D, whole process", round(statistics.median(later), 3),
                          "s", size=size, target="<= 1 s", met=statistics.median(later) <= 1,
                          anchor="the first query (no snapshot yet: folds the log, keeps one)",
                          anchor_value=round(first, 3), ratio=round(statistics.median(later) / first, 4),
                          notes=f"median of {len(later)} random dates after the first; max {max(later):.3f} s"))

    # The server: a first start, then a restart on the log it served, until /healthz at the head.
    log = ctx.tmp / "endtoend-serve.log"
    # The first start folds the log; its clean stop keeps the timeline's image (tracker/images.py),
    # which the restart reads back.
    server = Server(path, log)
    cold, cold_rss = server.start_seconds, peak_rss_mb(server.proc.pid)
    stopping = time.perf_counter()
    server.stop()
    stop_seconds = time.perf_counter() - stopping
    server = Server(path, log)
    figures.append(Figure("tracker serve restart until /healthz at the head", round(server.start_seconds, 3), "s",
                          size=size, target="<= 5 s", met=server.start_seconds <= 5,
                          anchor="first start (no image: folds the log and builds the checkpoints)",
                          anchor_value=round(cold, 3), ratio=round(server.start_seconds / cold, 4),
                          notes=f"the first server's clean stop, which writes the image: {stop_seconds:.1f} s"))
    try:
        latencies, sizes = [], []
        for day in _dates(2, q):
            started = time.perf_counter()
            status, sent, _ = _get(server.port, f"/api/state/territory?as_of={day}")
            latencies.append((time.perf_counter() - started) * 1000)
            sizes.append(sent)
            if status != 200:
                raise RuntimeError(f"GET /api/state/territory?as_of={day}: {status}")
        p50, p99 = statistics.median(latencies), percentile(latencies, 0.99)
        common = {"size": f"{size}, {q:,} requests", "anchor": None, "anchor_value": None, "ratio": None,
                  "notes": "one HTTP/1.1 request per connection, Accept-Encoding: gzip; body as sent: "
                           f"median {statistics.median(sizes) / 1e6:.3f} MB, max {max(sizes) / 1e6:.3f} MB"}
        figures.append(Figure("GET /api/state/territory?as_of=, p50", round(p50, 3), "ms", target="<= 10 ms",
                              met=p50 <= 10, **common))
        figures.append(Figure("GET /api/state/territory?as_of=, p99", round(p99, 3), "ms", target="<= 50 ms",
                              met=p99 <= 50, **common))
        body_mb = max(sizes) / 1e6
        figures.append(Figure("GET /api/state/territory body as sent, max", round(body_mb, 3), "MB",
                              target="<= 1 MB", met=body_mb <= 1, **common))
        rss = peak_rss_mb(server.proc.pid)
        figures.append(Figure("serving node peak RSS after catch-up and the queries", round(rss), "MB",
                              size=f"{size}, {q:,} as-of requests", target="<= 500 MB", met=rss <= 500,
                              anchor="the first start's, folded from the log, before any query",
                              anchor_value=round(cold_rss), ratio=round(rss / cold_rss, 3),
                              notes="the restarted node, started from the image: unpickling leaves freed "
                                    "holes in the allocator's pools (see README)"))
    finally:
        server.stop()
    return figures
