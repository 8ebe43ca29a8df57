"""The embedded default store: one SQLite file in WAL mode.

Two connections, each with a thread of its own: a writer (stdlib sqlite3 on a one-thread
executor) and a reader (aiosqlite), so long reads never hold up an append.
`synchronous=FULL`: an acknowledged append is on disk, and survives a crash of the
process or the machine.

Group commit. `append()` queues its batch and waits: one writer task takes every batch
queued meanwhile and commits them together, in one BEGIN IMMEDIATE transaction (so
positions stay gapless across processes sharing the file) and so with one fsync, then
answers each caller. Each caller's batch runs in a SAVEPOINT of its own and is checked
as if it ran alone after the batches before it: it is stored whole or not at all, and
its IdConflict or PositionConflict fails that caller only. No caller is acknowledged
before the COMMIT that holds its events has returned.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite

from ..core.dates import utc_now
from ..core.errors import (
    IdConflict,
    InputError,
    LogNotEmpty,
    PositionConflict,
    SchemaVersionError,
    StoreUnavailable,
    TokenExists,
)
from ..core.tokens import Token
from .base import EventStore, HistoryKey, NewEvent, SnapshotInfo, StoredEvent, check_import, history_bounds
from .group import GroupCommit, Request, answer, plan, plan_from_empty
from .wake import Listener, Notifier, folder_of

SCHEMA_VERSION = 4
# The history key: the start of an event's time, the top-level `occurred_from` if it has
# one, else its `occurred_on`; NULL (never in history) for an event with neither.
# Version 2 indexed `occurred_on` alone (as the column occurred_on and events_by_date);
# version 3 replaced it with this key, so that events dated by a window are history too.
_HISTORY_KEY = ("history_key TEXT GENERATED ALWAYS AS "
                "(COALESCE(json_extract(data, '$.occurred_from'), json_extract(data, '$.occurred_on'))) VIRTUAL")
_BY_HISTORY = "CREATE INDEX IF NOT EXISTS events_by_history ON events (history_key, position);"
# Version 4: who appended each event (NULL for the events stored before), and the principals.
# A token is never deleted nor changed, only revoked once: so a name is never reused, and
# count(*) + count(revoked_at) grows with every change (tokens_version).
_TOKENS = """
CREATE TABLE IF NOT EXISTS tokens (
    name        TEXT PRIMARY KEY,
    role        TEXT NOT NULL CHECK (role IN ('reader', 'writer', 'admin')),
    digest      TEXT NOT NULL,         -- 'sha256:' + hex of the token; never the token
    created_at  TEXT NOT NULL,         -- ISO 8601 UTC
    revoked_at  TEXT                   -- NULL while the token is live
);
CREATE TRIGGER IF NOT EXISTS tokens_no_delete BEFORE DELETE ON tokens
BEGIN SELECT RAISE(ABORT, 'tracker tokens are never deleted: revoke them'); END;
CREATE TRIGGER IF NOT EXISTS tokens_only_revoke BEFORE UPDATE ON tokens
WHEN OLD.revoked_at IS NOT NULL OR NEW.revoked_at IS NULL OR NEW.name IS NOT OLD.name OR NEW.role IS NOT OLD.role
     OR NEW.digest IS NOT OLD.digest OR NEW.created_at IS NOT OLD.created_at
