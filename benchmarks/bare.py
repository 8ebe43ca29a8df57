"""The limit: the same work done with the bare parts, no tracker code on the path.

- appends: stdlib `sqlite3` `executemany` of the same canonical JSON into the same schema
  and indexes (tracker's own SCHEMA), 1,000 rows per transaction, WAL, synchronous=FULL;
- replay: read the same rows back, decode each with orjson (GC paused) and fold them into
  three plain dicts (who holds each place, what each actor seized, who is deployed where).
These are the anchors the tracker figures are held against, measured in the same run.
"""

from __future__ import annotations

import gc
import sqlite3
import time
from datetime import UTC, datetime, timedelta

import orjson

from tracker.store.sqlite import SCHEMA, SCHEMA_VERSION, _statements

from .workload import Row

EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


def connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    return conn


def create(path: str) -> sqlite3.Connection:
    """An empty log with tracker's schema, indexes and triggers (so tracker can open it too)."""
    conn = connect(path)
    for statement in _statements(SCHEMA):
        conn.execute(statement)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    return conn


def executemany(path: str, batches: list[list[tuple]]) -> float:
    """Seconds to store the prepared rows, one transaction per batch. Returns only the timed part."""
    conn = create(path)
    try:
        started = time.perf_counter()
        for rows in batches:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany("INSERT INTO events (position, id, recorded_at, type, data) VALUES (?, ?, ?, ?, ?)", rows)
            conn.execute("COMMIT")
        return time.perf_counter() - started
    finally:
        conn.close()


def insert_rows(rows: list[Row], batch: int, start: int = 1) -> list[list[tuple]]:
    """The rows as the bare side binds them: (position, id, recorded_at, type, JSON text)."""
    out = []
    for i in range(0, len(rows), batch):
        stamp = (EPOCH + timedelta(milliseconds=i)).isoformat(timespec="microseconds")
        out.append([(start + i + n, ident, stamp, kind, data.decode())
                    for n, (ident, kind, data) in enumerate(rows[i:i + batch])])
    return out


def build_log(path: str, rows: list[Row]) -> None:
    """A fixture log for the read-side benchmarks, written the bare way (it is the same bytes
    tracker would store: the workload's JSON is canonical)."""
    conn = create(path)
    try:
        for chunk in insert_rows(rows, 10_000):
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany("INSERT INTO events (position, id, recorded_at, type, data) VALUES (?, ?, ?, ?, ?)", chunk)
            conn.execute("COMMIT")
    finally:
        conn.close()


def read_decode_fold(path: str, page: int = 50_000) -> tuple[float, int, int]:
    """Read every row, decode it, fold it into three dicts. (seconds, events, entries)."""
    conn = connect(path)
    territory: dict = {}
    arsenal: dict = {}
    deployed: dict = {}
    was = gc.isenabled()
    gc.disable()
    try:
        started = time.perf_counter()
        count = 0
        after = 0
        while True:
            rows = conn.execute("SELECT position, recorded_at, data FROM events WHERE position > ? "
                                "ORDER BY position LIMIT ?", (after, page)).fetchall()
            if not rows:
                break
            after = rows[-1][0]
            count += len(rows)
            for _, _, data in rows:
                e = orjson.loads(data)
                kind = e["type"]
                if kind == "CityCaptured":
                    territory[e["place"]] = e["captured_by"]
                elif kind == "AssaultLaunched":
                    territory.setdefault(("contested", e["place"]), set()).add(e["attacker"])
                elif kind == "AssetSeized":
                    key = (e["actor"], e["asset"])
                    arsenal[key] = arsenal.get(key, 0) + (e.get("quantity") or 0)
                elif kind == "ForcesDeployed":
                    key = (e["actor"], e["place"])
                    deployed[key] = deployed.get(key, 0) + (e.get("personnel") or 0)
                elif kind == "ForcesWithdrawn":
                    key = (e["actor"], e["place"])
                    deployed[key] = deployed.get(key, 0) - (e.get("personnel") or 0)
        seconds = time.perf_counter() - started
    finally:
        if was:
            gc.enable()
        conn.close()
    return seconds, count, len(territory) + len(arsenal) + len(deployed)


def one_commit_per_event(path: str, rows: list[Row]) -> float:
    """Seconds to store each row in a transaction of its own (the no-group-commit limit)."""
    conn = create(path)
    try:
        prepared = insert_rows(rows, 1)
        started = time.perf_counter()
        for (row,) in prepared:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO events (position, id, recorded_at, type, data) VALUES (?, ?, ?, ?, ?)", row)
            conn.execute("COMMIT")
        return time.perf_counter() - started
    finally:
        conn.close()
