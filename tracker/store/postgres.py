"""The scale-out store: one PostgreSQL database shared by every tracker process and node.

Ordering. Every append transaction first takes one transaction-scoped advisory lock
(`pg_advisory_xact_lock`), then reads the head and numbers its events head+1, head+2, ...
The lock is released only after the transaction's commit is visible, so appends commit
one after another in position order: whatever a reader sees is always a prefix 1..head
of the log, and no catch-up reader can pass a position that commits later. (A sequence
or bigserial cannot promise that: a value taken by one transaction can commit after a
larger one; Marten shipped that bug and fixed it in 9.16.1.) The cost: appends to one
database are serial, one transaction at a time across all nodes; docs/postgres.md. So the
locked section is one round trip in the common case: the function tracker_append (schema
version 5) takes the lock, reads the head, inserts, NOTIFYs and commits with the call, and
no client process has to be scheduled while the lock is held.

Group commit, as in the SQLite store: callers of one process queue their batches, one
writer task takes everything queued and commits it in one transaction. Every batch is
planned in Python, in order, as if it ran alone after the batches before it. First as if
the log were empty: tracker_append stores that plan after the head it finds, unless one of
the group's ids is stored already or an expected_position needs another head; then it
stores nothing, and the group is checked under the lock against the ids already stored
(one lookup; a retry, a conflict): an IdConflict or PositionConflict fails that caller
only, and only the accepted batches are inserted (one statement for the group).

`recorded_at` is the database's `clock_timestamp()` read after the lock is held, raised
to the previous row's if the clock stepped back: it never decreases as positions grow,
whichever node appended. `data` is `text`, not `jsonb`, so it comes back byte for byte.

Notifications: each append transaction NOTIFYs a channel (delivered at commit). One
listener connection per store wakes its waiters; `wait()` also polls the head every half
second, so a dropped listener or a restarted database loses nothing; the listener
reconnects by itself.

Errors: asyncpg's, the socket's and timeouts are translated here into StoreUnavailable
(with the URL's password masked); nothing of the driver crosses this module.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from ..core.errors import (
    ConflictError,
    InputError,
    LogNotEmpty,
    SchemaVersionError,
    StoreUnavailable,
    TokenExists,
    TrackerError,
)
from ..core.tokens import Token
from ..logs import Logger
from .base import EventStore, HistoryKey, NewEvent, SnapshotInfo, StoredEvent, check_import, history_bounds
from .group import GroupCommit, Request, answer, plan, plan_from_empty
from .url import mask_secrets, parse_store_url

log = Logger("tracker.store.postgres")

SCHEMA_VERSION = 5
# Advisory lock keys (per database): 'tracker' in ASCII, then +1 for the schema.
APPEND_LOCK = 0x747261636B6572
SCHEMA_LOCK = APPEND_LOCK + 1
CHANNEL = "tracker_events"
CONNECT_TIMEOUT_S = 5.0  # an unreachable server fails fast
COMMAND_TIMEOUT_S = 60.0  # a statement (an append waiting for the lock included)

# The history key: the start of an event's time, the top-level `occurred_from` if it has
# one, else its `occurred_on`; NULL (never in history) for an event with neither. COLLATE
# "C": ISO dates sort by their bytes, whatever the database's locale.
_HISTORY_KEY = ("history_key text COLLATE \"C\" GENERATED ALWAYS AS "
                "(COALESCE(data::jsonb ->> 'occurred_from', data::jsonb ->> 'occurred_on')) STORED")
_BY_HISTORY = "CREATE INDEX IF NOT EXISTS tracker_events_by_history ON tracker_events (history_key, position);"
_COLUMNS = "position, id, recorded_at, type, data, recorded_by"
# Version 4: who appended each event (NULL for the events stored before), and the principals.
# A token is never deleted nor changed, only revoked once: so a name is never reused, and
# count(*) + count(revoked_at) grows with every change (tokens_version).
_TOKENS = """
CREATE TABLE IF NOT EXISTS tracker_tokens (
    name        text PRIMARY KEY,
    role        text NOT NULL CHECK (role IN ('reader', 'writer', 'admin')),
    digest      text NOT NULL,           -- 'sha256:' + hex of the token; never the token
    created_at  timestamptz NOT NULL,
    revoked_at  timestamptz              -- NULL while the token is live
);
CREATE OR REPLACE FUNCTION tracker_tokens_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL AND NEW.name = OLD.name AND NEW.role = OLD.role
                AND NEW.digest = OLD.digest AND NEW.created_at = OLD.created_at THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'tracker tokens are only ever revoked, once (% refused)', TG_OP;
