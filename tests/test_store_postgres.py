"""The PostgreSQL store: the shared contract, plus what only a database server can show.

These tests need a PostgreSQL server: set TRACKER_TEST_PG_DSN to a DSN that may create
and drop databases (`.ci/run` sets postgresql://postgres@127.0.0.1:5432/postgres). Each
test works in databases of its own, made fresh and dropped after. Without the variable
the tests skip; with it set but the server unreachable they fail, so CI cannot pass by
skipping them.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid

import pytest

from tests.conftest import pg_admin as admin
from tests.conftest import pg_database_name, pg_server_dsn, pg_url, run_tracker, seconds
from tests.conftest import pg_terminate as terminate
from tracker.core.errors import IdConflict, PositionConflict, SchemaVersionError, StoreUnavailable
from tracker.store import NewEvent, open_store
from tracker.store.postgres import _HISTORY, _TOKENS, SCHEMA_VERSION, PostgresStore

from .store_contract import StoreContract, ev


async def backends(dsn: str) -> list[int]:
    """The server process ids of every connection to the database `dsn` names, but ours."""
    conn = await admin()
    try:
        rows = await conn.fetch("SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                                pg_database_name(dsn))
        return [r["pid"] for r in rows]
    finally:
        await conn.close()


async def allow_connections(dsn: str, allowed: bool) -> None:
    conn = await admin()
    try:
        await conn.execute(f'ALTER DATABASE "{pg_database_name(dsn)}" ALLOW_CONNECTIONS {str(allowed).lower()}')
    finally:
        await conn.close()


class TestPostgresStore(StoreContract):
    @pytest.fixture(autouse=True)
    async def _databases(self, databases):
        self.databases = databases

    async def make_store(self):
        return await open_store(await self.databases.create())

    async def open_again(self, store):
        return await open_store(store.dsn)


# -- schema -------------------------------------------------------------------------------


async def test_schema_created_once_by_many_stores_at_once(pg_dsn):
    stores = await asyncio.gather(*(open_store(pg_dsn) for _ in range(8)))
    try:
        await asyncio.gather(*(s.append([ev(f"{i}-{n}") for n in range(5)]) for i, s in enumerate(stores)))
        assert [r.position for r in await stores[0].read()] == list(range(1, 41))
    finally:
        for s in stores:
            await s.close()


SCHEMA_RACE = """
import asyncio, sys
from tracker.store import open_store

async def main(dsn):
    async with await open_store(dsn) as store:
        print(await store.head())

asyncio.run(main(sys.argv[1]))
"""


async def test_schema_created_safely_by_several_processes_at_once(pg_dsn):
    procs = [await asyncio.create_subprocess_exec(sys.executable, "-c", SCHEMA_RACE, pg_dsn,
                                                  stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
             for _ in range(4)]
    for proc in procs:
        out, err = await proc.communicate()
        assert proc.returncode == 0, err.decode()
        assert out.decode().strip() == "0"
    import asyncpg

    conn = await asyncpg.connect(pg_dsn)
    try:
        assert await conn.fetchval("SELECT count(*) FROM tracker_schema") == 1
        assert await conn.fetchval("SELECT version FROM tracker_schema") == SCHEMA_VERSION == 5
    finally:
        await conn.close()


# The schema of version 1, as tracker 1 created it: no occurred_on, no history index.
SCHEMA_V1 = """
CREATE TABLE tracker_schema (version integer NOT NULL);
CREATE TABLE tracker_events (position bigint PRIMARY KEY, id text NOT NULL UNIQUE,
    recorded_at timestamptz NOT NULL, type text NOT NULL, data text NOT NULL);
CREATE INDEX tracker_events_by_type ON tracker_events (type, position);
CREATE OR REPLACE FUNCTION tracker_events_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'tracker events are immutable (% refused)', TG_OP; END $$;
CREATE TRIGGER tracker_events_no_change BEFORE UPDATE OR DELETE ON tracker_events
    FOR EACH ROW EXECUTE FUNCTION tracker_events_immutable();
