"""The live figures: tracker's websocket server against a bare `websockets` broadcast.

Three processes per side, so each side gets what it would get in production:
- the server: `tracker serve` (tracker.server.run on a fresh copy of a log holding the
  world's registrations), or the anchor, a bare `websockets` server that broadcasts
  (`websockets.asyncio.server.broadcast`) whatever text a driver sends it, line by line;
  both with the same `serve()` options (tracker's: permessage-deflate offered as by default);
- the clients: one process, one asyncio loop, holding every subscriber and the driver
  (the connection that appends), so one clock (perf_counter) times the send and every receipt;
- this process, which only orchestrates and waits.
The bare side broadcasts the very messages tracker sends (tracker's serialisation of the same
events at the same positions), so the bytes on the wire match; tracker's side also validates,
commits durably (WAL synchronous=FULL), reads back and fans out.

- latency: `subscribers` clients subscribed at the head; the driver appends one event,
  waits until every subscriber has it, pauses, and again; every (append, subscriber) pair is
  one sample (the first append is a warm-up, not counted); p50/p99 per run, the median of runs.
- throughput: the driver streams `events` in batches, staying at most `window` events
  ahead of the slowest subscriber (closed loop: the fastest sustained rate, not a backlog
  drained later); events/s = events / (first send .. last subscriber has the last event).
  Every subscriber must receive every position exactly once and in order: checked, asserted
  for tracker's side and reported for both.

Run one side alone for profiling: python -m benchmarks.live server|bare|clients (see main()).
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from .core import Context, Figure, benchmark, median, rate_figure, settle

RECORDED_AT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC).isoformat(timespec="microseconds")


@dataclass
class LiveSizes:
    latency_subscribers: int = 1000
    appends: int = 40  # single-event appends per latency run, after one untimed warm-up append
    gap: float = 0.05  # seconds between them, once every subscriber has the previous one
    throughput_subscribers: int = 100
    events: int = 10_000  # streamed per throughput run
    batch: int = 100
    window: int = 1_000  # events the driver may run ahead of the slowest subscriber

    @staticmethod
    def smoke() -> LiveSizes:
        return LiveSizes(latency_subscribers=20, appends=5, gap=0.01, throughput_subscribers=20, events=1_000,
                         batch=50, window=500)


def raise_fd_limit(need: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < need:
        target = need if hard == resource.RLIM_INFINITY else min(need, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        if target < need:
            raise RuntimeError(f"need {need} file descriptors, the hard limit is {hard}: raise it (ulimit -Hn)")


# -- the servers (child processes) ----------------------------------------------------------

def _announce(port: int) -> None:
    print(f"PORT {port}", flush=True)


async def tracker_server(db: str) -> None:
    from tracker.server import Settings, run
    from tracker.service import Tracker
    tracker = await Tracker.open(db)
    try:
        await run(tracker, Settings(port=0), ready=_announce)
    finally:
        await tracker.close()


async def bare_server() -> None:
    """The anchor: no store, no validation; a driver's text is split into lines, each
    broadcast to every subscriber as it is."""
    from websockets.asyncio.server import broadcast, serve

    from tracker.core.protocol import MAX_MESSAGE_BYTES
    from tracker.server import Settings
    defaults = Settings()
    subscribers: set = set()

    async def handler(ws) -> None:
        try:
            async for message in ws:
                if message.startswith('{"op":"subscribe"'):
                    subscribers.add(ws)
                    await ws.send('{"type":"caught_up"}')
                    continue
                for line in message.split("\n"):
                    broadcast(subscribers, line)
                await ws.send('{"type":"appended"}')
        finally:
            subscribers.discard(ws)

    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    async with serve(handler, "127.0.0.1", 0, max_size=MAX_MESSAGE_BYTES, ping_interval=defaults.ping_interval,
                     ping_timeout=defaults.ping_timeout, close_timeout=defaults.close_timeout) as server:
        _announce(server.sockets[0].getsockname()[1])
        await stop
        server.close(close_connections=True)
        await server.wait_closed()


# -- the clients (a child process) ----------------------------------------------------------

class Deliveries:
    """What every subscriber received: order checks, who has what, when."""

    def __init__(self, subscribers: int, after: int, total: int, keep_times: bool) -> None:
        self.n = subscribers
        self.after = after
        self.total = total
        self.got = [0] * (total + 2)  # subscribers holding position after + k
        self.times: list[list[float]] | None = [[] for _ in range(total + 2)] if keep_times else None
        self.everyone = 0  # every subscriber holds positions after+1 .. after+everyone
        self.last_at = 0.0  # when the last subscriber got the last event
        self.moved = asyncio.Event()
        self.disorder = 0  # duplicates, gaps, reordering: must stay 0

    def record(self, k: int, t: float) -> None:
        got = self.got
        got[k] += 1
        if self.times is not None:
            self.times[k].append(t)
        if got[k] == self.n and k == self.everyone + 1:
            e = k
            while e < self.total and got[e + 1] == self.n:
                e += 1
            self.everyone = e
            self.last_at = t
            self.moved.set()


async def subscriber(ws, d: Deliveries) -> tuple[int, int]:
    """Receive events until the expected last one: (count, last position)."""
    last = d.after
    count = 0
    end = d.after + d.total
    while last < end:
        message = await ws.recv(decode=False)
        t = time.perf_counter()
        i = message.find(b'"position":')
        if i < 0 or not message.startswith(b'{"type":"event"'):
            continue
        position = int(message[i + 11:message.find(b",", i)])
        count += 1
        if position != last + 1:
            d.disorder += 1
            if position <= last:
                continue
        last = position
        d.record(position - d.after, t)
    return count, last


async def connect_all(url: str, n: int, after: int, compression: str | None) -> list:
    from websockets.asyncio.client import connect
    subscribe = orjson.dumps({"op": "subscribe", "stream": "events", "after": after}).decode()

    async def one() -> Any:
        ws = await connect(url, max_size=None, open_timeout=60, compression=compression)
        await ws.send(subscribe)
        while True:  # replies until caught_up (tracker: subscribed, then caught_up)
            if b'"caught_up"' in await ws.recv(decode=False):
                return ws

    clients = []
    for i in range(0, n, 50):  # a few at a time: the listen backlog is finite
        clients += await asyncio.gather(*(one() for _ in range(min(50, n - i))))
    return clients


async def clients_main(spec: dict[str, Any]) -> dict[str, Any]:
    from websockets.asyncio.client import connect
    n, after, mode = spec["subscribers"], spec["after"], spec["mode"]
    requests: list[str] = spec["requests"]
    counts: list[int] = spec["counts"]
    total = sum(counts)
    url = spec["url"]
    # clients offer permessage-deflate as browsers do, unless the spec says otherwise (to compare)
    compression = spec.get("compression", "deflate")
    subscribers = await connect_all(url, n, after, compression)
    driver = await connect(url, max_size=None, open_timeout=60, compression=compression)
    d = Deliveries(n, after, total, keep_times=mode == "latency")
    receivers = [asyncio.create_task(subscriber(ws, d)) for ws in subscribers]
    acks = 0

    async def read_acks() -> None:
        nonlocal acks
        async for message in driver:
            if '"appended"' in message:
                acks += 1
            elif '"error"' in message:
                raise RuntimeError(f"the server refused an append: {message[:500]}")
    acker = asyncio.create_task(read_acks())
    await asyncio.sleep(0.2)  # let connection setup settle

    sent_at: list[float] = []
    started = time.perf_counter()
    sent = 0
    for request, count in zip(requests, counts, strict=True):
        if mode == "latency":
            while d.everyone < sent:
                d.moved.clear()
                await d.moved.wait()
            await asyncio.sleep(spec["gap"])
        else:
            while sent + count - d.everyone > spec["window"]:
                d.moved.clear()
                await d.moved.wait()
        while len(sent_at) - acks >= IN_FLIGHT and not acker.done():
            await asyncio.sleep(0.001)  # the server answers `busy` past 8 unanswered appends of a connection
        sent_at.append(time.perf_counter())
        await driver.send(request)
        sent += count
    try:
        results = await asyncio.wait_for(asyncio.gather(*receivers), timeout=max(60.0, total / 100))
    except TimeoutError:
        for task in receivers:
            task.cancel()
        results = [(0, 0)] * n
    elapsed = d.last_at - started
    while acks < len(requests) and not acker.done():
        await asyncio.sleep(0.01)
    acker.cancel()
    for ws in [driver, *subscribers]:
        await ws.close()

    complete = sum(1 for count, last in results if count == total and last == after + total)
    out: dict[str, Any] = {"subscribers": n, "events": total, "seconds": elapsed,
                           "complete": complete, "disorder": d.disorder,
                           "received": sum(c for c, _ in results), "expected": n * total}
    if mode == "latency":
        samples, everyone = [], []
        for k, t0 in enumerate(sent_at, start=1):
            if k <= spec.get("warmup", 0):
                continue  # the first append wakes cold paths on either side
            lat = [(t - t0) * 1000 for t in d.times[k]]
            samples += lat
            everyone.append(max(lat) if lat else float("nan"))
        samples.sort()
        out.update(p50=_quantile(samples, 0.50), p99=_quantile(samples, 0.99), max=samples[-1],
                   all_have_it_p50=statistics.median(everyone), all_have_it=[round(x, 1) for x in everyone])
    return out


def _quantile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- the orchestration (this process) -------------------------------------------------------

class Side:
    """A server child process: started on a port, stopped with SIGTERM."""

    def __init__(self, role: str, *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "benchmarks.live", role, *args],
                                     stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parent.parent)
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            self.proc.kill()
            raise RuntimeError(f"benchmarks.live {role} did not start: {line!r}")
        self.url = f"ws://127.0.0.1:{int(line.split()[1])}/ws"

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def run_clients(spec: dict[str, Any], tmp: Path) -> dict[str, Any]:
    path = tmp / "spec.json"
    path.write_bytes(orjson.dumps(spec))
    done = subprocess.run([sys.executable, "-m", "benchmarks.live", "clients", str(path)], capture_output=True,
                          text=True, cwd=Path(__file__).parent.parent, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"the clients failed:\n{done.stderr[-3000:]}")
    return orjson.loads(done.stdout.strip().splitlines()[-1])


class Fixture:
    """A log holding the world's registrations (copied fresh for every tracker run), the
    facts to append, and the messages tracker will send for them."""

    def __init__(self, ctx: Context, facts: int) -> None:
        from . import workload
        self.tmp = Path(tempfile.mkdtemp(prefix="live-", dir=ctx.tmp))
        events = list(workload.raw_events(10_000 + facts))  # the small world, and the facts after it
        registrations = [e for e in events if e["type"] in ("ActorRegistered", "PlaceRegistered")]
        self.facts = [e for e in events if e["type"] not in ("ActorRegistered", "PlaceRegistered")][:facts]
        self.head = len(registrations)
        self.db = str(self.tmp / "base.db")
        import asyncio as aio

        from tracker.service import Tracker

        async def build() -> None:
            async with await Tracker.open(self.db) as tracker:
                await tracker.append(workload.items(registrations))
        aio.run(build())

    def fresh(self, n: int) -> str:
        path = str(self.tmp / f"run-{n}.db")
        for suffix in ("", "-wal", "-shm"):
            if Path(self.db + suffix).exists():
                shutil.copy(self.db + suffix, path + suffix)
        return path

    def messages(self, facts: list[dict[str, Any]]) -> list[str]:
        """What tracker sends a subscriber for these facts appended at the head."""
        from tracker.core import protocol
        return [protocol.event_message("s1", protocol.event_body(self.head + i, RECORDED_AT, e))
                for i, e in enumerate(facts, start=1)]


IN_FLIGHT = 8  # tracker.server.connection.MAX_IN_FLIGHT: appends a driver may have unanswered


def requests_for(side: str, fixture: Fixture, facts: list[dict[str, Any]], batch: int) -> tuple[list[str], list[int]]:
    groups = [facts[i:i + batch] for i in range(0, len(facts), batch)]
    if side == "tracker":
        return [orjson.dumps({"op": "append", "events": g}).decode() for g in groups], [len(g) for g in groups]
    messages = fixture.messages(facts)
    lines = [messages[i:i + batch] for i in range(0, len(messages), batch)]
    return ["\n".join(g) for g in lines], [len(g) for g in lines]


def one_side(side: str, fixture: Fixture, run: int, spec: dict[str, Any], facts: list[dict[str, Any]],
             batch: int) -> dict[str, Any]:
    settle()
    server = Side("server", fixture.fresh(run)) if side == "tracker" else Side("bare")
    try:
        requests, counts = requests_for(side, fixture, facts, batch)
        return run_clients({**spec, "url": server.url, "after": fixture.head, "requests": requests,
                            "counts": counts}, fixture.tmp)
    finally:
        server.stop()


def _sizes(ctx: Context) -> LiveSizes:
    return LiveSizes.smoke() if ctx.smoke else LiveSizes()


def _check(result: dict[str, Any], what: str) -> None:
    if result["complete"] != result["subscribers"] or result["disorder"]:
        raise AssertionError(f"{what}: {result['subscribers'] - result['complete']} subscribers missed events, "
                             f"{result['disorder']} out of order or doubled ({result['received']:,} of "
                             f"{result['expected']:,} received)")


@benchmark("live-latency")
def latency_figures(ctx: Context) -> list[Figure]:
    s = _sizes(ctx)
    raise_fd_limit(s.latency_subscribers * 2 + 256)
    fixture = Fixture(ctx, 1 + s.appends)
    spec = {"mode": "latency", "subscribers": s.latency_subscribers, "gap": s.gap, "warmup": 1}
    ours, theirs = [], []
    for run in range(ctx.sizes.runs):
        sides = ["tracker", "bare"] if run % 2 == 0 else ["bare", "tracker"]
        for side in sides:
            result = one_side(side, fixture, run, spec, fixture.facts, 1)
            _check(result, f"latency, {side}")
            (ours if side == "tracker" else theirs).append(result)
    p99, anchor = median([r["p99"] for r in ours]), median([r["p99"] for r in theirs])
    ratio = median([a["p99"] / b["p99"] for a, b in zip(ours, theirs, strict=True)])
    extra = {side: {k: round(median([r[k] for r in rs]), 2) for k in ("p50", "p99", "max", "all_have_it_p50")}
             for side, rs in (("tracker", ours), ("bare", theirs))}
    return [Figure(f"append-to-delivered latency p99 ({s.latency_subscribers:,} websocket subscribers)",
                   round(p99, 2), "ms", f"{s.appends} single-event appends x {s.latency_subscribers:,} subscribers",
                   "bare websockets broadcast of the same messages to the same clients", round(anchor, 2),
                   round(ratio, 3), "<= 1.25 x anchor", ratio <= 1.25, runs=len(ours),
                   notes=f"p50 {extra['tracker']['p50']} ms (bare {extra['bare']['p50']} ms); "
                         "tracker's side includes validation and a durable commit per append",
                   extra=extra)]


@benchmark("live-throughput")
def throughput_figures(ctx: Context) -> list[Figure]:
    s = _sizes(ctx)
    raise_fd_limit(s.throughput_subscribers * 2 + 256)
    fixture = Fixture(ctx, s.events)
    spec = {"mode": "throughput", "subscribers": s.throughput_subscribers, "window": s.window}
    ours, theirs, results = [], [], {"tracker": [], "bare": []}
    for run in range(ctx.sizes.runs):
        sides = ["tracker", "bare"] if run % 2 == 0 else ["bare", "tracker"]
        for side in sides:
            result = one_side(side, fixture, run, spec, fixture.facts, s.batch)
            if side == "tracker":
                _check(result, "throughput, tracker")
            results[side].append(result)
            (ours if side == "tracker" else theirs).append(result["events"] / result["seconds"])
    dropped = sum(r["expected"] - r["received"] for r in results["tracker"])
    figure = rate_figure(f"sustained live throughput ({s.throughput_subscribers} subscribers)", "events/s",
                         f"{s.events:,} events in batches of {s.batch}, <= {s.window:,} ahead of the slowest",
                         ours, "bare websockets broadcast of the same messages to the same clients", theirs,
                         None, 0.6,
                         notes=f"events delivered to all {s.throughput_subscribers} subscribers per second; "
                               f"none dropped: every subscriber got every position once, in order "
                               f"({dropped} dropped, {sum(r['disorder'] for r in results['tracker'])} out of order)")
    figure.extra = {"dropped": dropped, "bare_dropped": sum(r["expected"] - r["received"] for r in results["bare"]),
                    "bare_disorder": sum(r["disorder"] for r in results["bare"])}
    figure.met = figure.met and dropped == 0
    figure.target += ", none dropped"
    return [figure]


# -- entry point for the child processes ----------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.live")
    parser.add_argument("role", choices=["server", "bare", "clients"])
    parser.add_argument("arg", nargs="?", help="server: the log's path; clients: the spec (JSON)")
    args = parser.parse_args(argv)
    from tracker.logs import configure
    configure()
    raise_fd_limit(4096)
    if args.role == "server":
        asyncio.run(tracker_server(args.arg))
    elif args.role == "bare":
        asyncio.run(bare_server())
    else:
        spec = orjson.loads(Path(args.arg).read_bytes())
        raise_fd_limit(spec["subscribers"] * 2 + 256)
        print(orjson.dumps(asyncio.run(clients_main(spec))).decode(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
