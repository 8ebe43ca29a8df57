"""The crash campaign at CI size: writers and the server killed with SIGKILL mid-append.

After every kill, and at the end: each acknowledged event is stored exactly once, positions
are 1..N without a gap, no batch is stored in part, and SQLite's integrity check is clean.
A writer acknowledges a batch only after `Tracker.append` returned (the CLI's path), and
prints its ids on stdout at once; a websocket client counts an `appended` reply as the ack.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from .conftest import seconds, start_serve, stop_process

# CI size; a longer campaign: TRACKER_CRASH_KILLS=40 pytest tests/test_crash.py
KILLS = int(os.environ.get("TRACKER_CRASH_KILLS", "8"))

WRITER = textwrap.dedent('''
    import asyncio, json, sys, uuid
    from tracker.core.batch import Item
    from tracker.service import Tracker

    SOURCE = [{"publisher": "Crash Wire"}]

    async def main(path, tag):
        async with await Tracker.open(path) as tracker:
            print("ready", flush=True)
            n = 0
            while True:
                n += 1
                ids = [str(uuid.uuid5(uuid.NAMESPACE_URL, f"{tag}/{n}/{i}")) for i in range(5)]
                batch = [Item(f"{tag}:{n}:{i}", {"type": "CityCaptured", "id": ident, "occurred_on": "2014-06-10",
                                                 "place": "mosul", "captured_by": "isis", "sources": SOURCE})
                         for i, ident in enumerate(ids)]
                await tracker.append(batch)
                print(json.dumps({"batch": f"{tag}/{n}", "ids": ids}), flush=True)

    asyncio.run(main(sys.argv[1], sys.argv[2]))
''')


def _check_log(path: Path, acknowledged: dict[str, list[str]]) -> int:
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        positions = [p for (p,) in conn.execute("SELECT position FROM events ORDER BY position")]
        assert positions == list(range(1, len(positions) + 1)), "positions have a gap"
        ids = [i for (i,) in conn.execute("SELECT id FROM events")]
    finally:
        conn.close()
    assert len(ids) == len(set(ids)), "an id is stored twice"
    stored = set(ids)
    for batch, members in acknowledged.items():
        assert set(members) <= stored, f"acknowledged batch {batch} lost"
    return len(ids)


def _head(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    finally:
        conn.close()


def _writer(path: Path, tag: str) -> subprocess.Popen[str]:
    """A writer process, returned once it has opened the store (it says "ready")."""
    process = subprocess.Popen([sys.executable, "-c", WRITER, str(path), tag], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready", "the writer did not start"
    return process


def _collect(process: subprocess.Popen[str], acknowledged: dict[str, list[str]]) -> None:
    assert process.stdout is not None
    for line in process.stdout.read().splitlines():
        if line.strip():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by the kill: that batch was never acknowledged
            acknowledged[record["batch"]] = record["ids"]


def test_writers_killed_mid_append_lose_nothing_acknowledged(db):
    rng = random.Random(7)
    before = _head(db)
    acknowledged: dict[str, list[str]] = {}
    writers = {f"w{i}": _writer(db, f"w{i}-0") for i in range(3)}
    kills = 0
    deadline = time.monotonic() + seconds(10 * KILLS)
    while kills < KILLS and time.monotonic() < deadline:
        time.sleep(rng.uniform(0.2, 0.6))
        name = rng.choice(sorted(writers))
        victim = writers[name]
        victim.send_signal(signal.SIGKILL)
        victim.wait(seconds(10))
        _collect(victim, acknowledged)
        kills += 1
        writers[name] = _writer(db, f"{name}-{kills}")
    for process in writers.values():
        process.send_signal(signal.SIGKILL)
        process.wait(seconds(10))
        _collect(process, acknowledged)
    assert kills == KILLS and len(acknowledged) >= KILLS, (kills, len(acknowledged))
    stored = _check_log(db, acknowledged)
    assert stored >= before + 5 * len(acknowledged)
    assert (stored - before) % 5 == 0, "a batch of 5 was stored in part"


async def _append_until_killed(port: int, tag: str, acknowledged: dict[str, list[str]]) -> None:
    try:
        async with connect(f"ws://127.0.0.1:{port}/ws", open_timeout=seconds(5)) as ws:
            n = 0
            while True:
                n += 1
                ids = [str(uuid.uuid5(uuid.NAMESPACE_URL, f"{tag}/{n}/{i}")) for i in range(5)]
                events = [{"type": "CityCaptured", "id": i, "occurred_on": "2014-06-11", "place": "tikrit",
                           "captured_by": "isis", "sources": [{"publisher": "Crash Wire"}]} for i in ids]
                await ws.send(json.dumps({"op": "append", "events": events, "ref": n}))
                reply = json.loads(await asyncio.wait_for(ws.recv(), seconds(10)))
                assert reply["type"] == "appended", reply
                acknowledged[f"{tag}/{n}"] = ids
    except (TimeoutError, ConnectionClosed, OSError):
        return  # the server died under us: what was acknowledged is what counts


async def test_the_server_killed_mid_append_loses_nothing_acknowledged(db):
    kills = max(2, KILLS // 3)
    acknowledged: dict[str, list[str]] = {}
    rng = random.Random(11)
    for round_ in range(kills):
        process, port = await asyncio.to_thread(start_serve, db)
        try:
            writers = [asyncio.create_task(_append_until_killed(port, f"s{round_}-{c}", acknowledged))
                       for c in range(3)]
            # the writers under way (an append acknowledged this round, however loaded the machine), then the kill
            before, deadline = len(acknowledged), time.monotonic() + seconds(10)
            while len(acknowledged) == before and time.monotonic() < deadline and not all(w.done() for w in writers):
                await asyncio.sleep(0.02)
            await asyncio.sleep(rng.uniform(0.5, 1.2))
            process.send_signal(signal.SIGKILL)
            await asyncio.to_thread(process.wait, seconds(10))
            await asyncio.wait_for(asyncio.gather(*writers), seconds(15))
        finally:
            stop_process(process)
        _check_log(db, acknowledged)
    assert len(acknowledged) >= kills, "the writers never got an append acknowledged"
    # a restarted server serves the log as it was left, and takes appends again
    process, port = await asyncio.to_thread(start_serve, db)
    try:
        async with connect(f"ws://127.0.0.1:{port}/ws") as ws:
            await ws.send(json.dumps({"op": "append", "events": [
                {"type": "CityCaptured", "occurred_on": "2014-06-12", "place": "tikrit", "captured_by": "isis",
                 "sources": [{"publisher": "Crash Wire"}]}]}))
            assert json.loads(await asyncio.wait_for(ws.recv(), seconds(10)))["type"] == "appended"
    finally:
        stop_process(process)
    _check_log(db, acknowledged)
