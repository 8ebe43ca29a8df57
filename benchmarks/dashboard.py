"""The dashboard in Chromium on a big log: load to first rendered map and tables, and a move
of the date slider until the map and the tables show the new date.

A real `tracker serve` on a synthetic log (workload.raw_events in a world of 5,000 places and
50 actors at full size, written the bare way), Debian's /usr/bin/chromium driven by Playwright
(never a downloaded browser). The times are taken in the page (performance.now(), checked at
every animation frame), so Playwright's round trips are not counted:

- load: (after the server has answered the live states once, untimed: a served node's
  checkpoints are built) from the navigation's start until the map says how many places it drew, the clocks say
  the territory state's date, and the places, arsenal and deployments tables are drawn;
- slider: the slider is set to a random day (its `input` then `change` events, as a release of
  the thumb) until the map, the clocks and the three tables all say that date.

Run alone: python -m benchmarks.dashboard [--events N] [--places P] [--actors A] [--moves K]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson

from . import bare, workload
from .core import Context, Figure, benchmark

CHROMIUM = "/usr/bin/chromium"
LOAD_TARGET_S = 3.0
SLIDER_TARGET_MS = 300.0

# The page's own clock: resolves with the ms from `t0` (performance.now() based) until `ready()`.
_READY_LOAD = """() => {
  const m = document.querySelector('#map');
  const c = document.querySelector('#clocks');
  const drawn = (id) => (document.querySelector(id + ' tbody')?.children.length || 0) > 0;
  return m && Number(m.dataset.places) > 0 && c && c.dataset.asOf
    && drawn('#places-table') && drawn('#arsenal-table') && drawn('#deployments-table')
    && document.querySelector('#feed li.feed-item') !== null;
}"""

_MOVE = """async ([index, day]) => {
  const slider = document.querySelector('#date-slider');
  const shows = () => ['#map', '#clocks', '#places-table', '#arsenal-table', '#deployments-table']
    .every((id) => document.querySelector(id).dataset.asOf === day);
  const t0 = performance.now();
  slider.value = String(index);
  slider.dispatchEvent(new Event('input', { bubbles: true }));
  slider.dispatchEvent(new Event('change', { bubbles: true }));
  return await new Promise((resolve, reject) => {
    const deadline = t0 + 30000;
    const tick = () => {
      if (shows()) resolve(performance.now() - t0);
      else if (performance.now() > deadline) reject(new Error('the page did not show ' + day + ' within 30 s'));
      else requestAnimationFrame(tick);
    };
    tick();
  });
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build(path: str, events: int, places: int, actors: int) -> None:
    world = workload.World(actors, places)
    rows = [(e["id"], e["type"], orjson.dumps(e)) for e in workload.raw_events(events, world=world)]
    bare.build_log(path, rows)


class Server:
    """`tracker serve` on the log, until /healthz answers at its head."""

    def __init__(self, db: str, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
        with open(log, "w") as out:  # the child writes to its own copy of the descriptor
            self.proc = subprocess.Popen([sys.executable, "-m", "tracker", "serve", "--db", db, "--host", "127.0.0.1",
                                          "--port", str(self.port)], stdout=out, stderr=subprocess.STDOUT, env=env)
        started = time.perf_counter()
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"tracker serve exited with {self.proc.returncode}: see {log}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.perf_counter() - started > 1800:
                raise RuntimeError("tracker serve did not answer /healthz within 30 minutes")
            time.sleep(0.05)  # fine enough for the restart figure (benchmarks/endtoend.py) too
        self.start_seconds = time.perf_counter() - started

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def warm_up(url: str) -> float:
    """The live states asked once, untimed, as a serving node has answered them before anyone
    opens the page (the first answers after a start build the checkpoints: the restart figure's
    business, not the page's). Seconds taken."""
    started = time.perf_counter()
    for projection in ("territory", "arsenal", "deployments"):
        with urllib.request.urlopen(f"{url}/api/state/{projection}", timeout=1800) as r:
            r.read()
    return round(time.perf_counter() - started, 1)


def measure(url: str, loads: int, moves: int, seed: int = 1) -> dict[str, Any]:
    """Load the page `loads` times (a fresh browser context each: nothing cached), then move the
    slider `moves` times on the last one."""
    from playwright.sync_api import sync_playwright  # optional: only this benchmark needs it

    load_ms: list[float] = []
    move_ms: list[float] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"])
        try:
            for i in range(loads):
                context = browser.new_context(viewport={"width": 1400, "height": 1000}, service_workers="block")
                page = context.new_page()
                errors: list[str] = []
                page.on("pageerror", lambda e: errors.append(str(e)))  # noqa: B023 (read before the next page)
                page.goto(url + "/", wait_until="commit")
                page.wait_for_function(_READY_LOAD, polling="raf", timeout=600_000)
                load_ms.append(page.evaluate("() => performance.now()"))
                if i < loads - 1:
                    context.close()
                    continue
                page.wait_for_function("() => !document.querySelector('#date-slider').disabled", timeout=60_000)
                span = page.evaluate("""() => ({max: Number(document.querySelector('#date-slider').max),
                    min: window.tracker.timebar.range.min})""")
                rng = random.Random(seed)
                first = date.fromisoformat(span["min"])
                last = -1
                page.evaluate("() => { window.tracker.renders.length = 0; }")
                for _ in range(moves):
                    index = rng.randrange(1, span["max"] + 1)
                    while index == last:
                        index = rng.randrange(1, span["max"] + 1)
                    last = index
                    day = (first + timedelta(days=index)).isoformat()
                    move_ms.append(page.evaluate(_MOVE, [index, day]))
                info = page.evaluate("""() => ({places: Number(document.querySelector('#map').dataset.places),
                    render: document.querySelector('#map').dataset.render,
                    feed: document.querySelectorAll('#feed li.feed-item').length,
                    held: window.tracker.state.log.records.length,
                    draws: window.tracker.renders.filter((r) => /territory|arsenal|deployments/.test(r.parts))
                      .map((r) => r.ms)})""")
                draws = sorted(info.pop("draws"))
                if draws:  # the page's own share of a move: drawing the states it got (the rest: the server's answer)
                    info["draw_ms_p50"] = statistics.median(draws)
                    info["draw_ms_p95"] = _p95(draws)
                    info["draw_ms_max"] = draws[-1]
                if errors:
                    raise RuntimeError(f"the page failed: {errors}")
                context.close()
        finally:
            browser.close()
    return {"load_ms": load_ms, "move_ms": move_ms, "page": info}


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def run(events: int, places: int, actors: int, loads: int, moves: int, tmp: Path) -> dict[str, Any]:
    db = str(tmp / "dashboard.db")
    started = time.perf_counter()
    build(db, events, places, actors)
    built = time.perf_counter() - started
    server = Server(db, tmp / "serve.log")
    try:
        warm = warm_up(server.url)
        result = measure(server.url, loads, moves)
        result["warm_up_seconds"] = warm
    finally:
        server.stop()
    result.update(build_seconds=round(built, 1), serve_start_seconds=round(server.start_seconds, 1))
    return result


def figures(result: dict[str, Any], events: int, places: int, actors: int) -> list[Figure]:
    size = f"{events:,} events, {places:,} places, {actors} actors"
    load = statistics.median(result["load_ms"]) / 1000
    moves = result["move_ms"]
    p95 = _p95(moves)
    common = {"size": size, "anchor": None, "anchor_value": None, "ratio": None,
              "durability": "read-only (log written WAL synchronous=FULL)",
              "extra": {"page": result["page"], "serve_start_seconds": result["serve_start_seconds"],
                        "warm_up_seconds": result["warm_up_seconds"], "build_seconds": result["build_seconds"]}}
    return [
        Figure("dashboard: load to first rendered map and tables", round(load, 3), "s",
               target=f"<= {LOAD_TARGET_S:g} s", met=load <= LOAD_TARGET_S, runs=len(result["load_ms"]),
               notes="Chromium (Playwright, /usr/bin/chromium) against tracker serve; navigation start until the map, "
                     "the clocks, the places, arsenal and deployments tables and the feed are drawn; median of fresh "
                     f"contexts; loads (ms): {[round(x) for x in result['load_ms']]}", **common),
        Figure("dashboard: slider moved to a new date until map and tables show it, p95", round(p95, 1), "ms",
               target=f"<= {SLIDER_TARGET_MS:g} ms", met=p95 <= SLIDER_TARGET_MS, runs=len(moves),
               notes=f"{len(moves)} moves to random days; p50 {statistics.median(moves):.1f} ms, "
                     f"max {max(moves):.1f} ms; until the map, the clocks and the three tables say the date; "
                     "the page's own drawing calls for each state it got: "
                     f"p50 {result['page'].get('draw_ms_p50', 0):.1f} ms, "
                     f"p95 {result['page'].get('draw_ms_p95', 0):.1f} ms (extra.page); the rest is the server's "
                     "three answers (folded, rendered, encoded, compressed, sent in turn) and the browser's parsing, "
                     "layout and compositing, which those calls do not count (README: a profile of both)", **common),
    ]


@benchmark("dashboard")
def dashboard_figures(ctx: Context) -> list[Figure]:
    if not os.path.exists(CHROMIUM):
        raise RuntimeError(f"{CHROMIUM} is missing: apt-get install chromium (never `playwright install`)")
    events, places, actors, loads, moves = (20_000, 1_000, 20, 2, 10) if ctx.smoke else (1_000_000, 5_000, 50, 3, 30)
    events = int(os.environ.get("TRACKER_BENCH_DASHBOARD_EVENTS", events))
    tmp = Path(tempfile.mkdtemp(prefix="dashboard-", dir=ctx.tmp))
    try:
        return figures(run(events, places, actors, loads, moves, tmp), events, places, actors)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--places", type=int, default=5_000)
    parser.add_argument("--actors", type=int, default=50)
    parser.add_argument("--loads", type=int, default=3)
    parser.add_argument("--moves", type=int, default=40)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="tracker-dashboard-"))
    try:
        result = run(args.events, args.places, args.actors, args.loads, args.moves, tmp)
        out = [f.as_json() for f in figures(result, args.events, args.places, args.actors)]
        print(json.dumps({"result": result, "figures": out}, indent=1))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
