"""The SQLite store: the shared contract, plus what only a file on disk can show."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.conftest import seconds
from tracker.core.errors import SchemaVersionError, StoreUnavailable
from tracker.store import NewEvent, open_store
from tracker.store.sqlite import _HISTORY, SCHEMA_VERSION, SQLiteStore

from .store_contract import StoreContract, ev


class TestSQLiteStore(StoreContract):
    @pytest.fixture(autouse=True)
    def _folder(self, tmp_path):
        self.folder = tmp_path
        self.count = 0

    async def make_store(self):
        self.count += 1
        return await open_store(str(self.folder / f"log{self.count}.db"))

    async def open_again(self, store):
        return await open_store(store.path)


async def test_wal_mode_full_sync_and_schema_version(tmp_path):
    path = tmp_path / "t.db"
    async with await open_store(str(path)) as store:
        await store.append([ev(1)])
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
    conn.close()


def _plan(conn: sqlite3.Connection) -> str:
    return " | ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {_HISTORY}", ("2014-01-01", 5, 10**9, 100)))


async def test_history_reads_walk_the_index_without_a_sort(tmp_path):
    path = tmp_path / "t.db"
    async with await open_store(str(path)) as store:
        await store.append([ev(n, data=data) for n, data in enumerate(OLD_DATA, 1)])
    conn = sqlite3.connect(path)
    conn.execute("ANALYZE")
    plan = _plan(conn)
    conn.close()
    assert "USING INDEX events_by_history" in plan and "TEMP B-TREE" not in plan, plan


# The schema of version 1, as tracker 1 created it: no occurred_on, no history index.
SCHEMA_V1 = """
CREATE TABLE events (position INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, recorded_at TEXT NOT NULL,
                     type TEXT NOT NULL, data TEXT NOT NULL);
CREATE INDEX events_by_type ON events (type, position);
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'tracker events are immutable'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'tracker events are immutable'); END;
PRAGMA user_version = 1;
"""


# The schema of version 2: occurred_on alone, in events_by_date.
SCHEMA_V2 = """
CREATE TABLE events (position INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, recorded_at TEXT NOT NULL,
                     type TEXT NOT NULL, data TEXT NOT NULL,
                     occurred_on TEXT GENERATED ALWAYS AS (json_extract(data, '$.occurred_on')) VIRTUAL);
CREATE INDEX events_by_type ON events (type, position);
CREATE INDEX events_by_date ON events (occurred_on, position);
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'tracker events are immutable'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'tracker events are immutable'); END;
PRAGMA user_version = 2;
"""

# The schema of version 3: history_key over occurred_from or occurred_on; no recorded_by, no tokens.
SCHEMA_V3 = """
CREATE TABLE events (position INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, recorded_at TEXT NOT NULL,
                     type TEXT NOT NULL, data TEXT NOT NULL,
                     history_key TEXT GENERATED ALWAYS AS
                       (COALESCE(json_extract(data, '$.occurred_from'), json_extract(data, '$.occurred_on'))) VIRTUAL);
