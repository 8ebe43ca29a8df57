"""PostgreSQL killed and restarted under load (the "trust" issue's faults as tests).

In a fresh database, three writer processes append batches of 5 events with fixed ids
through `Tracker.append` and print each acknowledged batch's ids and positions at once (as
tests/test_crash.py's WRITER does); after a `StoreUnavailable` they retry the same batch,
same ids, backing off, for a bounded time. A reader in this process tails the log with
read()/wait(); a `tracker serve` node runs throughout, with a websocket subscriber on it.

Mid-run the PostgreSQL server is killed the way a crash kills it (`pg_ctlcluster ... stop
-m immediate`: no checkpoint, no clean shutdown, crash recovery at the next start) and
started again two seconds later; twice. Then: every acknowledged batch is stored exactly
once, whole, in consecutive positions, at the positions its writer was told; nothing is
stored that was not acknowledged; positions are 1..N without a gap; each writer went on
appending after each restart; the tailing reader and the node's subscriber saw every
position once, in order; the node's /healthz said 503 during an outage and 200 again after.

The server is always started again (and awaited until it takes connections) in a `finally`,
whatever happens. Needs TRACKER_TEST_PG_DSN naming a local cluster that `pg_ctlcluster`
manages, and root; skipped otherwise. Other tests sharing that server see it down for a
couple of seconds twice: in CI the suite runs sequentially.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest

from tests.conftest import (
    PG_DSN,
    PG_ENV,
    PG_EXPLICIT,
    PG_HOW,
    ROOT,
    client,
    http,
    run_tracker,
    seconds,
    serve_lines,
    serve_log,
    start_serve,
    stop_process,
)
from tracker.core.errors import StoreUnavailable
from tracker.seeds import seed_files
from tracker.store import open_store

WRITERS = 3
BATCH = 5
SEEDED = 33  # the first seed report as first shipped
DOWN_S = 2.0  # how long the server stays down each time: short, others may share it
RUN_S = 1.5  # load before the first kill, and between a restart and the next kill
KILLS = 2


def _cluster() -> tuple[str, str] | None:
    """(version, name) of the pg_ctlcluster cluster listening on the DSN's port, if any."""
    if not PG_DSN:
        return None
    parts = urlsplit(PG_DSN)
    if parts.hostname not in (None, "", "localhost", "127.0.0.1", "::1"):
        return None
    port = str(parts.port or 5432)
    done = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True, timeout=30)
    for line in done.stdout.splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[2] == port:
            return fields[0], fields[1]
    return None


def _why_skip() -> str | None:
    if not PG_DSN:
        return PG_HOW
    if not PG_EXPLICIT:  # it stops and starts the server: never a developer's by surprise
        return f"PostgreSQL crash test skipped: it stops and restarts the server; set {PG_ENV} to allow it"
    if shutil.which("pg_ctlcluster") is None or shutil.which("pg_lsclusters") is None:
        return "PostgreSQL crash test skipped: pg_ctlcluster (postgresql-common) is not installed"
    if os.geteuid() != 0:
        return "PostgreSQL crash test skipped: killing and starting the server needs root"
    if _cluster() is None:
        return f"PostgreSQL crash test skipped: no local pg_ctlcluster cluster listens where {PG_DSN} points"
    return None


WHY_SKIP = _why_skip()
pytestmark = pytest.mark.skipif(WHY_SKIP is not None, reason=WHY_SKIP or "")