BEGIN SELECT RAISE(ABORT, 'tracker tokens are only ever revoked, once'); END;
"""
# Snapshots are a cache beside the log, not part of it (nor of its schema version): the table
# is made on open if missing, an older tracker ignores it, and emptying it changes no answer.
_SNAPSHOTS = """
CREATE TABLE IF NOT EXISTS snapshots (
    version     TEXT NOT NULL,         -- the snapshot code's version (tracker/core/snapshot.py)
    cut         TEXT NOT NULL,         -- the date it is the state at
    head        INTEGER NOT NULL,      -- the log position it is valid up to
    created_at  TEXT NOT NULL,
    data        BLOB NOT NULL,
    PRIMARY KEY (version, cut)
);
"""
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS events (
    position    INTEGER PRIMARY KEY,  -- assigned head + 1 under the write lock: gapless
    id          TEXT NOT NULL UNIQUE,
    recorded_at TEXT NOT NULL,        -- ISO 8601 UTC, never decreasing
    type        TEXT NOT NULL,
    data        TEXT NOT NULL,
    {_HISTORY_KEY},  -- computed from data, kept only in the index
    recorded_by TEXT                  -- who appended it; NULL for events stored before version 4
);
CREATE INDEX IF NOT EXISTS events_by_type ON events (type, position);
{_BY_HISTORY}
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'tracker events are immutable'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'tracker events are immutable'); END;
{_TOKENS}
"""
_COLUMNS = "position, id, recorded_at, type, data, recorded_by"
_INSERT = f"INSERT INTO events ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"
_TOKEN_COLUMNS = "name, role, digest, created_at, revoked_at"
_TOKENS_VERSION = "SELECT COUNT(*) + COUNT(revoked_at) FROM tokens"
_HEAD = "SELECT COALESCE(MAX(position), 0) FROM events"
# A walk of events_by_history from the bound, in index order: no sort (tests check the plan).
# The key is not selected: the virtual column is computed again from the JSON for every row
# that selects it (~8% of the walk, measured), and only a page's last row's is wanted (_KEY_AT).
_HISTORY = (f"SELECT {_COLUMNS} FROM events WHERE (history_key, position) > (?, ?) "
            "AND position <= ? ORDER BY history_key, position LIMIT ?")
_KEY_AT = "SELECT history_key FROM events WHERE position = ?"
_CHUNK = 500  # ids or positions per IN (...) query, well under SQLite's variable limit
BUSY_TIMEOUT_S = 30.0
_QUICK_ROWS = 1_000  # a read of at most this many rows may run on the loop's thread (read())


def _stored(rows: Iterable[Sequence[Any]]) -> list[StoredEvent]:
    """Rows of _COLUMNS as StoredEvents: each recorded_at text parsed once (a group commit's
    events share one), each StoredEvent made without its Python-level __new__."""
    stamps: dict[str, datetime] = {}
    out: list[StoredEvent] = []
    append, new = out.append, tuple.__new__
    for position, ident, recorded_at, kind, data, by in rows:
        at = stamps.get(recorded_at)
        if at is None:
            at = stamps[recorded_at] = datetime.fromisoformat(recorded_at)
        append(new(StoredEvent, (position, ident, at, kind, data, by)))
    return out


def _row(row: Sequence[Any]) -> StoredEvent:
    return StoredEvent(row[0], row[1], datetime.fromisoformat(row[2]), row[3], row[4], row[5])


def _token(row: Sequence[Any]) -> Token:
    return Token(row[0], row[1], row[2], datetime.fromisoformat(row[3]),
                 datetime.fromisoformat(row[4]) if row[4] is not None else None)