END $$;
DROP TRIGGER IF EXISTS tracker_tokens_only_revoke ON tracker_tokens;
CREATE TRIGGER tracker_tokens_only_revoke BEFORE UPDATE OR DELETE ON tracker_tokens
    FOR EACH ROW EXECUTE FUNCTION tracker_tokens_guard();
DROP TRIGGER IF EXISTS tracker_tokens_no_truncate ON tracker_tokens;
CREATE TRIGGER tracker_tokens_no_truncate BEFORE TRUNCATE ON tracker_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION tracker_tokens_guard();
"""
# A nullable column without a default is a change of the catalog only: no row is rewritten
# (so no UPDATE trigger fires), and every old event reads NULL.
_TO_4 = f"ALTER TABLE tracker_events ADD COLUMN recorded_by text; {_TOKENS}"
# Version 5: an append's locked section as one call, so the lock is held inside the server only,
# never across a round trip to a client waiting to be scheduled. Under the lock (each statement
# of a VOLATILE function takes a new snapshot: it sees every append committed before the lock
# was ours): the head and the stamp, then the insert at head+1.. and its NOTIFY, committed with
# the call. It inserts only what the caller planned against an empty log after a head `need`
# (any head if NULL): if the head is another or one of the ids is stored, it inserts nothing and
# returns NULL, and the caller checks under the lock in Python instead (_commit_checked).
_APPEND = f"""
CREATE OR REPLACE FUNCTION tracker_append(ids text[], types text[], datas text[], bys text[], need bigint)
        RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    last bigint;
    stamp timestamptz;
BEGIN
    PERFORM pg_advisory_xact_lock({APPEND_LOCK});
    SELECT position, GREATEST(clock_timestamp(), recorded_at) INTO last, stamp
        FROM tracker_events ORDER BY position DESC LIMIT 1;
    last := COALESCE(last, 0);
    IF last <> COALESCE(need, last) OR EXISTS (SELECT 1 FROM tracker_events WHERE id = ANY(ids)) THEN
        RETURN NULL;
    END IF;
    IF cardinality(ids) > 0 THEN
        INSERT INTO tracker_events ({_COLUMNS})
            SELECT last + n, i, COALESCE(stamp, clock_timestamp()), t, d, b
            FROM unnest(ids, types, datas, bys) WITH ORDINALITY AS u(i, t, d, b, n);
        PERFORM pg_notify('{CHANNEL}', (last + cardinality(ids))::text);
    END IF;
    RETURN last;
