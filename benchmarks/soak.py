"""The soak figure: one writer, hundreds of subscribers, a minute, a real `tracker serve`.

Processes, all on 127.0.0.1, all bounded in time and cleaned up on every exit path:
- the server: `python -m tracker serve --port 0` on a fresh SQLite store (its stderr, with its
  connection and append logs, goes to a file; the listening line there gives the port);
- `procs` subscriber processes, each holding its share of the subscribers, every one
  subscribed to the events stream from position 0 (the store is empty, so every event appended
  during the run is delivered live); each says READY once all of its subscribers are caught up;
- one writer process, started once every subscriber is ready: it appends one event at a time
  (an `append` op with one event, waiting for `appended`) on a fixed schedule of `rate` events
  per second for `seconds` (the workload's small world registered first, then its facts);
- this process, which orchestrates, samples the server's RSS (/proc/PID/status VmRSS) every few
  seconds and reads its peak (VmHWM) at the end, then tells the subscribers the last position
  and collects what they got.

Reported: events appended; events delivered per subscriber (min, median), with the figure met
only if every subscriber got every event exactly once, in order, and none was closed; the
append-to-delivered latency p50/p99 (the event's `recorded_at`, stamped by the server as it
commits, to receipt, both wall clocks of this machine); the server's peak RSS and its growth
over the run; connections closed as too slow (1013 seen by subscribers; the server's log lines
are counted too).

Run a child alone: python -m benchmarks.soak subscribers|writer SPEC.json (see main()).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from .core import Context, Figure, benchmark

ROOT = Path(__file__).parent.parent


@dataclass
class SoakSizes:
    seconds: float = 60.0
    subscribers: int = 300
    procs: int = 3  # subscriber processes
    rate: float = 50.0  # events appended per second
    sample_every: float = 5.0  # seconds between RSS samples
    drain: float = 20.0  # seconds the subscribers may take to get the last event once the writer is done
    compression: str | None = "deflate"  # subscribers offer permessage-deflate, as browsers do (None: to compare)

    @staticmethod
    def smoke() -> SoakSizes:
        return SoakSizes(seconds=5.0, subscribers=20, procs=2, rate=50.0, sample_every=1.0, drain=5.0)


# -- the subscribers (a child process) ------------------------------------------------------

class Sub:
    __slots__ = ("close_code", "count", "disorder", "last", "latencies")

    def __init__(self) -> None:
        self.count = 0
        self.last = 0
        self.disorder = 0
        self.latencies: list[float] = []
        self.close_code: int | None = None


_RECORDED_AT: dict[bytes, float] = {}


def _stamp(text: bytes) -> float:
    """recorded_at (ISO 8601 with an offset) as a POSIX timestamp; cached, each is seen by every subscriber."""
    t = _RECORDED_AT.get(text)
    if t is None:
        t = _RECORDED_AT[text] = datetime.fromisoformat(text.decode()).timestamp()
    return t


async def receive(ws: Any, sub: Sub) -> None:
    from websockets.exceptions import ConnectionClosed
    try:
        while True:
            message = await ws.recv(decode=False)
            now = time.time()
            if not message.startswith(b'{"type":"event"'):
                continue
            i = message.find(b'"position":')
            position = int(message[i + 11:message.find(b",", i)])
            j = message.find(b'"recorded_at":"')
            recorded = _stamp(message[j + 15:message.find(b'"', j + 15)])
            sub.count += 1
            if position != sub.last + 1:
                sub.disorder += 1
                if position <= sub.last:
                    continue
            sub.last = position
            sub.latencies.append((now - recorded) * 1000)
    except ConnectionClosed:
        pass
    finally:
        if ws.close_code is not None:
            sub.close_code = ws.close_code


async def subscribers_main(spec: dict[str, Any]) -> dict[str, Any]:
    from websockets.asyncio.client import connect
    n = spec["subscribers"]
    subscribe = orjson.dumps({"op": "subscribe", "stream": "events", "after": 0}).decode()

    async def one() -> Any:
        ws = await connect(spec["url"], max_size=None, open_timeout=30, compression=spec["compression"])
        await ws.send(subscribe)
        while b'"caught_up"' not in await ws.recv(decode=False):
            pass
        return ws

    clients: list[Any] = []
    for i in range(0, n, 50):  # a few at a time: the listen backlog is finite
        clients += await asyncio.wait_for(asyncio.gather(*(one() for _ in range(min(50, n - i)))), 60)
    subs = [Sub() for _ in clients]
    tasks = [asyncio.create_task(receive(ws, sub)) for ws, sub in zip(clients, subs, strict=True)]
    print("READY", flush=True)

    # the orchestrator writes the last position appended once the writer is done (or closes stdin)
    line = await asyncio.to_thread(sys.stdin.readline)
    last = int(line) if line.strip() else 0
    deadline = time.monotonic() + spec["drain"]
    while time.monotonic() < deadline and any(s.last < last and not t.done() for s, t in zip(subs, tasks,
                                                                                              strict=True)):
        await asyncio.sleep(0.05)
    for ws in clients:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ws.close(), 2)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    latencies = [round(x, 3) for s in subs for x in s.latencies]
    return {"counts": [s.count for s in subs], "lasts": [s.last for s in subs],
            "disorder": sum(s.disorder for s in subs),
            "too_slow": sum(1 for s in subs if s.close_code == 1013),
            "closed_early": sum(1 for s in subs if s.close_code is not None and s.last < last),
            "latencies": latencies}


# -- the writer (a child process) ------------------------------------------------------------

async def writer_main(spec: dict[str, Any]) -> dict[str, Any]:
    from websockets.asyncio.client import connect

    from .workload import raw_events
    total = int(spec["rate"] * spec["seconds"])
    events = list(raw_events(total))
    acks: list[float] = []
    last = 0
    async with connect(spec["url"], max_size=None, open_timeout=30) as ws:
        started = time.monotonic()
        for k, event in enumerate(events):
            slot = started + k / spec["rate"]
            if slot - started >= spec["seconds"] or time.monotonic() - started >= spec["seconds"]:
                break  # the run lasts `seconds`: a server slower than the rate shows as fewer appends
            if slot > time.monotonic():
                await asyncio.sleep(slot - time.monotonic())
            t = time.perf_counter()
            await ws.send(orjson.dumps({"op": "append", "events": [event]}).decode())
            while True:
                reply = orjson.loads(await asyncio.wait_for(ws.recv(), 30))
                if reply.get("type") == "appended":
                    last = max(last, *reply["positions"])
                    break
                if reply.get("type") == "error":
                    raise RuntimeError(f"the server refused an append: {str(reply)[:500]}")
            acks.append((time.perf_counter() - t) * 1000)
        elapsed = time.monotonic() - started
    acks.sort()
    return {"appended": len(acks), "last": last, "seconds": elapsed,
            "ack_p50": statistics.median(acks) if acks else 0.0,
            "ack_p99": acks[min(len(acks) - 1, int(0.99 * len(acks)))] if acks else 0.0}


# -- the orchestration (this process) -------------------------------------------------------

def _status(pid: int, field: str) -> float:
    """A /proc/PID/status field in MiB (0 if the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


async def _create(path: Path) -> None:
    """A new, empty store: the soak's writer fills it while the server serves it."""
    from tracker.store import open_store

    store = await open_store(str(path))
    await store.close()


def _wait_for(predicate: Any, timeout: float, what: str, procs: list[subprocess.Popen]) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        dead = [p for p in procs if p.poll() is not None]
        if dead:
            raise RuntimeError(f"{what}: a child exited with {dead[0].returncode} first")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {timeout:.0f} s")
        time.sleep(0.05)


def _stop(proc: subprocess.Popen, grace: float = 10.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _child(role: str, spec: dict[str, Any], tmp: Path, name: str, stdin: Any = subprocess.DEVNULL
           ) -> tuple[subprocess.Popen, Path]:
    spec_path = tmp / f"{name}.json"
    spec_path.write_bytes(orjson.dumps(spec))
    out = tmp / f"{name}.out"
    with out.open("wb") as stdout, (tmp / f"{name}.err").open("wb") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "benchmarks.soak", role, str(spec_path)], stdin=stdin,
                                stdout=stdout, stderr=stderr, cwd=ROOT)
    return proc, out