CREATE INDEX events_by_type ON events (type, position);
CREATE INDEX events_by_history ON events (history_key, position);
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'tracker events are immutable'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'tracker events are immutable'); END;
PRAGMA user_version = 3;
"""

# What an old log may hold: single dates, windows (written by a newer tracker's events
# before the schema knew them, or imported), and events with no time at all.
OLD_DATA = [{"occurred_on": "2014-01-09"}, {"occurred_from": "2014-01-01", "occurred_to": "2014-01-31"},
            {"name": "a place"}, {"occurred_on": "2014-01-01", "precision": "month"},
            {"occurred_from": "2013-12-30", "occurred_to": "2014-01-05"}, {"occurred_on": "2014-01-02"},
            {"retracts": "x"}, {"occurred_from": "2014-01-09", "occurred_to": "2014-01-09"}]
OLD_ORDER = [5, 2, 4, 6, 1, 8]  # by start, then position; 3 and 7 have no time


async def _migrated(tmp_path, schema: str) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.executescript(schema)
    rows = [(n, ev(n).id, "2024-01-01T00:00:00.000000+00:00", "Thing", json.dumps(data))
            for n, data in enumerate(OLD_DATA, 1)]
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO events (position, id, recorded_at, type, data) VALUES (?, ?, ?, ?, ?)", rows)
    conn.execute("COMMIT")
    conn.close()
    async with await open_store(str(path)) as store:
        page, _ = await store.read_history()
        assert [r.position for r in page] == OLD_ORDER
        assert [(r.position, r.id, r.data) for r in await store.read()] == [(p, i, d) for p, i, _, _, d in rows]
        assert {r.recorded_by for r in await store.read()} == {None}  # stored before audit: nobody
        window = {"occurred_from": "2014-01-02", "occurred_to": "2014-01-03"}
        assert await store.append([ev(9, data=window), ev(10, data={"occurred_on": "2014-01-05"})],
                                  recorded_by="alice") == [9, 10]
        assert [r.recorded_by for r in await store.read(8)] == ["alice", "alice"]
        await store.add_token("alice", "writer", "sha256:00")
        assert [t.name for t in await store.tokens()] == ["alice"] and await store.tokens_version() == 1
        assert [r.position for r in (await store.read_history())[0]] == [5, 2, 4, 6, 9, 10, 1, 8]
        assert [[r.position for r in p] async for p in store.iterate_history(page=3)] == [[5, 2, 4], [6, 9, 10], [1, 8]]
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 4
    indexes = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"events_by_type", "events_by_history"} <= indexes and "events_by_date" not in indexes
    assert "USING INDEX events_by_history" in _plan(conn) and "TEMP B-TREE" not in _plan(conn)
    with pytest.raises(sqlite3.DatabaseError, match="immutable"):
        conn.execute("UPDATE events SET data = '{}'")
    with pytest.raises(sqlite3.DatabaseError, match="immutable"):
        conn.execute("UPDATE events SET recorded_by = 'mallory' WHERE position = 1")
    with pytest.raises(sqlite3.DatabaseError, match="never deleted"):
        conn.execute("DELETE FROM tokens")
    conn.close()


async def test_a_version_3_log_is_migrated_in_place(tmp_path):
    await _migrated(tmp_path, SCHEMA_V3)


async def test_a_version_1_log_is_migrated_in_place(tmp_path):
    await _migrated(tmp_path, SCHEMA_V1)


async def test_a_version_2_log_is_migrated_in_place(tmp_path):
    await _migrated(tmp_path, SCHEMA_V2)


async def test_log_survives_reopen(tmp_path):
    path = str(tmp_path / "t.db")
    async with await open_store(path) as store:
        await store.append([ev(1), ev(2)])
    async with await open_store(path) as store:
        assert [r.id for r in await store.read()] == [ev(1).id, ev(2).id]
        assert await store.append([ev(3)]) == [3]


async def test_rows_cannot_be_edited_or_deleted(tmp_path):
    path = tmp_path / "t.db"
    async with await open_store(str(path)) as store:
        await store.append([ev(1)])
    conn = sqlite3.connect(path)
    with pytest.raises(sqlite3.DatabaseError, match="immutable"):
        conn.execute("UPDATE events SET data = '{}'")
    with pytest.raises(sqlite3.DatabaseError, match="immutable"):
        conn.execute("DELETE FROM events")
    conn.close()


async def test_tokens_can_only_be_revoked_once_never_changed_or_deleted(tmp_path):
    path = tmp_path / "t.db"
    async with await open_store(str(path)) as store:
        await store.add_token("alice", "reader", "sha256:aa")
        await store.add_token("bob", "writer", "sha256:bb")
        await store.revoke_token("bob")
    conn = sqlite3.connect(path, isolation_level=None)
    for sql in ("UPDATE tokens SET role = 'admin' WHERE name = 'alice'",
                "UPDATE tokens SET digest = 'sha256:cc' WHERE name = 'alice'",
                "UPDATE tokens SET revoked_at = NULL WHERE name = 'bob'",
                "UPDATE tokens SET revoked_at = '2030-01-01T00:00:00+00:00' WHERE name = 'bob'",
                "UPDATE tokens SET name = 'carol' WHERE name = 'alice'",
                "DELETE FROM tokens WHERE name = 'bob'"):
        with pytest.raises(sqlite3.DatabaseError, match="tracker tokens"):
            conn.execute(sql)
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("INSERT INTO tokens VALUES ('carol', 'root', 'sha256:dd', '2030-01-01T00:00:00+00:00', NULL)")
    conn.execute("UPDATE tokens SET revoked_at = '2030-01-01T00:00:00+00:00' WHERE name = 'alice'")  # a revocation
    assert conn.execute("SELECT name, role, revoked_at IS NOT NULL FROM tokens ORDER BY name").fetchall() == \
        [("alice", "reader", 1), ("bob", "writer", 1)]
    conn.close()


async def test_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "t.db"
    async with await open_store(str(path)):
        pass
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(SchemaVersionError, match="upgrade tracker"):
        await open_store(str(path))


async def test_another_database_is_refused(tmp_path):
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE customers (name TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreUnavailable, match="not a tracker log"):
        await open_store(str(path))


async def test_a_file_that_is_not_sqlite_is_refused(tmp_path):
    path = tmp_path / "notes.db"
    path.write_text("these are my notes, not a database\n" * 100)
    with pytest.raises(StoreUnavailable, match="cannot open"):
        await open_store(str(path))


async def test_a_missing_folder_is_refused(tmp_path):
    with pytest.raises(StoreUnavailable, match="does not exist"):
        await open_store(str(tmp_path / "nowhere" / "t.db"))


async def test_two_stores_creating_one_file_at_once(tmp_path):
    path = str(tmp_path / "t.db")
    stores = await asyncio.gather(*(open_store(path) for _ in range(4)))
    try:
        await asyncio.gather(*(s.append([ev(f"{i}-{n}") for n in range(5)]) for i, s in enumerate(stores)))
        assert [r.position for r in await stores[0].read()] == list(range(1, 21))
    finally:
        for s in stores:
            await s.close()


WRITER = textwrap.dedent("""
    import asyncio, sys, uuid
    from tracker.store import NewEvent, open_store, NewEvent

    async def main(path, count, prefix):
        store = await open_store(path)
        for n in range(count):
            ident = str(uuid.uuid5(uuid.NAMESPACE_OID, f"{prefix}-{n}"))
            (position,) = await store.append([NewEvent(ident, "Thing", '{"n": %d}' % n)])
            print(ident, position, flush=True)
        await store.close()

    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3]))