INSERT INTO tracker_schema VALUES (1);
"""


# The schema of version 2: occurred_on alone, in tracker_events_by_date.
SCHEMA_V2 = SCHEMA_V1.replace(
    "data text NOT NULL);",
    "data text NOT NULL, occurred_on text COLLATE \"C\" GENERATED ALWAYS AS ((data::jsonb ->> 'occurred_on')) STORED);"
).replace("INSERT INTO tracker_schema VALUES (1);",
          "CREATE INDEX tracker_events_by_date ON tracker_events (occurred_on, position);\n"
          "INSERT INTO tracker_schema VALUES (2);")

# The schema of version 3: history_key instead of occurred_on; no recorded_by, no tokens.
SCHEMA_V3 = SCHEMA_V1.replace(
    "data text NOT NULL);",
    "data text NOT NULL, history_key text COLLATE \"C\" GENERATED ALWAYS AS "
    "(COALESCE(data::jsonb ->> 'occurred_from', data::jsonb ->> 'occurred_on')) STORED);"
).replace("INSERT INTO tracker_schema VALUES (1);",
          "CREATE INDEX tracker_events_by_history ON tracker_events (history_key, position);\n"
          "INSERT INTO tracker_schema VALUES (3);")

# What an old log may hold: single dates, windows, and events with no time at all.
OLD_DATA = [{"occurred_on": "2014-01-09"}, {"occurred_from": "2014-01-01", "occurred_to": "2014-01-31"},
            {"name": "a place"}, {"occurred_on": "2014-01-01", "precision": "month"},
            {"occurred_from": "2013-12-30", "occurred_to": "2014-01-05"}, {"occurred_on": "2014-01-02"},
            {"retracts": "x"}, {"occurred_from": "2014-01-09", "occurred_to": "2014-01-09"}]
OLD_ORDER = [5, 2, 4, 6, 1, 8]  # by start, then position; 3 and 7 have no time


async def _history_plan(conn, limit: int = 10_000) -> str:
    rows = await conn.fetch(f"EXPLAIN {_HISTORY}", "2014-01-01", 5, 2 ** 62, limit)
    return "\n".join(r[0] for r in rows)


async def _migrated(dsn: str, schema: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(schema)
        await conn.executemany("INSERT INTO tracker_events VALUES ($1, $2, now(), 'Thing', $3)",
                               [(n, ev(n).id, json.dumps(data)) for n, data in enumerate(OLD_DATA, 1)])
        before = [tuple(r) for r in await conn.fetch(
            "SELECT position, id, recorded_at, type, data FROM tracker_events ORDER BY position")]
    finally:
        await conn.close()
    async with await open_store(dsn) as store:
        assert [r.position for r in (await store.read_history())[0]] == OLD_ORDER
        assert [tuple(r) for r in await store.read()] == [(*row, None) for row in before]  # recorded_by: nobody
        window = {"occurred_from": "2014-01-02", "occurred_to": "2014-01-03"}
        assert await store.append([ev(9, data=window), ev(10, data={"occurred_on": "2014-01-05"})],
                                  recorded_by="alice") == [9, 10]
        assert [r.recorded_by for r in await store.read(8)] == ["alice", "alice"]
        await store.add_token("alice", "writer", "sha256:00")
        assert [t.name for t in await store.tokens()] == ["alice"] and await store.tokens_version() == 1
        assert [r.position for r in (await store.read_history())[0]] == [5, 2, 4, 6, 9, 10, 1, 8]
        assert [[r.position for r in p] async for p in store.iterate_history(page=3)] == [[5, 2, 4], [6, 9, 10], [1, 8]]
    conn = await asyncpg.connect(dsn)
    try:
        assert await conn.fetchval("SELECT version FROM tracker_schema") == 5
        assert await conn.fetchval("SELECT to_regprocedure('tracker_append(text[], text[], text[], text[], bigint)')")
        columns = {r[0] for r in await conn.fetch(
            "SELECT attname FROM pg_attribute WHERE attrelid = 'tracker_events'::regclass AND attnum > 0 "
            "AND NOT attisdropped")}
        assert columns == {"position", "id", "recorded_at", "type", "data", "history_key", "recorded_by"}
        rows = await conn.fetch("SELECT indexname FROM pg_indexes WHERE tablename = 'tracker_events'")
        indexes = {r[0] for r in rows}
        assert indexes == {"tracker_events_pkey", "tracker_events_id_key", "tracker_events_by_type",
                           "tracker_events_by_history"}
        # a handful of rows: what the planner would do at scale (a table the migration did not
        # rewrite, as from version 3, has no fresh statistics and tempts it to a bitmap scan)
        await conn.execute("SET enable_seqscan = off; SET enable_bitmapscan = off")
        plan = await _history_plan(conn)
        assert "Index Scan using tracker_events_by_history" in plan and "Sort" not in plan, plan
        with pytest.raises(asyncpg.RaiseError, match="immutable"):
            await conn.execute("UPDATE tracker_events SET data = '{}'")
        with pytest.raises(asyncpg.RaiseError, match="immutable"):
            await conn.execute("UPDATE tracker_events SET recorded_by = 'mallory'")
        with pytest.raises(asyncpg.RaiseError, match="only ever revoked"):
            await conn.execute("DELETE FROM tracker_tokens")
    finally:
        await conn.close()


# The schema of version 4: recorded_by and the tokens; no tracker_append (appends take the lock
# and check in Python, several round trips).
SCHEMA_V4 = SCHEMA_V3.replace(
    "STORED);", "STORED, recorded_by text);"
).replace("INSERT INTO tracker_schema VALUES (3);", f"{_TOKENS}\nINSERT INTO tracker_schema VALUES (4);")


async def test_a_version_4_log_is_migrated_in_place(pg_dsn):
    await _migrated(pg_dsn, SCHEMA_V4)


async def test_a_version_3_log_is_migrated_in_place(pg_dsn):
    await _migrated(pg_dsn, SCHEMA_V3)


async def test_a_version_1_log_is_migrated_in_place(pg_dsn):
    await _migrated(pg_dsn, SCHEMA_V1)


async def test_a_version_2_log_is_migrated_in_place(pg_dsn):
    await _migrated(pg_dsn, SCHEMA_V2)


async def test_history_reads_scan_the_index_without_a_sort(pg_dsn):
    import asyncpg

    async with await open_store(pg_dsn) as store:
        await store.append([ev(n, data={"n": n, **OLD_DATA[n % len(OLD_DATA)]}) for n in range(5000)])
    conn = await asyncpg.connect(pg_dsn)
    try:
        await conn.execute("ANALYZE tracker_events")
        # a page much smaller than the log, as a replay's pages are (a page of most of a small
        # table is cheaper sorted, and the planner rightly says so)
        plan = await _history_plan(conn, 200)
        assert "Index Scan using tracker_events_by_history" in plan and "Sort" not in plan, plan
    finally:
        await conn.close()


async def test_a_newer_schema_is_refused(pg_dsn):
    async with await open_store(pg_dsn):
        pass
    import asyncpg

    conn = await asyncpg.connect(pg_dsn)
    await conn.execute("UPDATE tracker_schema SET version = 99")
    await conn.close()
    with pytest.raises(SchemaVersionError, match="upgrade tracker"):
        await open_store(pg_dsn)


async def test_rows_cannot_be_edited_or_deleted(pg_dsn):
    async with await open_store(pg_dsn) as store:
        await store.append([ev(1)])
    import asyncpg

    conn = await asyncpg.connect(pg_dsn)
    try:
        for sql in ("UPDATE tracker_events SET data = '{}'", "DELETE FROM tracker_events",
                    "TRUNCATE tracker_events"):
            with pytest.raises(asyncpg.PostgresError, match="immutable"):
                await conn.execute(sql)
        assert await conn.fetchval("SELECT count(*) FROM tracker_events") == 1
    finally:
        await conn.close()


async def test_tokens_can_only_be_revoked_once_never_changed_or_deleted(pg_dsn):
    async with await open_store(pg_dsn) as store:
        await store.add_token("alice", "reader", "sha256:aa")
        await store.add_token("bob", "writer", "sha256:bb")
        await store.revoke_token("bob")
    import asyncpg

    conn = await asyncpg.connect(pg_dsn)
    try:
        for sql in ("UPDATE tracker_tokens SET role = 'admin' WHERE name = 'alice'",
                    "UPDATE tracker_tokens SET digest = 'sha256:cc' WHERE name = 'alice'",
                    "UPDATE tracker_tokens SET revoked_at = NULL WHERE name = 'bob'",
                    "UPDATE tracker_tokens SET revoked_at = now() WHERE name = 'bob'",
                    "UPDATE tracker_tokens SET name = 'carol' WHERE name = 'alice'",
                    "DELETE FROM tracker_tokens WHERE name = 'bob'",
                    "TRUNCATE tracker_tokens"):
            with pytest.raises(asyncpg.RaiseError, match="only ever revoked"):
                await conn.execute(sql)
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute("INSERT INTO tracker_tokens VALUES ('carol', 'root', 'sha256:dd', now(), NULL)")
        await conn.execute("UPDATE tracker_tokens SET revoked_at = now() WHERE name = 'alice'")  # a revocation
        rows = await conn.fetch("SELECT name, role, revoked_at IS NOT NULL FROM tracker_tokens ORDER BY name")
        assert [tuple(r) for r in rows] == [("alice", "reader", True), ("bob", "writer", True)]
    finally:
        await conn.close()


async def test_data_is_kept_byte_for_byte(pg_dsn):
    # text, not jsonb: key order, spacing, escapes and number spelling all survive
    odd = ['{"b": 1,   "a": [1.50, 1e3]}', '{"z":"\\u00e9\\n","a":null}', '{ "x" : "ünïcødé ✓" }']
    events = [NewEvent(str(uuid.uuid4()), "Thing", data) for data in odd]
    async with await open_store(pg_dsn) as store:
        await store.append(events)
        assert [r.data for r in await store.read()] == odd
        assert await store.append(events) == [1, 2, 3]  # a retry: byte-identical, so idempotent
        changed = NewEvent(events[0].id, "Thing", '{"a": [1.50, 1e3], "b": 1}')  # same JSON, other bytes
        with pytest.raises(IdConflict):
            await store.append([changed])


async def test_recorded_at_from_the_database_clock_never_decreases_across_stores(pg_dsn):
    stores = [await open_store(pg_dsn) for _ in range(3)]
    try:
        await asyncio.gather(*(s.append([ev(f"{i}-{n}")]) for n in range(10) for i, s in enumerate(stores)))
        rows = await stores[0].read()
        assert [r.position for r in rows] == list(range(1, 31))
        stamps = [r.recorded_at for r in rows]
        assert stamps == sorted(stamps)
        import asyncpg

        conn = await asyncpg.connect(pg_dsn)
        now = await conn.fetchval("SELECT clock_timestamp()")
        await conn.close()
        assert abs((now - stamps[-1]).total_seconds()) < 30
    finally:
        for s in stores:
            await s.close()


async def test_appends_that_no_stored_id_concerns_are_one_call_the_others_checked_under_the_lock(
        pg_dsn, monkeypatch):
    checked: list[int] = []
    checking = PostgresStore._commit_checked

    async def spy(self, conn, group):
        checked.append(len(group))
        await checking(self, conn, group)

    monkeypatch.setattr(PostgresStore, "_commit_checked", spy)
    async with await open_store(pg_dsn) as store:
        assert await store.append([ev(1), ev(2), ev(1)], expected_position=0) == [1, 2, 1]
        # callers grouped or not: each expected_position reckoned after the callers before it
        assert await asyncio.gather(store.append([ev(3)], expected_position=2), store.append([ev(4), ev(5)]),
                                    store.append([], expected_position=5), store.append([ev(6)])) == [
            [3], [4, 5], [], [6]]
        assert checked == []  # tracker_append alone
        assert await store.append([ev(7), ev(1)]) == [7, 1]  # a stored id: checked
        with pytest.raises(IdConflict):
            await store.append([NewEvent(ev(2).id, "Thing", "{}")])
        with pytest.raises(PositionConflict) as caught:
            await store.append([ev(8)], expected_position=6)
        assert caught.value.details == {"expected_position": 6, "head": 7}
        assert len(checked) == 3
        rows = await store.read()
        assert [r.position for r in rows] == list(range(1, 8))
        assert [r.recorded_at for r in rows] == sorted(r.recorded_at for r in rows)


# -- outages ------------------------------------------------------------------------------


async def test_unreachable_server_fails_fast_and_masks_the_password():
    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as caught:
        await open_store("postgresql://tracker:s3cret@127.0.0.1:1/x")
    assert time.monotonic() - started < 6
    message = str(caught.value)
    assert "s3cret" not in message
    assert "postgresql://tracker:***@127.0.0.1:1/x" in message
    assert "refused" in message


def test_unreachable_server_exits_4_through_the_cli(tmp_path):
    started = time.monotonic()
    done = run_tracker("state", "territory", "--db", "postgresql://postgres:pw@127.0.0.1:1/x", cwd=tmp_path,
                       expect=4, timeout=30)  # exit 4, no traceback
    assert "127.0.0.1:1" in done.stderr and ":pw@" not in done.stderr
    assert time.monotonic() - started < 10


async def test_a_missing_database_is_unavailable_not_a_driver_error(databases):
    pg_server_dsn()
    dsn = pg_url(databases.server, database=f"tracker_missing_{uuid.uuid4().hex[:8]}")
    with pytest.raises(StoreUnavailable, match="does not exist"):
        await open_store(dsn)


async def test_killed_connections_under_a_waiter_lose_nothing(pg_dsn):
    async with await open_store(pg_dsn) as store, await open_store(pg_dsn) as writer:
        await writer.append([ev(1)])
        assert await store.wait(0, timeout=seconds(2)) == 1
        await asyncio.sleep(seconds(0.2))  # the listener is connected
        assert await terminate(pg_dsn) >= 2  # every connection: the pools' and the listener
        waiter = asyncio.create_task(store.wait(1, timeout=seconds(10)))
        await asyncio.sleep(seconds(0.1))
        await writer.append([ev(2)])  # the writer's pool reconnects by itself
        assert await asyncio.wait_for(waiter, seconds(5)) == 2
        # and the listener is back: a NOTIFY wakes the waiter well before the next poll
        await asyncio.sleep(seconds(1.5))
        loop = asyncio.get_running_loop()
        waiter = asyncio.create_task(store.wait(2, timeout=seconds(10)))
        await asyncio.sleep(seconds(0.05))
        started = loop.time()
        await writer.append([ev(3)])
        assert await asyncio.wait_for(waiter, seconds(5)) == 3
        assert loop.time() - started < 1.0
        assert [r.position for r in await store.read()] == [1, 2, 3]


async def test_wait_raises_while_the_database_is_down_and_recovers_after(pg_dsn):
    async with await open_store(pg_dsn) as store:
        await store.append([ev(1)])
        assert await store.wait(0, timeout=seconds(1)) == 1
        await allow_connections(pg_dsn, False)
        try:
            await terminate(pg_dsn)
            started = time.monotonic()
            with pytest.raises(StoreUnavailable, match="not currently accepting connections"):
                await store.wait(1, timeout=2)
            assert time.monotonic() - started < 6
            with pytest.raises(StoreUnavailable):
                await store.append([ev(2)])
        finally:
            await allow_connections(pg_dsn, True)
        # back: the same store object works again, nothing was half-written
        assert await store.head() == 1
        assert await store.append([ev(2)]) == [2]
        assert await store.append([ev(2)]) == [2]  # a client's retry stores nothing twice
        async with await open_store(pg_dsn) as other:
            waiter = asyncio.create_task(store.wait(2, timeout=seconds(10)))
            await asyncio.sleep(seconds(0.05))
            await other.append([ev(3)])
            assert await asyncio.wait_for(waiter, seconds(2)) == 3


async def test_hub_reports_the_outage_and_recovers(pg_dsn):
    """The live server's pump: /healthz's reason is set while the store cannot be reached."""
    from tracker.server.hub import Hub
    from tracker.service import Tracker

    tracker = Tracker(await open_store(pg_dsn))
    try:
        hub = Hub(tracker)
        await hub.start()
        try:
            await allow_connections(pg_dsn, False)
            try:
                await terminate(pg_dsn)
                deadline = time.monotonic() + seconds(10)
                while hub.problem is None and time.monotonic() < deadline:
                    await asyncio.sleep(0.1)
                assert hub.problem is not None and "PostgreSQL" in hub.problem
            finally:
                await allow_connections(pg_dsn, True)
            # back: the pump sleeps 1 s after a failure, then waits up to 1 s before it says so
            deadline = time.monotonic() + seconds(10)
            while hub.problem is not None and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            assert hub.problem is None
        finally:
            await hub.stop()
    finally:
        await tracker.close()


# -- import --------------------------------------------------------------------------------


async def test_import_keeps_positions_ids_and_recorded_at(pg_dsn, databases):
    async with await open_store(pg_dsn) as source:
        await source.append([ev(n) for n in range(1, 6)])
        await source.append([ev(n) for n in range(6, 9)])
        records = await source.read()
    target_dsn = await databases.create()
    async with await open_store(target_dsn) as target:
        assert await target.import_events(records) == 8
        assert await target.read() == records
        assert await target.append([ev(9)]) == [9]
        with pytest.raises(Exception) as caught:
            await target.import_events(records)
        from tracker.core.errors import ConflictError, InputError

        assert isinstance(caught.value, ConflictError)
    async with await open_store(await databases.create()) as empty:
        with pytest.raises(InputError):
            await empty.import_events(records[1:])  # not 1..N
        assert await empty.head() == 0


def test_poll_interval_is_at_most_a_second():
    assert PostgresStore.POLL_INTERVAL_S <= 1.0


async def test_text_postgresql_cannot_hold_fails_only_its_caller(pg_dsn):
    # A NUL character (never in canonical JSON, but the store must not fall over): that
    # caller gets an InputError, the callers grouped with it in one commit are stored.
    from tracker.core.errors import InputError

    async with await open_store(pg_dsn) as store:
        bad = NewEvent(str(uuid.uuid4()), "Thing", '{"n": "\x00"}')
        results = await asyncio.gather(store.append([ev(1)]), store.append([bad]), store.append([ev(2)]),
                                       return_exceptions=True)
        assert isinstance(results[1], InputError), results
        assert sorted(results[0] + results[2]) == [1, 2]
        assert await store.head() == 2