class SQLiteStore(GroupCommit, EventStore):
    """Appends by other processes wake `wait()` through a socket beside the file (wake.py);
    polling is the fallback: every POLL_INTERVAL_S without the socket, every POLL_AWAKE_S with it
    (for appenders that cannot reach it), and the socket is bound again if it was removed."""

    POLL_INTERVAL_S = 0.1  # how soon appends by other processes are seen by wait() without a wake-up socket
    POLL_AWAKE_S = 0.5  # ... and with one
    WAKE_RETRY_S = 5.0  # how often wait() tries again to bind a wake-up socket it could not

    def __init__(self, path: str, writer: sqlite3.Connection, reader: aiosqlite.Connection,
                 executor: ThreadPoolExecutor) -> None:
        self.path = path
        self.url = path
        self._writer = writer  # used only on the executor's one thread
        self._executor = executor
        self._reader = reader
        self._quick = _open_quick(path)  # head() without a thread hop (None: use the reader)
        self._texts: sqlite3.Connection | None = None  # texts_reader's, opened on first use
        self._queue: list[Request] = []
        self._task: asyncio.Task[None] | None = None
        self._appended = asyncio.Event()
        self._closed = False
        folder = folder_of(path)
        self._notifier = Notifier(folder) if folder is not None else None
        self._listener: Listener | None = None
        self._listen_at = 0.0  # loop time of the next attempt to bind a wake-up socket
        self._woken_before = 0  # wake-ups received by the sockets closed since

    @property
    def wakes(self) -> int:
        """Wake-ups received from other processes' appends (0 while polling only)."""
        return self._woken_before + (self._listener.received if self._listener is not None else 0)

    @property
    def wake_socket(self) -> Path | None:
        """The wake-up socket wait() listens on; None while it polls only."""
        return self._listener.path if self._listener is not None else None

    @classmethod
    async def open(cls, path: str) -> SQLiteStore:
        if path != ":memory:" and not Path(path).parent.exists():
            raise StoreUnavailable(f"cannot create the SQLite store {path}: folder {Path(path).parent} does not exist")
        loop = asyncio.get_running_loop()
        executor = ThreadPoolExecutor(1, thread_name_prefix="tracker-sqlite-writer")
        writer = reader = None
        try:
            writer = await loop.run_in_executor(executor, _open_writer, path)
            reader = await cls._connect(path)
            await reader.execute("PRAGMA query_only = ON")
        except BaseException:
            if reader is not None:
                await reader.close()
            if writer is not None:
                await loop.run_in_executor(executor, writer.close)
            executor.shutdown(wait=False)
            raise
        return cls(path, writer, reader, executor)

    @staticmethod
    async def _connect(path: str) -> aiosqlite.Connection:
        try:
            conn = await aiosqlite.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_S)
            await conn.execute("PRAGMA journal_mode = WAL")
            await conn.execute("PRAGMA synchronous = FULL")
            return conn
        except sqlite3.Error as e:
            raise StoreUnavailable(f"cannot open the SQLite store {path}: {e}") from e

    # -- appending: callers queue, one writer task commits them in groups ---------------------

    async def append(self, events: Sequence[NewEvent], expected_position: int | None = None,
                     recorded_by: str | None = None) -> list[int]:
        self._check_open()
        return await self.queued(events, expected_position, f"tracker-sqlite-writer {self.path}", recorded_by)

    async def _write_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while self._queue:
            group = self.take()
            try:
                await loop.run_in_executor(self._executor, self._commit_group, group)
            except BaseException as e:  # the transaction failed: no one in the group is acknowledged
                error = _translate(e, self.path) if isinstance(e, sqlite3.Error) else e
                for request in group:
                    request.outcome = error
                answer(group)
                if not isinstance(e, Exception):
                    raise
                continue
            answer(group)
            if any(isinstance(r.outcome, list) and r.outcome for r in group):
                self._wake()

    def _wake(self) -> None:
        """Wake this store's waiters (on the loop: its appends, and other processes' wake-ups)."""
        self._appended.set()
        self._appended = asyncio.Event()

    def _wake_others(self) -> None:
        """On the writer thread, right after a COMMIT that stored events: wake other stores'
        waiters (other processes') without waiting for the event loop to take the result."""
        if self._notifier is not None:
            listener = self._listener
            self._notifier.notify(skip=listener.name if listener is not None else None)

    def _commit_group(self, group: list[Request]) -> None:
        """On the writer thread: every request of the group in one transaction, one fsync."""
        db = self._writer
        db.execute("BEGIN IMMEDIATE")
        try:
            last = db.execute("SELECT position, recorded_at FROM events ORDER BY position DESC LIMIT 1").fetchone()
            head = start = last[0] if last else 0
            recorded_at = utc_now()
            if last:
                recorded_at = max(recorded_at, datetime.fromisoformat(last[1]))
            stamp = recorded_at.isoformat(timespec="microseconds")
            stored = _insert_group(db, group, head, stamp)
            if stored is not None:
                head, group = stored, []  # every request answered
            fresh: dict[str, tuple[int, str]] = {}  # ids stored by earlier requests of this group
            for request in group:
                db.execute("SAVEPOINT request")
                try:
                    positions = _apply(db, request, head, stamp, fresh)
                except (IdConflict, PositionConflict, sqlite3.Error) as e:
                    db.execute("ROLLBACK TO request")
                    db.execute("RELEASE request")
                    request.outcome = _translate(e, self.path) if isinstance(e, sqlite3.Error) else e
                    continue
                db.execute("RELEASE request")
                for event, position in zip(request.events, positions, strict=True):
                    if position > head and event.id not in fresh:
                        fresh[event.id] = (position, event.data)
                head = max([head, *positions])
                request.outcome = positions
            db.execute("COMMIT")
            if head > start:
                self._wake_others()
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
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
        rows: Iterable[sqlite3.Row] | None = None
        if self._quick is not None and limit is not None and limit <= _QUICK_ROWS:
            # A short read (before an append, the registrations since the catalog's mark) on
            # the loop's thread, as head() reads: no hop to the reader's thread and back, which
            # with a hundred appending clients kept the others queued behind the catalog's lock.
            try:
                rows = self._quick.execute(sql, args).fetchall()
            except sqlite3.Error:
                rows = None
        if rows is None:
            try:
                rows = await self._reader.execute_fetchall(sql, args)
            except sqlite3.Error as e:
                raise _translate(e, self.path) from e
        return _stored(rows)

    async def read_history(self, after: HistoryKey | None = None, limit: int = 10_000,
                           upto: int | None = None) -> tuple[list[StoredEvent], HistoryKey | None]:
        self._check_open()
        if limit <= 0:
            return [], None
        try:
            out = _stored(await self._reader.execute_fetchall(_HISTORY, (*history_bounds(after, upto), limit)))
            if len(out) < limit:
                return out, None
            last = out[-1].position
            (key,), = await self._reader.execute_fetchall(_KEY_AT, (last,))
            return out, (key, last)
        except sqlite3.Error as e:
            raise _translate(e, self.path) from e

    def texts_reader(self) -> Callable[[Sequence[int]], Mapping[int, str]] | None:
        """Texts by position on a read-only connection of their own, on the caller's thread: a
        few hundred rows by primary key for an answer (~1 ms), every fact for a start's checkpoints."""
        if not _own_file(self.path):
            return None
        if self._texts is None:
            try:
                self._texts = _open_read_only(self.path, BUSY_TIMEOUT_S)
            except sqlite3.Error as e:
                raise _translate(e, self.path) from e
        conn, path = self._texts, self.path

        def read(positions: Sequence[int]) -> dict[int, str]:
            found: dict[int, str] = {}
            try:
                for at in range(0, len(positions), _CHUNK):
                    chunk = positions[at:at + _CHUNK]
                    found.update(conn.execute(
                        f"SELECT position, data FROM events WHERE position IN ({','.join('?' * len(chunk))})", chunk))
            except sqlite3.Error as e:
                raise _translate(e, path) from e
            return found

        return read

    async def head(self) -> int:
        self._check_open()
        if self._quick is not None:
            # One indexed lookup (MAX of the INTEGER PRIMARY KEY): microseconds on the loop's
            # thread, cheaper than the hop to the reader's thread that every append would pay.
            # It never waits for a lock (timeout 0): if SQLite is busy, ask the reader instead.
            try:
                return self._quick.execute(_HEAD).fetchone()[0]
            except sqlite3.Error:
                pass
        try:
            row = await (await self._reader.execute(_HEAD)).fetchone()
        except sqlite3.Error as e:
            raise _translate(e, self.path) from e
        assert row is not None  # an aggregate: always one row
        return row[0]

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
            self._check_listener(loop)
            appended = self._appended  # taken before reading the head: a wake-up after the read wakes us
            head = await self.head()
            remaining = deadline - loop.time()
            if head > after or remaining <= 0:
                return head
            poll = self.POLL_AWAKE_S if self._listener is not None else self.POLL_INTERVAL_S
            try:
                await asyncio.wait_for(appended.wait(), min(remaining, poll))
            except TimeoutError:
                pass

    def _check_listener(self, loop: asyncio.AbstractEventLoop) -> None:
        """Listen for other processes' appends: bind the wake-up socket on the first wait(),
        again if its file was removed, and retry now and then if it could not be bound."""
        if self._closed or loop.time() < self._listen_at:
            return
        self._listen_at = loop.time() + self.POLL_AWAKE_S  # a stat at most this often
        if self._listener is not None:
            if self._listener.alive():
                return
            self._close_listener()
        folder = folder_of(self.path)
        if folder is not None:
            self._listener = Listener.open(folder, self._wake)
        if self._listener is None:
            self._listen_at = loop.time() + self.WAKE_RETRY_S

    def _close_listener(self) -> None:
        if self._listener is not None:
            self._woken_before += self._listener.received
            self._listener.close()
            self._listener = None

    async def import_events(self, events: Sequence[StoredEvent]) -> int:
        self._check_open()
        check_import(events)
        rows = [(e.position, e.id, e.recorded_at.astimezone(UTC).isoformat(timespec="microseconds"), e.type, e.data,
                 e.recorded_by) for e in events]

        def load() -> None:  # on the writer thread, so it is serialised with group commits
            db = self._writer
            db.execute("BEGIN IMMEDIATE")
            try:
                (head,) = db.execute("SELECT COALESCE(MAX(position), 0) FROM events").fetchone()
                if head:
                    raise LogNotEmpty(head, self.path)
                db.executemany(_INSERT, rows)
                db.execute("COMMIT")
                if rows:
                    self._wake_others()
            except BaseException:
                db.execute("ROLLBACK")
                raise

        try:
            await asyncio.get_running_loop().run_in_executor(self._executor, load)
        except sqlite3.Error as e:
            raise _translate(e, self.path) from e
        if rows:
            self._wake()
        return len(rows)

    # -- principals ---------------------------------------------------------------------------

    async def _write(self, work: Any) -> Any:
        """`work(db)` on the writer thread in one BEGIN IMMEDIATE transaction: serialised with
        group commits, and with other processes' writes."""
        self._check_open()

        def run() -> Any:
            db = self._writer
            db.execute("BEGIN IMMEDIATE")
            try:
                result = work(db)
                db.execute("COMMIT")
                return result
            except BaseException:
                db.execute("ROLLBACK")
                raise

        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, run)
        except sqlite3.Error as e:
            raise _translate(e, self.path) from e

    async def add_token(self, name: str, role: str, digest: str) -> Token:
        def add(db: sqlite3.Connection) -> Token:
            found = db.execute("SELECT revoked_at FROM tokens WHERE name = ?", (name,)).fetchone()
            if found is not None:
                raise TokenExists(name, found[0] is not None)
            created = utc_now().isoformat(timespec="microseconds")
            db.execute(f"INSERT INTO tokens ({_TOKEN_COLUMNS}) VALUES (?, ?, ?, ?, NULL)",
                       (name, role, digest, created))
            return _token((name, role, digest, created, None))

        return await self._write(add)

    async def tokens(self) -> list[Token]:
        self._check_open()
        try:
            rows = await self._reader.execute_fetchall(f"SELECT {_TOKEN_COLUMNS} FROM tokens ORDER BY name")
        except sqlite3.Error as e:
            raise _translate(e, self.path) from e
        return [_token(r) for r in rows]

    async def revoke_token(self, name: str) -> Token:
        def revoke(db: sqlite3.Connection) -> Token:
            db.execute("UPDATE tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
                       (utc_now().isoformat(timespec="microseconds"), name))
            row = db.execute(f"SELECT {_TOKEN_COLUMNS} FROM tokens WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise InputError(f"no token named '{name}' (tracker tokens list shows them)")
            return _token(row)

        return await self._write(revoke)

    async def tokens_version(self) -> int:
        self._check_open()
        try:
            row = await (await self._reader.execute(_TOKENS_VERSION)).fetchone()
        except sqlite3.Error as e:
            raise _translate(e, self.path) from e
        assert row is not None  # an aggregate: always one row
        return int(row[0])

    # -- snapshots -----------------------------------------------------------------------------

    async def put_snapshot(self, version: str, cut: str, head: int, data: bytes) -> None:
        def put(db: sqlite3.Connection) -> None:
            db.execute("DELETE FROM snapshots WHERE version <> ?", (version,))
            db.execute("INSERT OR REPLACE INTO snapshots (version, cut, head, created_at, data) VALUES (?, ?, ?, ?, ?)",
                       (version, cut, head, utc_now().isoformat(timespec="microseconds"), data))

        await self._write(put)

    async def snapshots(self, version: str) -> list[SnapshotInfo]:
        rows = await self._read_rows("SELECT cut, head, length(data) FROM snapshots WHERE version = ? ORDER BY cut",
                                     (version,))
        return [SnapshotInfo(*row) for row in rows]

    async def get_snapshot(self, version: str, cut: str) -> tuple[int, bytes] | None:
        rows = await self._read_rows("SELECT head, data FROM snapshots WHERE version = ? AND cut = ?", (version, cut))
        return (rows[0][0], bytes(rows[0][1])) if rows else None

    async def renew_snapshot(self, version: str, cut: str, head: int) -> None:
        await self._write(lambda db: db.execute(
            "UPDATE snapshots SET head = max(head, ?) WHERE version = ? AND cut = ?", (head, version, cut)))

    async def drop_snapshots(self, from_cut: str = "", to_cut: str | None = None) -> int:
        return await self._write(lambda db: db.execute(
            "DELETE FROM snapshots WHERE cut >= ? AND (? IS NULL OR cut <= ?)", (from_cut, to_cut, to_cut)).rowcount)

    async def _read_rows(self, sql: str, args: tuple) -> list[Any]:
        self._check_open()
        try:
            return list(await self._reader.execute_fetchall(sql, args))
        except sqlite3.Error as e:
            raise _translate(e, self.path) from e

    # -- backup -------------------------------------------------------------------------------

    async def backup(self, target: str) -> None:
        """Copy the live log (events and tokens) into the new file `target` with SQLite's
        online backup API, while appends go on: one step (pages=-1) copies one consistent
        snapshot under a read transaction, which in WAL mode holds no writer up."""
        self._check_open()

        def copy() -> None:
            source = sqlite3.connect(self.path, isolation_level=None, timeout=BUSY_TIMEOUT_S)
            try:
                dest = sqlite3.connect(target, isolation_level=None)
                try:
                    source.backup(dest, pages=-1)
                finally:
                    dest.close()
            finally:
                source.close()

        try:
            await asyncio.get_running_loop().run_in_executor(None, copy)
        except sqlite3.Error as e:
            raise _translate(e, self.path) from e

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._task is not None:
            try:
                await asyncio.shield(self._task)  # what was queued before the close is committed and answered
            except Exception:
                pass
        self._close_listener()
        if self._notifier is not None:
            self._notifier.close()
        await self._reader.close()
        if self._quick is not None:
            self._quick.close()
        if self._texts is not None:
            self._texts.close()
        await asyncio.get_running_loop().run_in_executor(self._executor, self._writer.close)
        self._executor.shutdown(wait=False)

    def _check_open(self) -> None:
        if self._closed:
            raise StoreUnavailable(f"the store {self.path} is closed")


def _insert_group(db: sqlite3.Connection, group: list[Request], head: int, stamp: str) -> int | None:
    """The common case, the whole group's new events in one executemany, not a savepoint and
    an insert per request (with a hundred single-event callers, hundreds of statements, each
    taking the GIL back from the event loop's thread): planned as if the log were empty
    (`plan_from_empty`), at the head each `expected` needs, none of its ids stored yet (the
    UNIQUE index says so: then the savepoint is rolled back). Sets each request's outcome
    and returns the new head; None, having stored nothing, when any of that fails."""
    planned = plan_from_empty(group)
    if planned is None or planned[1] not in (None, head):
        return None
    plans = planned[0]
    rows = [(e.id, e.type, e.data, request.recorded_by)
            for request, (_, new) in zip(group, plans, strict=True) for _, e in new]
    if rows:
        db.execute("SAVEPOINT fast")
        try:
            db.executemany(_INSERT, [(head + n, ident, stamp, kind, data, by)
                                     for n, (ident, kind, data, by) in enumerate(rows, 1)])
        except sqlite3.IntegrityError:
            db.execute("ROLLBACK TO fast")
            return None
        finally:
            db.execute("RELEASE fast")
    for request, (positions, _) in zip(group, plans, strict=True):
        request.outcome = [head + p for p in positions]
    return head + len(rows)


def _apply(db: sqlite3.Connection, request: Request, head: int, stamp: str,
           fresh: dict[str, tuple[int, str]]) -> list[int]:
    """One caller's batch, as if it ran alone after `head`.

    The fast path inserts at once and lets the UNIQUE index tell whether an id is stored
    already; only then does it look the ids up to answer idempotently or refuse."""
    events, expected = request.events, request.expected
    if not events:
        if expected is not None and expected != head:
            raise PositionConflict(expected, head)
        return []
    ids = [e.id for e in events]
    if (expected is None or expected == head) and len(set(ids)) == len(ids) and not any(i in fresh for i in ids):
        db.execute("SAVEPOINT fast")
        try:
            db.executemany(_INSERT, [(head + n, e.id, stamp, e.type, e.data, request.recorded_by)
                                     for n, e in enumerate(events, 1)])
        except sqlite3.IntegrityError:
            db.execute("ROLLBACK TO fast")
            db.execute("RELEASE fast")
        else:
            db.execute("RELEASE fast")
            return list(range(head + 1, head + len(events) + 1))
    positions, new = plan(request, head, {**fresh, **_lookup_sync(db, ids)})
    if new:
        db.executemany(_INSERT, [(position, e.id, stamp, e.type, e.data, request.recorded_by) for position, e in new])
    return positions


def _lookup_sync(db: sqlite3.Connection, ids: list[str]) -> dict[str, tuple[int, str]]:
    found: dict[str, tuple[int, str]] = {}
    unique = list(dict.fromkeys(ids))
    for start in range(0, len(unique), _CHUNK):
        chunk = unique[start:start + _CHUNK]
        for position, ident, data in db.execute(
                f"SELECT position, id, data FROM events WHERE id IN ({','.join('?' * len(chunk))})", chunk):
            found[ident] = (position, data)
    return found


def _own_file(path: str) -> bool:
    """Whether the store is a file a second connection can open by its path."""
    return path != ":memory:" and not path.startswith("file:")


def _open_read_only(path: str, timeout: float) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, timeout=timeout, check_same_thread=False)
    conn.execute("PRAGMA query_only = ON")
    return conn