""")


def _writer(path, count, prefix):
    return subprocess.Popen([sys.executable, "-c", WRITER, path, str(count), prefix],
                            stdout=subprocess.PIPE, text=True)


async def test_acknowledged_appends_survive_a_killed_process(tmp_path):
    path = str(tmp_path / "t.db")
    proc = _writer(path, 100_000, "crash")
    acked = []
    for line in proc.stdout:
        acked.append(line.split())
        if len(acked) == 200:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=seconds(10))
    async with await open_store(path) as store:
        stored = {r.id: r.position for r in await store.read()}
        assert len(stored) >= 200
        for ident, position in acked:
            assert stored[ident] == int(position)
        assert sorted(stored.values()) == list(range(1, len(stored) + 1))


async def test_several_processes_append_gapless(tmp_path):
    path = str(tmp_path / "t.db")
    async with await open_store(path):
        pass  # create the schema once, as `tracker seed` would
    procs = [_writer(path, 40, f"p{i}") for i in range(3)]
    acked = {}
    for proc in procs:
        out, _ = proc.communicate(timeout=seconds(60))
        assert proc.returncode == 0
        acked.update(line.split() for line in out.splitlines())
    async with await open_store(path) as store:
        rows = await store.read()
    assert [r.position for r in rows] == list(range(1, 121))
    assert {r.id: str(r.position) for r in rows} == acked


async def test_a_subscriber_sees_another_process_append_within_a_second(tmp_path):
    path = str(tmp_path / "t.db")
    async with await open_store(path) as store:
        waiter = asyncio.create_task(store.wait(0, timeout=seconds(10)))
        loop = asyncio.get_running_loop()
        proc = await asyncio.create_subprocess_exec(sys.executable, "-c", WRITER, path, "1", "x",
                                                    stdout=asyncio.subprocess.PIPE)
        await proc.stdout.readline()  # acknowledged by the other process
        acked = loop.time()
        assert await asyncio.wait_for(waiter, seconds(5)) == 1
        assert loop.time() - acked < 1.0
        await proc.wait()


def test_poll_interval_is_well_under_a_second():
    assert SQLiteStore.POLL_INTERVAL_S <= 0.25


async def test_concurrent_appends_share_one_commit(tmp_path):
    # Group commit: callers queued while a commit runs go in together, so 50 callers
    # need far fewer transactions (each transaction stamps its events with one recorded_at).
    async with await open_store(str(tmp_path / "t.db")) as store:
        await asyncio.gather(*(store.append([ev(f"c{w}")]) for w in range(50)))
        rows = await store.read()
        assert [r.position for r in rows] == list(range(1, 51))
        assert len({r.recorded_at for r in rows}) < 10
    conn = sqlite3.connect(tmp_path / "t.db")  # and it is all on disk, in the file's WAL
    assert conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 50
    conn.close()


async def test_close_answers_callers_already_queued(tmp_path):
    store = await open_store(str(tmp_path / "t.db"))
    calls = [asyncio.create_task(store.append([ev(f"q{w}")])) for w in range(20)]
    await asyncio.sleep(0)
    await store.close()
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert all(isinstance(r, list) for r in results)
    async with await open_store(str(tmp_path / "t.db")) as again:
        assert await again.head() == 20


_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)  # any text Python can encode


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(st.tuples(_TEXT, st.none() | _TEXT), min_size=1, max_size=6))
@example(texts=[("a\x00b", "by\x00me"), ("\\\"", None), ("ünï ✓ \U0001f600", "\x01")])
async def test_a_group_commit_stores_every_text_as_given(tmp_path_factory, texts):
    """Concurrent callers' events go in together (`_insert_group`): what is read back is
    byte for byte what was given (escapes, quotes, NUL characters, any script),
    and each caller's recorded_by is its own."""
    store = await SQLiteStore.open(str(tmp_path_factory.mktemp("group") / "log.db"))
    try:
        events = [NewEvent(e.id, e.type, json.dumps({"notes": text, "raw": f"\\u0000{text}\\"}, ensure_ascii=False))
                  for e, (text, _) in zip((ev(n) for n in range(len(texts))), texts, strict=False)]
        positions = await asyncio.gather(*(store.append([e], recorded_by=by)
                                           for e, (_, by) in zip(events, texts, strict=True)))
        assert sorted(p for (p,) in positions) == list(range(1, len(texts) + 1))
        rows = {r.position: r for r in await store.read()}
        for (position,), event, (_, by) in zip(positions, events, texts, strict=True):
            row = rows[position]
            assert (row.id, row.type, row.data, row.recorded_by) == (event.id, event.type, event.data, by)
    finally:
        await store.close()


class _Busy:
    def execute(self, *args: object) -> None:
        raise sqlite3.OperationalError("database is locked")


async def test_a_short_read_on_the_loops_thread_falls_back_to_the_reader(tmp_path):
    """read() of at most _QUICK_ROWS rows runs on the loop's thread (no hop per append for
    the catalog's registrations since its mark); when SQLite is busy there, the reader's
    thread answers, the same rows."""
    store = await SQLiteStore.open(str(tmp_path / "log.db"))
    try:
        await store.append([ev(n, "PlaceRegistered" if n % 3 else "Thing") for n in range(1, 10)])
        quick = await store.read(2, 5, types=["PlaceRegistered"])
        own, store._quick = store._quick, _Busy()
        try:
            assert await store.read(2, 5, types=["PlaceRegistered"]) == quick
            assert await store.head() == 9  # head() falls back alike
        finally:
            store._quick = own
        assert [r.position for r in quick] == [4, 5, 7, 8]
    finally:
        await store.close()