END $$;
"""
_TO_5 = f"{_APPEND} UPDATE tracker_schema SET version = 5;"
# From version N: (the version it reaches, the statements), run under the schema lock.
# Version 2 added the column occurred_on and tracker_events_by_date; version 3 replaced them
# with history_key and its index; version 4 added recorded_by and tracker_tokens; version 5
# the function tracker_append. Each migration goes straight to the current version, so the
# table is rewritten once at most (adding a stored column rewrites it; the column dropped in
# the same ALTER TABLE gives its space back in that rewrite, and its index goes with it).
MIGRATIONS = {
    1: (5, f"ALTER TABLE tracker_events ADD COLUMN {_HISTORY_KEY}; {_BY_HISTORY} {_TO_4} {_TO_5}"),
    2: (5, f"ALTER TABLE tracker_events DROP COLUMN occurred_on, ADD COLUMN {_HISTORY_KEY}; {_BY_HISTORY} "
           f"{_TO_4} {_TO_5}"),
    3: (5, f"{_TO_4} {_TO_5}"),
    4: (5, _TO_5),
}
# Snapshots are a cache beside the log, not part of it (nor of its schema version): the table is
# made on open if missing (under the schema lock), an older tracker ignores it, and emptying it
# changes no answer.
_SNAPSHOTS = """
CREATE TABLE IF NOT EXISTS tracker_snapshots (
    version     text NOT NULL,         -- the snapshot code's version (tracker/core/snapshot.py)
    cut         text COLLATE "C" NOT NULL,  -- the date it is the state at; compared byte by byte
    head        bigint NOT NULL,       -- the log position it is valid up to
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    data        bytea NOT NULL,
    PRIMARY KEY (version, cut)
);
"""
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS tracker_schema (
    version     integer NOT NULL
);
CREATE TABLE IF NOT EXISTS tracker_events (
    position    bigint PRIMARY KEY,      -- head + 1 under the append lock: gapless, commits in order
    id          text NOT NULL UNIQUE,    -- text, not uuid: returned exactly as given
    recorded_at timestamptz NOT NULL,    -- the database clock, never decreasing
    type        text NOT NULL,
    data        text NOT NULL,           -- text, not jsonb: byte-identical round trip
    {_HISTORY_KEY},
    recorded_by text                     -- who appended it; NULL for events stored before version 4
);
CREATE INDEX IF NOT EXISTS tracker_events_by_type ON tracker_events (type, position);
{_BY_HISTORY}
CREATE OR REPLACE FUNCTION tracker_events_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'tracker events are immutable (% refused)', TG_OP;
END $$;
DROP TRIGGER IF EXISTS tracker_events_no_change ON tracker_events;
CREATE TRIGGER tracker_events_no_change BEFORE UPDATE OR DELETE ON tracker_events
    FOR EACH ROW EXECUTE FUNCTION tracker_events_immutable();
DROP TRIGGER IF EXISTS tracker_events_no_truncate ON tracker_events;
CREATE TRIGGER tracker_events_no_truncate BEFORE TRUNCATE ON tracker_events
    FOR EACH STATEMENT EXECUTE FUNCTION tracker_events_immutable();
{_TOKENS}
{_APPEND}
INSERT INTO tracker_schema (version) SELECT {SCHEMA_VERSION} WHERE NOT EXISTS (SELECT 1 FROM tracker_schema);
"""

_LOOKUP = f"SELECT {_COLUMNS} FROM tracker_events WHERE id = ANY($1::text[])"
_INSERT = (f"INSERT INTO tracker_events ({_COLUMNS}) "
           "SELECT p, i, $5::timestamptz, t, d, b "
           "FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $6::text[]) AS u(p, i, t, d, b)")
_HEAD = "SELECT COALESCE(MAX(position), 0) FROM tracker_events"
# An append's reads under the lock in one round trip: on every row the last position and
# the group's recorded_at (now, never before the last event's), beside each of the group's
# ids already stored (none: one row, of NULLs there).
_LAST_AND_STORED = ("SELECT l.position, GREATEST(clock_timestamp(), l.recorded_at), e.position, e.id, e.data "
                    "FROM (SELECT 1) AS one "
                    "LEFT JOIN (SELECT position, recorded_at FROM tracker_events ORDER BY position DESC LIMIT 1) "
                    "AS l ON true LEFT JOIN tracker_events AS e ON e.id = ANY($1::text[])")
# The insert and its NOTIFY (delivered at commit) in one statement, one round trip.
_INSERT_AND_NOTIFY = f"WITH inserted AS ({_INSERT}) SELECT pg_notify('{CHANNEL}', $7::text)"
_APPEND_CALL = "SELECT tracker_append($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint)"
_TOKEN_COLUMNS = "name, role, digest, created_at, revoked_at"
_TOKENS_VERSION = "SELECT count(*) + count(revoked_at) FROM tracker_tokens"
# An index scan of tracker_events_by_history from the bound, in index order: no sort.
_HISTORY = (f"SELECT {_COLUMNS}, history_key FROM tracker_events WHERE (history_key, position) > ($1, $2) "
            "AND position <= $3 ORDER BY history_key, position LIMIT $4")

# The connection went away under a statement (a terminated backend, a restarted server,
# a reset socket): a fresh connection from the pool may well succeed.
# (InternalClientError: asyncpg's protocol state confused by a connection lost mid-statement.)
_LOST = (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, asyncpg.InternalClientError,
         asyncpg.exceptions.AdminShutdownError, asyncpg.exceptions.CrashShutdownError,
         asyncpg.exceptions.CannotConnectNowError, ConnectionError)