WRITER = textwrap.dedent('''
    import asyncio, json, os, sys, time, uuid
    from tracker.core.batch import Item
    from tracker.core.errors import StoreUnavailable
    from tracker.service import Tracker

    SOURCE = [{"publisher": "Crash Wire"}]
    GIVE_UP_S = float(sys.argv[4])  # one batch retried for longer than this: the writer fails

    async def main(url, tag, stop):
        async with await Tracker.open(url) as tracker:
            print("ready", flush=True)
            n = 0
            while not os.path.exists(stop):
                n += 1
                ids = [str(uuid.uuid5(uuid.NAMESPACE_URL, f"{tag}/{n}/{i}")) for i in range(5)]
                batch = [Item(f"{tag}:{n}:{i}", {"type": "CityCaptured", "id": ident, "occurred_on": "2014-06-10",
                                                 "place": "baghdad", "captured_by": "isis", "sources": SOURCE})
                         for i, ident in enumerate(ids)]
                started, pause = time.monotonic(), 0.05
                while True:
                    try:
                        result = await tracker.append(batch)
                        break
                    except StoreUnavailable as e:  # the same batch again, same ids, after a pause
                        if time.monotonic() - started > GIVE_UP_S:
                            print(f"gave up on {tag}/{n} after {GIVE_UP_S} s: {e}", file=sys.stderr, flush=True)
                            sys.exit(3)
                        print(json.dumps({"retry": f"{tag}/{n}", "error": str(e)}), flush=True)
                        await asyncio.sleep(pause)
                        pause = min(pause * 2, 0.5)
                print(json.dumps({"batch": f"{tag}/{n}", "ids": ids, "positions": result.positions,
                                  "at": time.time()}), flush=True)

    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
''')


# ---------------------------------------------------------------- the server, killed and started


def _pg_ctl(action: str, *args: str) -> subprocess.CompletedProcess[str]:
    cluster = _cluster()
    assert cluster is not None
    return subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", *cluster, action, *args],
                          capture_output=True, text=True, timeout=seconds(60))


def _kill_server() -> None:
    done = _pg_ctl("stop", "-m", "immediate")
    assert done.returncode == 0, f"pg_ctlcluster stop -m immediate: {done.stdout}{done.stderr}"


async def _accepts_connections(within: float) -> None:
    assert PG_DSN is not None
    deadline = time.monotonic() + within
    while True:
        try:
            conn = await asyncpg.connect(PG_DSN, timeout=2)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)
            continue
        await conn.close()
        return


async def _start_server(known_down: bool = False) -> float:
    """Start the cluster if it is down; return once it takes connections, with the time it
    first did (pg_ctlcluster itself may return a while later)."""
    if not known_down and (await asyncio.to_thread(_pg_ctl, "status")).returncode == 0:
        await _accepts_connections(seconds(30))
        return time.time()
    starting = asyncio.ensure_future(asyncio.to_thread(_pg_ctl, "start"))
    try:
        await _accepts_connections(seconds(30))
        up = time.time()
    finally:
        done = await starting
    # "already running" (someone else started it meanwhile) is fine: connections decide
    assert done.returncode == 0 or "already running" in done.stderr + done.stdout, done.stderr
    return up


# ---------------------------------------------------------------- the load


