"""The embedded default store: one SQLite file in WAL mode, through aiosqlite.

Two connections, each with its own worker thread (aiosqlite): a writer that serialises
appends with BEGIN IMMEDIATE, so positions are gapless across processes sharing the
file, and a reader, so long reads never hold up an append. `synchronous=FULL`: an
acknowledged append is on disk, and survives a crash of the process or the machine.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path

import aiosqlite

from ..dates import utc_now
from ..errors import IdConflict, PositionConflict, SchemaVersionError, StoreUnavailable
from .base import EventStore, NewEvent, StoredEvent

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    position    INTEGER PRIMARY KEY,  -- assigned head + 1 under the write lock: gapless
    id          TEXT NOT NULL UNIQUE,
    recorded_at TEXT NOT NULL,        -- ISO 8601 UTC, never decreasing
    type        TEXT NOT NULL,
    data        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_type ON events (type, position);
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'tracker events are immutable'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'tracker events are immutable'); END;
"""
_COLUMNS = "position, id, recorded_at, type, data"
_CHUNK = 500  # ids per IN (...) query, well under SQLite's variable limit
BUSY_TIMEOUT_S = 30.0


def _row(row: tuple) -> StoredEvent:
    return StoredEvent(row[0], row[1], datetime.fromisoformat(row[2]), row[3], row[4])