# Everything the driver or the socket may raise, translated at this boundary.
_DRIVER = (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError, OSError, TimeoutError)
ATTEMPTS = 3  # a statement whose connection was lost runs again on another, up to this many times in all




class PostgresStore(GroupCommit, EventStore):
    POLL_INTERVAL_S = 0.5  # wait() reads the head at least this often, listener or not
    LISTENER_PING_S = 5.0  # how often the listener connection proves it is alive
    RECONNECT_S = 0.5  # how soon a dropped listener is reconnected

    def __init__(self, dsn: str, shown: str, pool: asyncpg.Pool) -> None:
        self.dsn = dsn  # with the password: only for connecting
        self.url = shown  # with the password masked: for messages
        self._pool = pool
        self._queue: list[Request] = []
        self._task: asyncio.Task[None] | None = None
        self._woken = asyncio.Event()
        self._listener: asyncio.Task[None] | None = None
        self._closed = False
        self.reconnects = 0  # connections lost and made again (the pool's and the listener's): /metrics

    @classmethod
    async def open(cls, dsn: str) -> PostgresStore:
        shown = parse_store_url(dsn).text
        try:
            pool = await asyncpg.create_pool(
                dsn, min_size=1, max_size=8, timeout=CONNECT_TIMEOUT_S, command_timeout=COMMAND_TIMEOUT_S,
                max_inactive_connection_lifetime=60.0, reset=_no_reset)
        except TrackerError:
            raise
        except (*_DRIVER, ValueError) as e:
            raise _unavailable(e, shown, "cannot open") from None
        store = cls(dsn, shown, pool)
        try:
            await store._migrate()
        except BaseException:
            await store._close_pool()
            raise
        return store

    async def _migrate(self) -> None:
        """Create the schema on first use; several nodes starting at once on an empty
        database queue on an advisory lock, and all but the first find it made."""
        async def run(conn: asyncpg.Connection) -> None:
            version = await _schema_version(conn)
            if version == SCHEMA_VERSION and await conn.fetchval("SELECT to_regclass('tracker_snapshots')"):
                return
            async with conn.transaction():
                await conn.execute(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK})")
                version = await _schema_version(conn)
                if version is None:
                    await conn.execute(SCHEMA)
                    version = SCHEMA_VERSION
                while version in MIGRATIONS and version < SCHEMA_VERSION:
                    version, statements = MIGRATIONS[version]
                    await conn.execute(statements)
                if version <= SCHEMA_VERSION:
                    await conn.execute(_SNAPSHOTS)
            if version > SCHEMA_VERSION:
                raise SchemaVersionError(
                    f"the PostgreSQL store {self.url} has schema version {version}, newer than this "
                    f"tracker understands ({SCHEMA_VERSION}): upgrade tracker")
            if version < SCHEMA_VERSION:  # older than any migration knows
                raise SchemaVersionError(f"the PostgreSQL store {self.url} has unknown schema version {version}")
        await self._with_connection(run, "cannot open")

    # -- connections and errors -------------------------------------------------------------

    async def _with_connection(self, work, doing: str = "failed", retry: bool = True):
        """Run `work(conn)` on a pooled connection, again on a fresh one if the connection
        was lost under it (a restarted server leaves the pool's idle ones dead: they are
        all replaced then); translate whatever the driver raises."""
        for attempt in range(1, ATTEMPTS + 1):
            last = attempt == ATTEMPTS or not retry or self._closed
            try:
                conn = await self._pool.acquire(timeout=COMMAND_TIMEOUT_S)
            except _LOST as e:
                if last:
                    raise _unavailable(e, self.url, doing) from None
                await asyncio.sleep(0.05 * attempt)
                continue
            except _DRIVER as e:
                raise _unavailable(e, self.url, doing) from None
            try:
                result = await work(conn)
            except TrackerError:
                await self._release(conn)
                raise
            except _LOST as e:
                _terminate(conn)  # never back into the pool
                await self._pool.expire_connections()  # and its siblings are likely dead too
                await self._release(conn)
                if last:
                    raise _unavailable(e, self.url, doing) from None
                self.reconnects += 1
                log.info("PostgreSQL connection lost; trying a new one", error=mask_secrets(str(e)))
                continue
            except _DRIVER as e:
                await self._release(conn)
                raise _unavailable(e, self.url, doing) from None
            except BaseException:
                await self._release(conn)
                raise
            await self._release(conn)  # a connection lost only now: the work is done all the same
            return result
        raise AssertionError("unreachable")

    async def _release(self, conn: PoolConnectionProxy) -> None:
        try:
            await self._pool.release(conn)
        except Exception:  # its reset failed: the pool has dropped it and will connect anew
            pass

    def _check_open(self) -> None:
        if self._closed:
            raise StoreUnavailable(f"the store {self.url} is closed")

    # -- appending: callers queue, one writer task commits them in groups ---------------------

    async def append(self, events: Sequence[NewEvent], expected_position: int | None = None,
                     recorded_by: str | None = None) -> list[int]:
        self._check_open()
        return await self.queued(events, expected_position, f"tracker-postgres-writer {self.url}", recorded_by)

    async def _write_loop(self) -> None:
        while self._queue:
            group = self.take()
            await self._commit(group)

    async def _commit(self, group: list[Request]) -> None:
        try:
            # Safe to run twice: a retry after a commit that did land finds every id stored
            # with the same data and answers with the original positions.
            await self._with_connection(lambda conn: self._commit_group(conn, group), "append failed")
        except (InputError, StoreUnavailable) as e:
            if len(group) > 1 and isinstance(e, InputError):  # one caller's bad data: the others go alone
                for request in group:
                    request.outcome = None
                    await self._commit([request])
                return
            for request in group:
                request.outcome = e
            answer(group)
            return
        except BaseException as e:  # cancelled, or a bug: nobody in the group is acknowledged
            for request in group:
                request.outcome = e if isinstance(e, Exception) else StoreUnavailable(f"the store {self.url} closed")
            answer(group)
            raise
        answer(group)
        if any(request.new for request in group):
            self._wake()

    async def _commit_group(self, conn: asyncpg.Connection, group: list[Request]) -> None:
        """Commit the group, each request checked as if it ran alone after those before it.
        Answers are set, not sent."""
        try:
            if not await self._commit_planned(conn, group):
                await self._commit_checked(conn, group)
        except BaseException as e:
            for request in group:
                request.outcome, request.new = None, None
            if not isinstance(e, _LOST) and not conn.is_closed() and conn.is_in_transaction():
                try:
                    await conn.execute("ROLLBACK")
                except Exception:
                    _terminate(conn)
            if isinstance(e, asyncpg.DataError):  # text PostgreSQL cannot hold (a NUL character)
                raise InputError(mask_secrets(f"the PostgreSQL store {self.url} refused the data: {e}")) from None
            raise

    async def _commit_planned(self, conn: asyncpg.Connection, group: list[Request]) -> bool:
        """The common case in one round trip, the lock held only inside the server: the group
        planned after an empty log, then offset by the head tracker_append finds under the
        lock. False, nothing stored, when that plan may not hold (an id of the group stored,
        or another head than an expected_position needs)."""
        planned = plan_from_empty(group)
        if planned is None:
            return False
        plans, need = planned
        rows = [(event, request.recorded_by)
                for request, (_, new) in zip(group, plans, strict=True) for _, event in new]
        last = await conn.fetchval(_APPEND_CALL, [e.id for e, _ in rows], [e.type for e, _ in rows],
                                   [e.data for e, _ in rows], [by for _, by in rows], need)
        if last is None:
            return False
        for request, (positions, new) in zip(group, plans, strict=True):
            request.outcome = [last + p for p in positions]
            request.new = [(last + p, event) for p, event in new]
        return True

    async def _commit_checked(self, conn: asyncpg.Connection, group: list[Request]) -> None:
        """One transaction under the append lock: check every request in order against the
        ids stored, insert the accepted ones in one statement, NOTIFY, commit."""
        await conn.execute(f"BEGIN; SELECT pg_advisory_xact_lock({APPEND_LOCK})")
        # A statement after the lock: its snapshot sees every earlier append committed.
        ids = list({e.id for request in group for e in request.events})
        found = await conn.fetch(_LAST_AND_STORED, ids)
        last, stamp = found[0][0], found[0][1]  # always a row: (SELECT 1) left-joined
        head = last or 0
        stored = {r[3]: (r[2], r[4]) for r in found if r[3] is not None}
        rows: list[tuple[int, NewEvent]] = []
        by: list[str | None] = []
        for request in group:
            try:
                positions, new = plan(request, head, stored)
            except ConflictError as e:
                request.outcome, request.new = e, None
                continue
            for position, event in new:
                stored[event.id] = (position, event.data)
            head += len(new)
            rows += new
            by += [request.recorded_by] * len(new)
            request.outcome, request.new = positions, new
        if rows:
            await conn.execute(_INSERT_AND_NOTIFY, [p for p, _ in rows], [e.id for _, e in rows],
                               [e.type for _, e in rows], [e.data for _, e in rows], stamp, by, str(head))
        await conn.execute("COMMIT")

    # -- importing a log ---------------------------------------------------------------------

    async def import_events(self, events: Sequence[StoredEvent]) -> int:
        """Load stored records into an empty log, keeping position, id and recorded_at."""
        self._check_open()
        events = list(events)
        check_import(events)

        async def run(conn: asyncpg.Connection) -> int:
            try:
                async with conn.transaction():  # all or nothing
                    await conn.execute(f"SELECT pg_advisory_xact_lock({APPEND_LOCK})")
                    head = await conn.fetchval(_HEAD)
                    if head:
                        raise LogNotEmpty(head, self.url)
                    if events:
                        await conn.copy_records_to_table(
                            "tracker_events", columns=["position", "id", "recorded_at", "type", "data", "recorded_by"],
                            records=[(e.position, e.id, e.recorded_at, e.type, e.data, e.recorded_by)
                                     for e in events])
                        await conn.execute(f"SELECT pg_notify('{CHANNEL}', '{len(events)}')")
            except asyncpg.DataError as e:  # text PostgreSQL cannot hold (a NUL character)
                raise InputError(f"the PostgreSQL store {self.url} refused the records: {e}") from None
            return len(events)

        # Not retried: a lost connection may have committed, and a second try would find
        # the log no longer empty.
        count = await self._with_connection(run, "import failed", retry=False)
        if count:
            self._wake()
        return count

    # -- reading ------------------------------------------------------------------------------

    async def read(self, after: int = 0, limit: int | None = None,
                   types: Iterable[str] | None = None) -> list[StoredEvent]:
        self._check_open()
        if limit is not None and limit <= 0:
            return []
        if types is not None:
            types = list(types)
            if not types:
                return []
            sql = (f"SELECT {_COLUMNS} FROM tracker_events WHERE position > $1 AND type = ANY($3::text[]) "
                   "ORDER BY position LIMIT $2")
            args: tuple = (after, limit, types)
        else:
            sql = f"SELECT {_COLUMNS} FROM tracker_events WHERE position > $1 ORDER BY position LIMIT $2"
            args = (after, limit)
        rows = await self._with_connection(lambda conn: conn.fetch(sql, *args), "read failed")
        return [StoredEvent(*row) for row in rows]

    async def read_history(self, after: HistoryKey | None = None, limit: int = 10_000,
                           upto: int | None = None) -> tuple[list[StoredEvent], HistoryKey | None]:
        self._check_open()
        if limit <= 0:
            return [], None
        args = (*history_bounds(after, upto), limit)
        rows = await self._with_connection(lambda conn: conn.fetch(_HISTORY, *args), "read failed")
        return ([StoredEvent(*row[:6]) for row in rows],
                (rows[-1][6], rows[-1][0]) if len(rows) == limit else None)

    async def head(self) -> int:
        self._check_open()
        return await self._with_connection(lambda conn: conn.fetchval(_HEAD), "read failed")

    async def lookup(self, ids: Iterable[str]) -> dict[str, StoredEvent]:
        self._check_open()
        ids = list(dict.fromkeys(ids))
        if not ids:
            return {}
        rows = await self._with_connection(lambda conn: conn.fetch(_LOOKUP, ids), "read failed")
        return {row["id"]: StoredEvent(*row) for row in rows}

    # -- principals ---------------------------------------------------------------------------

    async def add_token(self, name: str, role: str, digest: str) -> Token:
        self._check_open()

        async def run(conn: asyncpg.Connection) -> Token:
            row = await conn.fetchrow(
                f"INSERT INTO tracker_tokens ({_TOKEN_COLUMNS}) VALUES ($1, $2, $3, clock_timestamp(), NULL) "
                f"ON CONFLICT (name) DO NOTHING RETURNING {_TOKEN_COLUMNS}", name, role, digest)
            if row is None:
                revoked = await conn.fetchval("SELECT revoked_at FROM tracker_tokens WHERE name = $1", name)
                raise TokenExists(name, revoked is not None)
            return Token(*row)

        # Not retried: a lost connection may have committed, and a second try would say the name exists.
        return await self._with_connection(run, "adding a token failed", retry=False)

    async def tokens(self) -> list[Token]:
        self._check_open()
        sql = f'SELECT {_TOKEN_COLUMNS} FROM tracker_tokens ORDER BY name COLLATE "C"'
        rows = await self._with_connection(lambda conn: conn.fetch(sql), "read failed")
        return [Token(*row) for row in rows]

    async def revoke_token(self, name: str) -> Token:
        self._check_open()

        async def run(conn: asyncpg.Connection) -> Token:
            async with conn.transaction():
                await conn.execute("UPDATE tracker_tokens SET revoked_at = clock_timestamp() "
                                   "WHERE name = $1 AND revoked_at IS NULL", name)
                row = await conn.fetchrow(f"SELECT {_TOKEN_COLUMNS} FROM tracker_tokens WHERE name = $1", name)
            if row is None:
                raise InputError(f"no token named '{name}' (tracker tokens list shows them)")
            return Token(*row)

        return await self._with_connection(run, "revoking a token failed")  # idempotent: safe to retry

    async def tokens_version(self) -> int:
        self._check_open()
        return int(await self._with_connection(lambda conn: conn.fetchval(_TOKENS_VERSION), "read failed"))

    # -- snapshots -----------------------------------------------------------------------------

    async def put_snapshot(self, version: str, cut: str, head: int, data: bytes) -> None:
        self._check_open()

        async def run(conn: asyncpg.Connection) -> None:
            async with conn.transaction():
                await conn.execute("DELETE FROM tracker_snapshots WHERE version <> $1", version)
                await conn.execute("INSERT INTO tracker_snapshots (version, cut, head, data) VALUES ($1, $2, $3, $4) "
                                   "ON CONFLICT (version, cut) DO UPDATE SET head = EXCLUDED.head, "
                                   "data = EXCLUDED.data, created_at = clock_timestamp()", version, cut, head, data)

        await self._with_connection(run, "keeping a snapshot failed")  # idempotent: safe to retry

    async def snapshots(self, version: str) -> list[SnapshotInfo]:
        self._check_open()
        rows = await self._with_connection(lambda conn: conn.fetch(
            "SELECT cut, head, octet_length(data) FROM tracker_snapshots WHERE version = $1 ORDER BY cut",
            version), "read failed")
        return [SnapshotInfo(*row) for row in rows]

    async def get_snapshot(self, version: str, cut: str) -> tuple[int, bytes] | None:
        self._check_open()
        row = await self._with_connection(lambda conn: conn.fetchrow(
            "SELECT head, data FROM tracker_snapshots WHERE version = $1 AND cut = $2", version, cut), "read failed")
        return (row[0], bytes(row[1])) if row is not None else None

    async def renew_snapshot(self, version: str, cut: str, head: int) -> None:
        self._check_open()
        await self._with_connection(lambda conn: conn.execute(
            "UPDATE tracker_snapshots SET head = GREATEST(head, $1) WHERE version = $2 AND cut = $3",
            head, version, cut), "renewing a snapshot failed")

    async def drop_snapshots(self, from_cut: str = "", to_cut: str | None = None) -> int:
        self._check_open()
        status = await self._with_connection(lambda conn: conn.execute(
            "DELETE FROM tracker_snapshots WHERE cut >= $1 AND ($2::text IS NULL OR cut <= $2)", from_cut, to_cut),
            "dropping snapshots failed")
        return int(status.split()[-1])

    # -- waiting: LISTEN, with polling as the fallback -----------------------------------------

    async def wait(self, after: int, timeout: float) -> int:
        self._check_open()
        if self._listener is None or self._listener.done():
            self._listener = asyncio.get_running_loop().create_task(
                self._listen(), name=f"tracker-postgres-listener {self.url}")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            woken = self._woken  # taken before reading the head: a NOTIFY after the read wakes us
            head = await self.head()
            remaining = deadline - loop.time()
            if head > after or remaining <= 0:
                return head
            try:
                await asyncio.wait_for(woken.wait(), min(remaining, self.POLL_INTERVAL_S))
            except TimeoutError:
                pass

    def _wake(self) -> None:
        self._woken.set()
        self._woken = asyncio.Event()

    async def _listen(self) -> None:
        """Keep one LISTEN connection open for as long as the store is; reconnect when it drops."""
        while not self._closed:
            conn = None
            try:
                conn = await asyncpg.connect(self.dsn, timeout=CONNECT_TIMEOUT_S)
                dropped = asyncio.Event()
                conn.add_termination_listener(lambda _conn, dropped=dropped: dropped.set())
                await conn.add_listener(CHANNEL, lambda *_: self._wake())
                self._wake()  # whatever was appended while not listening: waiters look again
                while not self._closed and not conn.is_closed():
                    try:
                        await asyncio.wait_for(dropped.wait(), self.LISTENER_PING_S)
                    except TimeoutError:
                        await conn.execute("SELECT 1", timeout=CONNECT_TIMEOUT_S)  # alive?
            except asyncio.CancelledError:
                raise
            except Exception as e:  # down: wait() keeps polling (and says so) until it is back
                log.info("PostgreSQL listener down; reconnecting", store=self.url, error=mask_secrets(str(e)))
            else:
                if not self._closed:  # the server closed it (a restart, pg_terminate_backend)
                    log.info("PostgreSQL listener connection closed; reconnecting", store=self.url)
            finally:
                if conn is not None and not conn.is_closed():
                    conn.terminate()
            if not self._closed:
                self.reconnects += 1
                await asyncio.sleep(self.RECONNECT_S)

    # -- closing ------------------------------------------------------------------------------

    async def close(self) -> None:
        if self._closed:
            return
        if self._task is not None:
            try:
                await asyncio.shield(self._task)  # what was queued before the close is committed and answered
            except Exception:
                pass
        self._closed = True
        if self._listener is not None:
            self._listener.cancel()
            try:
                await self._listener
            except BaseException:
                pass
        await self._close_pool()

    async def _close_pool(self) -> None:
        self._closed = True
        try:
            await asyncio.wait_for(self._pool.close(), 5)
        except Exception:
            self._pool.terminate()