class Writer:
    def __init__(self, url: str, tag: str, stop: Path) -> None:
        self.tag = tag
        self.process = subprocess.Popen([sys.executable, "-c", WRITER, url, tag, str(stop), str(seconds(30))],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "ready", "the writer did not start"
        self.acked: list[dict[str, Any]] = []
        self.retries = 0
        self.errors: list[str] = []
        # Each pipe read by a thread of its own as lines come (an ack counts once printed; a
        # full stderr pipe would stall the writer), and by nothing else.
        self.threads = [threading.Thread(target=self._read, daemon=True),
                        threading.Thread(target=lambda: self.errors.extend(self.process.stderr or ()), daemon=True)]
        for thread in self.threads:
            thread.start()

    @property
    def stderr(self) -> str:
        return "".join(self.errors)

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if "retry" in record:
                self.retries += 1
            else:
                self.acked.append(record)

    def finish(self, timeout: float) -> int:
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for thread in self.threads:
            thread.join(seconds(5))
        return self.process.returncode

    def acked_since(self, moment: float, before: float = float("inf")) -> int:
        return sum(1 for r in list(self.acked) if moment < r["at"] < before)


async def _tail(url: str, stop: asyncio.Event, seen: list[int], errors: list[str]) -> None:
    """A reader: read(after) and wait(), through the outages (StoreUnavailable: try again)."""
    store = None
    while store is None:
        try:
            store = await open_store(url)
        except StoreUnavailable as e:
            errors.append(str(e))
            await asyncio.sleep(0.2)
    try:
        after = 0
        while True:
            try:
                rows = await store.read(after, 1000)
                if rows:
                    seen.extend(r.position for r in rows)
                    after = rows[-1].position
                    continue
                if stop.is_set():
                    return
                await store.wait(after, timeout=0.3)
            except StoreUnavailable as e:
                errors.append(str(e))
                await asyncio.sleep(0.2)
    finally:
        await store.close()


async def _subscribe(port: int, events: list[int], others: list[dict[str, Any]], done: asyncio.Event) -> None:
    """A websocket subscriber on the node, connected throughout: the event positions it is sent."""
    async with client(port) as sub:
        await sub.send(op="subscribe", stream="events", after=SEEDED)
        while not done.is_set():
            try:
                message = await sub.recv(0.5)
            except TimeoutError:
                continue
            if message["type"] == "event":
                events.append(message["position"])
            else:
                others.append(message)


async def _health(port: int) -> tuple[int, Any]:
    return await asyncio.to_thread(http, port, "/healthz")


async def _poll_health(port: int, statuses: list[tuple[float, int]], done: asyncio.Event) -> None:
    """/healthz every 0.2 s, throughout: (wall-clock time, status)."""
    while not done.is_set():
        statuses.append((time.time(), (await _health(port))[0]))
        await asyncio.sleep(0.2)


# ---------------------------------------------------------------- the test


def test_postgres_killed_and_restarted_under_load_loses_nothing_acknowledged(pg_dsn, tmp_path):
    url = pg_dsn
    run_tracker("append", str(seed_files()[0]), "--db", url)  # the places and actors the batches name
    stop = tmp_path / "stop"
    node, port = start_serve(url)
    node_log = serve_lines(node)  # what the node logs during the outages (read by start_serve's thread)
    writers: list[Writer] = []
    restarted: list[float] = []  # wall-clock times the server took connections again
    killed: list[float] = []
    health: list[tuple[float, int]] = []
    seen: list[int] = []
    read_errors: list[str] = []
    sub_events: list[int] = []
    sub_others: list[dict[str, Any]] = []
    final_health: list[tuple[int, Any]] = []

    async def scenario() -> None:
        reader_stop, sub_done = asyncio.Event(), asyncio.Event()
        reader = asyncio.create_task(_tail(url, reader_stop, seen, read_errors))
        subscriber = asyncio.create_task(_subscribe(port, sub_events, sub_others, sub_done))
        poller = asyncio.create_task(_poll_health(port, health, sub_done))
        try:
            assert (await _health(port))[0] == 200
            writers.extend(await asyncio.to_thread(lambda: [Writer(url, f"w{i}", stop) for i in range(WRITERS)]))
            for _ in range(KILLS):
                await asyncio.sleep(RUN_S)
                killed.append(time.time())
                await asyncio.to_thread(_kill_server)
                await asyncio.sleep(DOWN_S)
                restarted.append(await _start_server(known_down=True))
                deadline = time.monotonic() + seconds(15)
                while (status := await _health(port))[0] != 200:
                    assert time.monotonic() < deadline, f"the node did not recover: /healthz {status}"
                    await asyncio.sleep(0.2)
            await asyncio.sleep(RUN_S)  # the writers go on after the last restart
            stop.touch()
            codes = [await asyncio.to_thread(w.finish, seconds(40)) for w in writers]
            for w, code in zip(writers, codes, strict=True):
                assert code == 0, f"writer {w.tag} exited {code}: {w.stderr}"
            reader_stop.set()
            await asyncio.wait_for(reader, seconds(20))
            head = SEEDED + sum(len(r["ids"]) for w in writers for r in w.acked)
            deadline = time.monotonic() + seconds(15)  # the subscriber gets the tail of the log
            while (not sub_events or sub_events[-1] < head) and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            sub_done.set()
            await asyncio.wait_for(subscriber, seconds(10))
            await asyncio.wait_for(poller, seconds(10))
            final_health.append(await _health(port))
        finally:
            await _start_server()  # first: a writer waits for it (and retries until it is back)
            stop.touch()
            for w in writers:
                if w.process.poll() is None:
                    await asyncio.to_thread(w.finish, seconds(40))
            reader_stop.set()
            sub_done.set()
            await asyncio.wait([reader, subscriber, poller], timeout=seconds(15))
            for task in (reader, subscriber, poller):
                task.cancel()

    try:
        asyncio.run(scenario())
    finally:
        try:
            asyncio.run(_start_server())  # whatever happened: later tests need the server
        finally:
            stop.touch()
            for w in writers:
                if w.process.poll() is None:
                    w.process.kill()
            stop_process(node)
            serve_log(node)  # its log read to the end

    async def stored_log() -> list[Any]:
        async with await open_store(url) as store:
            return await store.read()

    stored = asyncio.run(stored_log())
    acked = [r for w in writers for r in w.acked]
    health_during = [status for moment, status in health
                     if any(k < moment < r for k, r in zip(killed, restarted, strict=False))]
    outages = [round(r - k, 1) for k, r in zip(killed, restarted, strict=False)]
    summary = (f"{len(acked)} batches acknowledged, {sum(w.retries for w in writers)} retries, "
               f"{len(stored)} events stored, outages of {outages} s, "
               f"/healthz during the outages: {sorted(set(health_during))}")
    print(summary)
    try:
        _check(stored, writers, killed, restarted, seen, sub_events, sub_others, health_during, final_health)
    except AssertionError:
        print("the node's log, last lines:\n" + "".join(node_log[-30:]))
        for w in writers:
            print(f"writer {w.tag} stderr:\n{w.stderr[-3000:]}")
        raise


def _check(stored: list[Any], writers: list[Writer], killed: list[float], restarted: list[float],
           seen: list[int], sub_events: list[int], sub_others: list[dict[str, Any]], health_during: list[int],
           final_health: list[tuple[int, Any]]) -> None:
    positions = [r.position for r in stored]
    ids = [r.id for r in stored]
    at = {r.id: r.position for r in stored}
    acked = [r for w in writers for r in w.acked]
    batches = {r["batch"] for r in acked}
    summary = f"kills at {killed}, restarts at {restarted}"

    assert len(restarted) == KILLS, summary
    assert positions == list(range(1, len(stored) + 1)), "positions 1..N without a gap"
    assert len(set(ids)) == len(ids), "an id is stored twice"
    assert len(batches) == len(acked), "a batch was acknowledged twice"
    for record in acked:
        where = [at.get(i) for i in record["ids"]]
        assert None not in where, f"acknowledged batch {record['batch']} lost (in part or whole): {where}"
        assert where == record["positions"], f"batch {record['batch']} stored at {where}, acknowledged at " \
                                             f"{record['positions']}"
        assert where == list(range(where[0], where[0] + BATCH)), f"batch {record['batch']} not whole: {where}"
    assert len(stored) == SEEDED + BATCH * len(acked), "something stored that no writer was told of"
    # the outages hit the writers, and every writer went on after every restart
    assert sum(w.retries for w in writers) > 0, "no writer saw the server down: " + summary
    bounds = [*killed[1:], float("inf")]
    for w in writers:
        for since, until in zip(restarted, bounds, strict=True):
            assert w.acked_since(since, until) > 0, f"writer {w.tag} appended nothing after the restart at {since}"
    # the reader and the node's subscriber: every position once, in order
    assert seen == positions, f"the tailing reader saw {len(seen)} positions, not 1..{len(positions)} in order"
    assert sub_events == positions[SEEDED:], \
        f"the node's subscriber got {len(sub_events)} events, not {SEEDED + 1}..{len(positions)} once in order; " \
        f"other messages: {sub_others[-5:]}"
    # the node said it was unavailable while the server was down, and recovered
    assert 503 in health_during, f"/healthz during the outages: {health_during}"
    assert final_health[0] == (200, {"status": "ok", "position": len(stored)}), final_health