class SQLiteStore(EventStore):
    POLL_INTERVAL_S = 0.1  # how soon appends by other processes are seen by wait()

    def __init__(self, path: str, writer: aiosqlite.Connection, reader: aiosqlite.Connection) -> None:
        self.path = path
        self.url = path
        self._writer = writer
        self._reader = reader
        self._write_lock = asyncio.Lock()
        self._appended = asyncio.Event()
        self._closed = False

    @classmethod
    async def open(cls, path: str) -> SQLiteStore:
        if path != ":memory:" and not Path(path).parent.exists():
            raise StoreUnavailable(f"cannot create the SQLite store {path}: folder {Path(path).parent} does not exist")
        writer = reader = None
        try:
            writer = await cls._connect(path)
            await cls._migrate(writer, path)
            reader = await cls._connect(path)
            await reader.execute("PRAGMA query_only = ON")
        except BaseException:
            for conn in (writer, reader):
                if conn is not None:
                    await conn.close()
            raise
        return cls(path, writer, reader)

    @staticmethod
    async def _connect(path: str) -> aiosqlite.Connection:
        try:
            conn = await aiosqlite.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_S)
            await conn.execute("PRAGMA journal_mode = WAL")
            await conn.execute("PRAGMA synchronous = FULL")
            return conn
        except sqlite3.Error as e:
            raise StoreUnavailable(f"cannot open the SQLite store {path}: {e}") from e

    @staticmethod
    async def _migrate(conn: aiosqlite.Connection, path: str) -> None:
        try:
            await conn.execute("BEGIN IMMEDIATE")  # two processes creating it at once: one waits
            try:
                (version,) = await (await conn.execute("PRAGMA user_version")).fetchone()
                if version > SCHEMA_VERSION:
                    raise SchemaVersionError(
                        f"{path} has schema version {version}, newer than this tracker understands "
                        f"({SCHEMA_VERSION}): upgrade tracker")
                if version == 0:
                    tables = await (await conn.execute(
                        "SELECT name FROM sqlite_master WHERE type = 'table'")).fetchall()
                    if tables and ("events",) not in tables:
                        raise StoreUnavailable(f"{path} is an SQLite database of something else, not a tracker log")
                    for statement in _statements(SCHEMA):
                        await conn.execute(statement)
                    await conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                await conn.execute("COMMIT")
            except BaseException:
                await conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as e:
            raise StoreUnavailable(f"cannot open the SQLite store {path}: {e}") from e

    async def append(self, events: Sequence[NewEvent], expected_position: int | None = None) -> list[int]:
        self._check_open()
        async with self._write_lock:
            try:
                positions = await self._append_locked(events, expected_position)
            except sqlite3.Error as e:
                raise _translate(e, self.path) from e
        self._appended.set()
        self._appended = asyncio.Event()
        return positions

    async def _append_locked(self, events: Sequence[NewEvent], expected: int | None) -> list[int]:
        db = self._writer
        await db.execute("BEGIN IMMEDIATE")
        try:
            (head,) = await (await db.execute("SELECT COALESCE(MAX(position), 0) FROM events")).fetchone()
            stored = await self._lookup(db, [e.id for e in events])
            positions: list[int] = []
            new: list[tuple[int, str, str, str]] = []
            fresh: dict[str, tuple[int, str]] = {}
            for event in events:
                known = stored.get(event.id)
                if known is not None:
                    if known.data != event.data:
                        raise IdConflict(event.id, known.position)
                    positions.append(known.position)
                    continue
                twin = fresh.get(event.id)
                if twin is not None:
                    if twin[1] != event.data:
                        raise IdConflict(event.id, twin[0])
                    positions.append(twin[0])
                    continue
                position = head + len(new) + 1
                fresh[event.id] = (position, event.data)
                new.append((position, event.id, event.type, event.data))
                positions.append(position)
            if expected is not None and expected != head and (new or not events):
                raise PositionConflict(expected, head)
            if new:
                recorded_at = utc_now()
                if head:
                    (last,) = await (await db.execute(
                        "SELECT recorded_at FROM events WHERE position = ?", (head,))).fetchone()
                    recorded_at = max(recorded_at, datetime.fromisoformat(last))
                stamp = recorded_at.isoformat(timespec="microseconds")
                await db.executemany(
                    f"INSERT INTO events ({_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
                    [(p, i, stamp, t, d) for p, i, t, d in new])
            await db.execute("COMMIT")
            return positions
        except BaseException:
            await db.execute("ROLLBACK")
            raise

    async def read(self, after: int = 0, limit: int | None = None,
                   types: Iterable[str] | None = None) -> list[StoredEvent]:
        self._check_open()
        sql = f"SELECT {_COLUMNS} FROM events WHERE position > ?"
        args: list[object] = [after]
        if types is not None:
            types = list(types)
            if not types:
                return []
            sql += f" AND type IN ({','.join('?' * len(types))})"
            args += types
        sql += " ORDER BY position"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        try:
            rows = await self._reader.execute_fetchall(sql, args)
        except sqlite3.Error as e:
            raise _translate(e, self.path) from e
        return [_row(r) for r in rows]

    async def head(self) -> int:
        self._check_open()
        try:
            (head,) = await (await self._reader.execute("SELECT COALESCE(MAX(position), 0) FROM events")).fetchone()
        except sqlite3.Error as e:
            raise _translate(e, self.path) from e
        return head

    async def lookup(self, ids: Iterable[str]) -> dict[str, StoredEvent]:
        self._check_open()
        try:
            return await self._lookup(self._reader, list(ids))
        except sqlite3.Error as e:
            raise _translate(e, self.path) from e

    @staticmethod
    async def _lookup(db: aiosqlite.Connection, ids: list[str]) -> dict[str, StoredEvent]:
        found: dict[str, StoredEvent] = {}
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), _CHUNK):
            chunk = unique[start:start + _CHUNK]
            rows = await db.execute_fetchall(
                f"SELECT {_COLUMNS} FROM events WHERE id IN ({','.join('?' * len(chunk))})", chunk)
            for r in rows:
                found[r[1]] = _row(r)
        return found

    async def wait(self, after: int, timeout: float) -> int:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            head = await self.head()
            remaining = deadline - loop.time()
            if head > after or remaining <= 0:
                return head
            appended = self._appended
            try:
                await asyncio.wait_for(appended.wait(), min(remaining, self.POLL_INTERVAL_S))
            except TimeoutError:
                pass

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._reader.close()
        await self._writer.close()

    def _check_open(self) -> None:
        if self._closed:
            raise StoreUnavailable(f"the store {self.path} is closed")


def _statements(script: str) -> list[str]:
    """Split the schema into statements (triggers hold inner semicolons, so split on END;)."""
    out, buf = [], []
    for line in script.strip().splitlines():
        buf.append(line)
        text = "\n".join(buf).strip()
        if text.endswith(";") and (not text.upper().startswith("CREATE TRIGGER") or text.upper().endswith("END;")):
            out.append(text)
            buf = []
    return out


def _translate(error: sqlite3.Error, path: str) -> StoreUnavailable:
    text = str(error)
    if "locked" in text or "busy" in text:
        return StoreUnavailable(
            f"the SQLite store {path} stayed locked by another process for over {BUSY_TIMEOUT_S:.0f} s; retry")
    return StoreUnavailable(f"the SQLite store {path} failed: {text}")