def _terminate(conn: asyncpg.Connection | PoolConnectionProxy) -> None:
    try:
        conn.terminate()
    except Exception:  # released already, or closed
        pass


async def _no_reset(conn: asyncpg.Connection) -> None:
    """Connections go back to the pool as they are: this store leaves no session state
    (its locks are transaction-scoped, it LISTENs on a connection of its own), and the
    default reset would cost a round trip per statement."""


async def _schema_version(conn: asyncpg.Connection) -> int | None:
    if await conn.fetchval("SELECT to_regclass('tracker_schema')") is None:
        return None
    return await conn.fetchval("SELECT max(version) FROM tracker_schema")


def _unavailable(error: BaseException, url: str, doing: str) -> StoreUnavailable:
    """A clear message for what the driver raised; never the password."""
    if isinstance(error, ConnectionRefusedError) or (
            isinstance(error, OSError) and "Connect call failed" in str(error)):
        reason = "connection refused: is the PostgreSQL server running and listening there?"
    elif isinstance(error, TimeoutError):
        reason = f"no answer within {CONNECT_TIMEOUT_S:.0f} s (unreachable, or overloaded)"
    elif isinstance(error, OSError):
        reason = error.strerror or str(error) or type(error).__name__
    else:
        reason = str(error).strip() or type(error).__name__
    return StoreUnavailable(mask_secrets(f"the PostgreSQL store {url}: {doing}: {reason}"))