def _open_quick(path: str) -> sqlite3.Connection | None:
    """A read-only connection for head() on the event loop's thread; it never waits for a lock."""
    if not _own_file(path):
        return None
    try:
        return _open_read_only(path, 0)
    except sqlite3.Error:
        return None


def _open_writer(path: str) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_S, check_same_thread=False)
    except sqlite3.Error as e:
        raise StoreUnavailable(f"cannot open the SQLite store {path}: {e}") from e
    try:
        _use_wal(conn)
        conn.execute("PRAGMA synchronous = FULL")
        _migrate(conn, path)
    except sqlite3.Error as e:
        conn.close()
        raise StoreUnavailable(f"cannot open the SQLite store {path}: {e}") from e
    except BaseException:
        conn.close()
        raise
    return conn


def _use_wal(conn: sqlite3.Connection) -> None:
    """Switch the file to WAL. The switch needs the file to itself, and SQLite answers a
    connection that meets another one switching it at the same moment with "database is
    locked" at once, without its busy handler: so wait and try again, up to BUSY_TIMEOUT_S."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    delay = 0.005
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


def _migrate(conn: sqlite3.Connection, path: str) -> None:
    conn.execute("BEGIN IMMEDIATE")  # two processes creating it at once: one waits
    try:
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        if version > SCHEMA_VERSION:
            raise SchemaVersionError(
                f"{path} has schema version {version}, newer than this tracker understands "
                f"({SCHEMA_VERSION}): upgrade tracker")
        if version == 0:
            tables = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
            if tables and ("events",) not in tables:
                raise StoreUnavailable(f"{path} is an SQLite database of something else, not a tracker log")
            for statement in _statements(SCHEMA):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        elif version < SCHEMA_VERSION:
            if version in (1, 2):
                # A virtual column needs no rewrite of the rows; the index reads each once. A
                # version 2 log keeps its column occurred_on (virtual: nothing stored, and SQLite
                # before 3.35 cannot drop a column) but loses its index, which nothing reads now.
                conn.execute(f"ALTER TABLE events ADD COLUMN {_HISTORY_KEY}")
                conn.execute(_BY_HISTORY)
                conn.execute("DROP INDEX IF EXISTS events_by_date")
            # Version 4. A nullable column without a default changes only the schema: no row
            # is rewritten (so no UPDATE trigger fires), and every old event reads NULL.
            conn.execute("ALTER TABLE events ADD COLUMN recorded_by TEXT")
            for statement in _statements(_TOKENS):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute(_SNAPSHOTS)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


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


def _translate(error: BaseException, path: str) -> StoreUnavailable:
    text = str(error)
    if "locked" in text or "busy" in text:
        return StoreUnavailable(
            f"the SQLite store {path} stayed locked by another process for over {BUSY_TIMEOUT_S:.0f} s; retry")
    return StoreUnavailable(f"the SQLite store {path} failed: {text}")