def _result(proc: subprocess.Popen, out: Path, tmp: Path, name: str) -> dict[str, Any]:
    if proc.returncode != 0:
        err = (tmp / f"{name}.err").read_text(errors="replace")[-3000:]
        raise RuntimeError(f"the {name} process failed ({proc.returncode}):\n{err}")
    return orjson.loads(out.read_bytes().strip().splitlines()[-1])


def soak(s: SoakSizes, tmp: Path) -> dict[str, Any]:
    from .live import raise_fd_limit
    raise_fd_limit(s.subscribers * 2 + 256)  # inherited by the server
    tmp.mkdir(parents=True, exist_ok=True)
    log = tmp / "server.log"
    procs: list[subprocess.Popen] = []
    asyncio.run(_create(tmp / "soak.db"))  # `tracker serve` refuses a store that does not exist
    try:
        with log.open("wb") as err:
            server = subprocess.Popen([sys.executable, "-m", "tracker", "serve", "--db", str(tmp / "soak.db"),
                                       "--host", "127.0.0.1", "--port", "0"], stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL, stderr=err, cwd=ROOT,
                                      env={k: v for k, v in os.environ.items() if k != "TRACKER_TOKEN"})
        procs.append(server)
        port: list[int] = []

        def listening() -> bool:
            for line in log.read_text(errors="replace").splitlines():
                if "tracker: serving" in line and "websocket ws://" in line:
                    port.append(int(line.split("websocket ws://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1]))
                    return True
            return False
        _wait_for(listening, 30, "the server listening", procs)
        url = f"ws://127.0.0.1:{port[0]}/ws"

        shares = [s.subscribers // s.procs + (1 if i < s.subscribers % s.procs else 0) for i in range(s.procs)]
        clients = []
        for i, share in enumerate(shares):
            proc, out = _child("subscribers", {"url": url, "subscribers": share, "drain": s.drain,
                                                "compression": s.compression}, tmp, f"subs-{i}",
                               stdin=subprocess.PIPE)
            procs.append(proc)
            clients.append((proc, out, f"subs-{i}"))
        _wait_for(lambda: all(b"READY" in out.read_bytes() for _, out, _ in clients), 60 + s.subscribers / 10,
                  "the subscribers caught up", procs)

        rss = [(0.0, _status(server.pid, "VmRSS"))]
        cpu0 = _cpu_seconds(server.pid)
        clients_cpu0 = sum(_cpu_seconds(proc.pid) for proc, _, _ in clients)
        writer, writer_out = _child("writer", {"url": url, "rate": s.rate, "seconds": s.seconds}, tmp, "writer")
        procs.append(writer)
        started = time.monotonic()
        deadline = started + s.seconds * 2 + 30
        next_sample = started + s.sample_every
        while writer.poll() is None:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the writer did not finish within {deadline - started:.0f} s")
            if any(p.poll() is not None for p in procs[:-1]):
                raise RuntimeError("the server or a subscriber process exited during the run")
            if time.monotonic() >= next_sample:
                rss.append((round(time.monotonic() - started, 1), _status(server.pid, "VmRSS")))
                next_sample += s.sample_every
            time.sleep(0.05)
        wrote = _result(writer, writer_out, tmp, "writer")
        wrote["server_cpu"] = round(_cpu_seconds(server.pid) - cpu0, 1)  # over the writer's run
        wrote["subscribers_cpu"] = round(sum(_cpu_seconds(proc.pid) for proc, _, _ in clients) - clients_cpu0, 1)

        for proc, _, _ in clients:
            assert proc.stdin is not None
            proc.stdin.write(f"{wrote['last']}\n".encode())
            proc.stdin.close()
        for proc, _, _ in clients:
            try:
                proc.wait(s.drain + 30)
            except subprocess.TimeoutExpired:
                raise RuntimeError("a subscriber process did not finish") from None
        rss.append((round(time.monotonic() - started, 1), _status(server.pid, "VmRSS")))
        peak = _status(server.pid, "VmHWM")
        got = [_result(proc, out, tmp, name) for proc, out, name in clients]
    finally:
        for proc in reversed(procs):
            if proc.stdin is not None:
                with contextlib.suppress(OSError):
                    proc.stdin.close()
            _stop(proc)
    server_too_slow = log.read_text(errors="replace").count("subscriber too slow")
    counts = [c for g in got for c in g["counts"]]
    lasts = [x for g in got for x in g["lasts"]]
    latencies = sorted(x for g in got for x in g["latencies"])
    return {"writer": wrote, "counts": counts, "lasts": lasts, "disorder": sum(g["disorder"] for g in got),
            "too_slow": sum(g["too_slow"] for g in got), "server_too_slow": server_too_slow,
            "closed_early": sum(g["closed_early"] for g in got), "latencies": latencies,
            "rss": [(t, round(m, 1)) for t, m in rss], "peak_rss": round(peak, 1)}


def _quantile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


@benchmark("soak")
def soak_figures(ctx: Context) -> list[Figure]:
    s = SoakSizes.smoke() if ctx.smoke else SoakSizes()
    r = soak(s, ctx.tmp / "soak")
    appended, n = r["writer"]["appended"], len(r["counts"])
    every = (n == s.subscribers and all(c == appended for c in r["counts"])
             and all(x == r["writer"]["last"] for x in r["lasts"]) and not r["disorder"]
             and not r["too_slow"] and not r["server_too_slow"] and not r["closed_early"])
    lat = r["latencies"]
    p50, p99 = _quantile(lat, 0.50), _quantile(lat, 0.99)
    rss = r["rss"]
    growth = rss[-1][1] - rss[0][1]
    size = f"{s.seconds:g} s, {s.rate:g} events/s, 1 writer, {s.subscribers} subscribers in {s.procs} processes"
    durability = "WAL synchronous=FULL (tracker serve)"
    delivered = Figure(
        "soak: events delivered per subscriber (min)", min(r["counts"], default=0), "events", size,
        None, None, None, f"= events appended ({appended:,}), each once, in order, none closed", every,
        durability, notes=f"median {statistics.median(r['counts']) if r['counts'] else 0:g}; "
                          f"{r['disorder']} out of order or doubled; {r['too_slow']} closed as too slow "
                          f"({r['server_too_slow']} in the server's log); writer: {appended:,} appends in "
                          f"{r['writer']['seconds']:.1f} s, ack p50 {r['writer']['ack_p50']:.1f} ms",
        extra={"appended": appended, "delivered_min": min(r["counts"], default=0),
               "delivered_median": statistics.median(r["counts"]) if r["counts"] else 0,
               "disorder": r["disorder"], "too_slow": r["too_slow"], "server_too_slow": r["server_too_slow"],
               "closed_early": r["closed_early"], "writer": r["writer"]})
    latency = Figure(
        "soak: append-to-delivered latency p99", round(p99, 2), "ms", size, None, None, None,
        "reported (recorded_at to receipt)", True, durability,
        notes=f"p50 {p50:.2f} ms, max {lat[-1] if lat else float('nan'):.1f} ms over {len(lat):,} deliveries",
        extra={"p50": round(p50, 2), "p99": round(p99, 2), "p999": round(_quantile(lat, 0.999), 2),
               "max": lat[-1] if lat else None, "samples": len(lat)})
    memory = Figure(
        "soak: server peak RSS (VmHWM)", r["peak_rss"], "MiB", size, None, None, None, "reported", True,
        durability, notes=f"RSS {rss[0][1]:.1f} MiB once subscribed, {rss[-1][1]:.1f} MiB at the end "
                          f"({growth:+.1f} MiB over the run)",
        extra={"rss_samples": rss, "rss_growth": round(growth, 1)})
    scheduled = int(s.rate * s.seconds)
    achieved = appended / r["writer"]["seconds"] if r["writer"]["seconds"] else 0.0
    rate = Figure(
        "soak: appends sustained (one at a time, each awaited)", round(achieved, 1), "events/s", size, None, None,
        None, f">= 95% of {s.rate:g} events/s", appended >= 0.95 * scheduled, durability,
        notes=f"{appended:,} of {scheduled:,} scheduled appends; ack p50 {r['writer']['ack_p50']:.1f} ms, "
              f"p99 {r['writer']['ack_p99']:.1f} ms; in the {r['writer']['seconds']:.1f} s the server used "
              f"{r['writer']['server_cpu']:.1f} s of CPU, the subscriber processes "
              f"{r['writer']['subscribers_cpu']:.1f} s ({os.cpu_count()} cores)",
        extra={"scheduled": scheduled, **r["writer"]})
    return [delivered, rate, latency, memory]


# -- entry point for the child processes ----------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak")
    parser.add_argument("role", choices=["subscribers", "writer"])
    parser.add_argument("spec", help="the spec (JSON)")
    args = parser.parse_args(argv)
    from tracker.logs import configure
    configure()
    spec = orjson.loads(Path(args.spec).read_bytes())
    if args.role == "subscribers":
        from .live import raise_fd_limit
        raise_fd_limit(spec["subscribers"] * 2 + 256)
        result = asyncio.run(subscribers_main(spec))
    else:
        result = asyncio.run(writer_main(spec))
    print(orjson.dumps(result).decode(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
