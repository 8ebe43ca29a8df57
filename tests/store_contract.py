"""The contract every event store backend must pass.

`StoreContract` has no `Test` prefix, so pytest collects it only through a subclass that
says how to make a fresh, empty store (`make_store`) and, for the cross-connection tests,
a second store object on the same log (`open_again`). The PostgreSQL backend will run
these same tests unchanged.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime

import pytest

from tests.conftest import seconds
from tracker.core.errors import (
    ConflictError,
    IdConflict,
    InputError,
    LogNotEmpty,
    PositionConflict,
    StoreUnavailable,
    TokenExists,
)
from tracker.core.tokens import hash_token, new_token, verify
from tracker.store import EventStore, NewEvent, StoredEvent


def ev(n: int | str, kind: str = "Thing", data: dict | None = None) -> NewEvent:
    ident = str(uuid.uuid5(uuid.NAMESPACE_OID, f"contract-{n}"))
    return NewEvent(ident, kind, json.dumps(data if data is not None else {"n": n}))


class StoreContract:
    async def make_store(self) -> EventStore:
        raise NotImplementedError

    async def open_again(self, store: EventStore) -> EventStore:
        raise NotImplementedError

    @pytest.fixture
    async def store(self):
        store = await self.make_store()
        yield store
        await store.close()

    # -- appending and reading -------------------------------------------------------------

    async def test_empty_log(self, store):
        assert await store.head() == 0
        assert await store.read() == []
        assert await store.lookup([ev(1).id]) == {}

    async def test_positions_are_gapless_and_global(self, store):
        assert await store.append([ev(1), ev(2)]) == [1, 2]
        assert await store.append([ev(3)]) == [3]
        assert await store.append([ev(4), ev(5), ev(6)]) == [4, 5, 6]
        rows = await store.read()
        assert [r.position for r in rows] == [1, 2, 3, 4, 5, 6]
        assert [r.id for r in rows] == [ev(i).id for i in range(1, 7)]
        assert await store.head() == 6

    async def test_stored_fields_round_trip(self, store):
        event = ev(1, "CityCaptured", {"place": "mosul", "text": "ünïcødé ✓"})
        await store.append([event])
        (row,) = await store.read()
        assert (row.id, row.type, row.data) == (event.id, event.type, event.data)
        assert row.recorded_at.tzinfo is not None and row.recorded_at.utcoffset() == UTC.utcoffset(None)

    async def test_texts_by_position_are_the_stored_texts_where_the_store_reads_them_inline(self, store):
        """A backend may offer a blocking read of texts by position (a server then keeps no
        fact's text); where it does, it answers what `read` answers, and nothing for a position
        it does not hold, across chunks of the statement."""
        reader = store.texts_reader()
        if reader is None:
            return  # a network store: every read is a round trip, the server keeps the texts
        events = [ev(n) for n in range(1, 2_001)]
        await store.append(events)
        stored = {r.position: r.data for r in await store.read()}
        asked = [2_000, 1, 7, 999, 1_000, 1_801, 4_000]
        assert reader(asked) == {p: stored[p] for p in asked if p in stored}
        assert reader(list(range(1, 2_001))) == stored
        assert reader([]) == {}

    async def test_recorded_at_never_decreases(self, store):
        for n in range(20):
            await store.append([ev(n)])
        stamps = [r.recorded_at for r in await store.read()]
        assert stamps == sorted(stamps)

    async def test_read_after_limit_and_types(self, store):
        await store.append([ev(n, "A" if n % 2 else "B") for n in range(1, 11)])
        assert [r.position for r in await store.read(after=7)] == [8, 9, 10]
        assert [r.position for r in await store.read(after=2, limit=3)] == [3, 4, 5]
        assert [r.position for r in await store.read(types=["B"])] == [2, 4, 6, 8, 10]
        assert [r.position for r in await store.read(after=4, limit=2, types=["A"])] == [5, 7]
        assert await store.read(types=[]) == []
        assert await store.read(after=10) == []

    async def test_iterate_pages_to_the_head(self, store):
        await store.append([ev(n) for n in range(25)])
        pages = [page async for page in store.iterate(after=3, page=10)]
        assert [len(p) for p in pages] == [10, 10, 2]
        assert [r.position for p in pages for r in p] == list(range(4, 26))

    async def test_read_history_orders_by_occurred_on_then_position(self, store):
        days = ["2014-06-10", "2014-06-01", None, "2014-06-10", "2014-05-31", "2014-06-01", None, "2013-12-31"]
        await store.append([ev(n, data={"n": n, **({"occurred_on": d} if d else {})}) for n, d in enumerate(days)])
        rows, after = await store.read_history()
        assert after is None  # fewer than the limit: nothing more
        assert [r.position for r in rows] == [8, 5, 2, 6, 1, 4]  # undated events (3, 7) are not history
        assert [json.loads(r.data)["occurred_on"] for r in rows] == sorted(d for d in days if d)
        assert rows[0].id == ev(7).id and rows[0].type == "Thing" and rows[0].recorded_at.tzinfo is not None

    async def test_history_skips_nothing_for_escapes_and_nested_dates(self, store):
        # a literal backslash-u0000 in a text, and an `occurred_on` key that is not top-level
        await store.append([ev(1, data={"notes": "C:\\u0000dir", "occurred_on": "2014-02-01"}),
                            ev(2, data={"equipment": {"occurred_on": 3}, "occurred_on": "2014-01-01"}),
                            ev(3, data={"sources": [{"occurred_on": "2014-03-01"}]})])
        rows, _ = await store.read_history()
        assert [r.position for r in rows] == [2, 1]
        assert json.loads(rows[1].data)["notes"] == "C:\\u0000dir"

    async def test_read_history_pages_resume_and_stop_at_upto(self, store):
        await store.append([ev(n, data={"n": n, "occurred_on": f"2014-01-{30 - n:02d}"}) for n in range(25)])
        pages, after = [], None
        while True:
            rows, after = await store.read_history(after, 10, upto=20)
            pages.append([r.position for r in rows])
            if after is None:
                break
        assert pages == [list(range(20, 10, -1)), list(range(10, 0, -1)), []]
        assert await store.read_history(limit=0) == ([], None)
        assert [[r.position for r in p] async for p in store.iterate_history(page=7, upto=3)] == [[3, 2, 1]]
        assert sum([len(p) async for p in store.iterate_history(page=7)]) == 25

    async def test_read_history_orders_windows_by_their_start_among_dated_events(self, store):
        def window(start, end):
            return {"occurred_from": start, "occurred_to": end}

        facts = [
            {"occurred_on": "2014-06-10"},                       # 1
            window("2014-06-01", "2014-06-30"),                  # 2: a month, by its first day
            {"type": "PlaceRegistered", "name": "Mosul"},        # 3: no time: not history
            window("2014-06-09", "2014-06-15"),                  # 4: a week
            {"occurred_on": "2014-06-01", "precision": "month"},  # 5: the same start as 2
            {"retracts": "x", "sources": [window("2013-01-01", "2013-01-02")]},  # 6: nested: not history
            window("2013-12-31", "2014-01-01"),                  # 7: the earliest start
            {"occurred_on": "2014-06-09"},                       # 8: the same day as 4's start
            {"occurred_to": "2014-01-01"},                       # 9: an end alone is no key
        ]
        await store.append([ev(n, data={"n": n, **f}) for n, f in enumerate(facts, 1)])
        rows, after = await store.read_history()
        assert after is None
        assert [r.position for r in rows] == [7, 2, 5, 4, 8, 1]
        assert [r.data for r in rows] == [ev(p, data={"n": p, **facts[p - 1]}).data for p in (7, 2, 5, 4, 8, 1)]
        assert [[r.position for r in page] async for page in store.iterate_history(page=4)] == [[7, 2, 5, 4], [8, 1]]

    async def test_history_key_is_occurred_from_when_present_else_occurred_on(self, store):
        await store.append([ev(1, data={"occurred_from": "2014-03-01", "occurred_on": "2014-01-01"}),
                            ev(2, data={"occurred_on": "2014-02-01"}),
                            ev(3, data={"occurred_from": None, "occurred_on": "2014-01-15"}),  # null: absent
                            ev(4, data={"occurred_from": None})])
        rows, _ = await store.read_history()
        assert [r.position for r in rows] == [3, 2, 1]

    async def test_read_history_pages_across_equal_keys(self, store):
        # 13 events on one start, windows and single dates interleaved, between two others:
        # pages of 4 resume inside the run of equal keys, by position, skipping and repeating nothing
        same = [{"occurred_from": "2014-06-01", "occurred_to": "2014-06-30"} if n % 2 else {"occurred_on": "2014-06-01"}
                for n in range(13)]
        await store.append([ev("late", data={"occurred_from": "2014-07-01", "occurred_to": "2014-07-02"}),
                            *[ev(f"same{n}", data={"n": n, **f}) for n, f in enumerate(same)],
                            ev("none", data={"n": "none"}),
                            ev("early", data={"occurred_on": "2014-05-31"})])
        pages, after, keys = [], None, []
        while True:
            rows, after = await store.read_history(after, 4)
            pages.append([r.position for r in rows])
            if after is None:
                break
            keys.append(after)
        assert pages == [[16, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 1]]
        assert keys == [("2014-06-01", 4), ("2014-06-01", 8), ("2014-06-01", 12)]
        rows, after = await store.read_history(("2014-06-01", 3), 100, upto=14)
        assert [r.position for r in rows] == [*range(4, 15), 1] and after is None

    async def test_lookup_by_id(self, store):
        await store.append([ev(1), ev(2), ev(3)])
        found = await store.lookup([ev(3).id, ev(1).id, ev(99).id])
        assert {i: r.position for i, r in found.items()} == {ev(1).id: 1, ev(3).id: 3}

    async def test_lookup_many_ids(self, store):
        await store.append([ev(n) for n in range(1200)])
        found = await store.lookup([ev(n).id for n in range(0, 1200, 2)])
        assert len(found) == 600

    # -- idempotency and conflicts ---------------------------------------------------------

    async def test_same_id_same_content_returns_original_position(self, store):
        await store.append([ev(1), ev(2)])
        assert await store.append([ev(2)]) == [2]
        assert await store.append([ev(1), ev(3), ev(2)]) == [1, 3, 2]
        assert await store.head() == 3

    async def test_same_id_other_content_is_a_conflict_and_stores_nothing(self, store):
        await store.append([ev(1)])
        with pytest.raises(IdConflict) as caught:
            await store.append([ev(2), NewEvent(ev(1).id, "Thing", '{"n": "changed"}')])
        assert caught.value.details["position"] == 1
        assert ev(1).id in str(caught.value)
        assert await store.head() == 1
        assert await store.lookup([ev(2).id]) == {}

    async def test_duplicate_within_a_batch(self, store):
        assert await store.append([ev(1), ev(1)]) == [1, 1]
        with pytest.raises(IdConflict):
            await store.append([ev(2), NewEvent(ev(2).id, "Thing", "{}")])
        assert await store.head() == 1

    async def test_expected_position(self, store):
        await store.append([ev(1)], expected_position=0)
        await store.append([ev(2)], expected_position=1)
        with pytest.raises(PositionConflict) as caught:
            await store.append([ev(3)], expected_position=1)
        assert caught.value.details == {"expected_position": 1, "head": 2}
        assert await store.head() == 2

    async def test_retry_of_a_stored_batch_is_not_a_position_conflict(self, store):
        await store.append([ev(1), ev(2)], expected_position=0)
        await store.append([ev(3)])
        assert await store.append([ev(1), ev(2)], expected_position=0) == [1, 2]
        with pytest.raises(PositionConflict):
            await store.append([ev(1), ev(4)], expected_position=0)

    async def test_empty_batch(self, store):
        assert await store.append([]) == []
        with pytest.raises(PositionConflict):
            await store.append([], expected_position=5)

    # -- concurrency and notification ------------------------------------------------------

    async def test_concurrent_appends_stay_gapless(self, store):
        await asyncio.gather(*(store.append([ev(f"{w}-{i}") for i in range(3)]) for w in range(30)))
        rows = await store.read()
        assert [r.position for r in rows] == list(range(1, 91))
        assert len({r.id for r in rows}) == 90

    async def test_many_concurrent_callers_each_batch_atomic_and_contiguous(self, store):
        # 100 tasks at once (a group commit takes many of them in one transaction): every
        # batch is stored whole, its positions consecutive, the log gapless, nothing twice.
        sizes = [1 + (w % 4) for w in range(100)]
        results = await asyncio.gather(*(store.append([ev(f"g{w}-{i}") for i in range(n)])
                                         for w, n in enumerate(sizes)))
        for positions, n in zip(results, sizes, strict=True):
            assert positions == list(range(positions[0], positions[0] + n))
        rows = await store.read()
        assert [r.position for r in rows] == list(range(1, sum(sizes) + 1))
        by_id = {r.id: r.position for r in rows}
        for w, (positions, n) in enumerate(zip(results, sizes, strict=True)):
            assert [by_id[ev(f"g{w}-{i}").id] for i in range(n)] == positions
        stamps = [r.recorded_at for r in rows]
        assert stamps == sorted(stamps)

    async def test_one_callers_conflict_fails_only_that_caller(self, store):
        await store.append([ev("taken")])
        bad = [ev("b1"), NewEvent(ev("taken").id, "Thing", '{"n": "other"}')]  # IdConflict
        stale = [ev("s1")]  # PositionConflict: the head is no longer 0
        calls = [store.append([ev(f"ok{w}")]) for w in range(20)]
        calls.insert(5, store.append(bad))
        calls.insert(12, store.append(stale, expected_position=0))
        results = await asyncio.gather(*calls, return_exceptions=True)
        assert isinstance(results[5], IdConflict)
        assert isinstance(results[12], PositionConflict)
        fine = [r for i, r in enumerate(results) if i not in (5, 12)]
        assert all(isinstance(r, list) and len(r) == 1 for r in fine)
        rows = await store.read()
        assert [r.position for r in rows] == list(range(1, 22))  # gapless: the refused batches left no hole
        assert await store.lookup([ev("b1").id, ev("s1").id]) == {}  # nothing of a refused batch is stored

    async def test_concurrent_expected_position_admits_one_writer(self, store):
        await store.append([ev(0)])
        results = await asyncio.gather(*(store.append([ev(f"race{w}"), ev(f"race{w}b")], expected_position=1)
                                         for w in range(10)), return_exceptions=True)
        winners = [r for r in results if isinstance(r, list)]
        assert winners == [[2, 3]]
        assert sum(isinstance(r, PositionConflict) for r in results) == 9
        assert await store.head() == 3

    async def test_concurrent_retries_of_one_batch_store_it_once(self, store):
        batch = [ev("r1"), ev("r2"), ev("r3")]
        results = await asyncio.gather(*(store.append(batch) for _ in range(10)))
        assert all(r == results[0] for r in results)
        assert await store.head() == 3

    async def test_concurrent_same_id_other_content_conflicts(self, store):
        one = store.append([NewEvent(ev("x").id, "Thing", '{"v": 1}')])
        two = store.append([NewEvent(ev("x").id, "Thing", '{"v": 2}')])
        results = await asyncio.gather(one, two, return_exceptions=True)
        assert results[0] == [1] and isinstance(results[1], IdConflict)
        assert await store.head() == 1

    async def test_two_store_objects_share_one_log(self, store):
        other = await self.open_again(store)
        try:
            await store.append([ev(1)])
            assert await other.append([ev(2)]) == [2]
            assert await other.append([ev(1)]) == [1]
            assert [r.position for r in await store.read()] == [1, 2]
        finally:
            await other.close()

    async def test_wait_wakes_on_append(self, store):
        loop = asyncio.get_running_loop()
        waiter = asyncio.create_task(store.wait(0, timeout=seconds(5)))
        await asyncio.sleep(seconds(0.05))
        started = loop.time()
        await store.append([ev(1)])
        assert await waiter == 1
        assert loop.time() - started < 1

    async def test_wait_returns_at_once_when_behind(self, store):
        await store.append([ev(1), ev(2)])
        assert await asyncio.wait_for(store.wait(1, timeout=seconds(5)), 1) == 2

    async def test_wait_times_out_with_the_head(self, store):
        await store.append([ev(1)])
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await store.wait(1, timeout=0.3) == 1
        assert 0.25 <= loop.time() - started < 2

    async def test_wait_sees_appends_through_another_store_object(self, store):
        other = await self.open_again(store)
        try:
            waiter = asyncio.create_task(store.wait(0, timeout=seconds(5)))
            await asyncio.sleep(seconds(0.05))
            await other.append([ev(1)])
            assert await asyncio.wait_for(waiter, 1.5) == 1
        finally:
            await other.close()

    # -- recorded_by: who appended each event ---------------------------------------------

    async def test_recorded_by_is_kept_and_read_back_everywhere(self, store):
        await store.append([ev(1, data={"occurred_on": "2014-06-02"})], recorded_by="alice")
        await store.append([ev(2, data={"occurred_on": "2014-06-01"}), ev(3)], recorded_by="local:bob")
        await store.append([ev(4)])  # no principal given: None, as an event stored before audit
        rows = await store.read()
        assert [r.recorded_by for r in rows] == ["alice", "local:bob", "local:bob", None]
        assert rows[0] == StoredEvent(1, ev(1).id, rows[0].recorded_at, "Thing", ev(1, data={
            "occurred_on": "2014-06-02"}).data, "alice")
        found = await store.lookup([ev(1).id, ev(4).id])
        assert (found[ev(1).id].recorded_by, found[ev(4).id].recorded_by) == ("alice", None)
        history, _ = await store.read_history()
        assert [(r.position, r.recorded_by) for r in history] == [(2, "local:bob"), (1, "alice")]
        assert [r.recorded_by for p in [p async for p in store.iterate(page=2)] for r in p] == \
            ["alice", "local:bob", "local:bob", None]
        assert [r.recorded_by for r in await store.read(types=["Thing"], after=3)] == [None]

    async def test_a_retry_by_another_principal_keeps_the_first_appender(self, store):
        assert await store.append([ev(1), ev(2)], recorded_by="alice") == [1, 2]
        assert await store.append([ev(2), ev(1)], expected_position=0, recorded_by="mallory") == [2, 1]
        assert await store.append([ev(1), ev(3)], recorded_by="bob") == [1, 3]
        assert [(r.position, r.recorded_by) for r in await store.read()] == [(1, "alice"), (2, "alice"), (3, "bob")]
        with pytest.raises(IdConflict):  # other data is a conflict whoever sends it
            await store.append([NewEvent(ev(1).id, "Thing", '{"n": "other"}')], recorded_by="alice")

    async def test_callers_grouped_in_one_commit_keep_their_own_recorded_by(self, store):
        results = await asyncio.gather(*(store.append([ev(f"w{w}-{i}") for i in range(1 + w % 3)],
                                                      recorded_by=f"writer{w}" if w % 4 else None)
                                         for w in range(40)))
        by_position = {r.position: r.recorded_by for r in await store.read()}
        for w, positions in enumerate(results):
            assert {by_position[p] for p in positions} == {f"writer{w}" if w % 4 else None}

    async def test_import_keeps_recorded_by(self, store):
        at = datetime(2026, 1, 1, tzinfo=UTC)
        records = [StoredEvent(1, ev(1).id, at, "T", "{}"), StoredEvent(2, ev(2).id, at, "T", "{}", "alice"),
                   StoredEvent(3, ev(3).id, at, "T", "{}", "local:root")]
        assert await store.import_events(records) == 3
        assert await store.read() == records
        await store.append([ev(4)], recorded_by="bob")
        assert (await store.lookup([ev(4).id]))[ev(4).id].recorded_by == "bob"

    # -- principals: tokens ---------------------------------------------------------------

    async def test_tokens_add_list_revoke_and_version(self, store):
        assert await store.tokens() == []
        assert await store.tokens_version() == 0
        secret = new_token()
        added = await store.add_token("ci-bot", "writer", hash_token(secret))
        assert (added.name, added.role, added.digest) == ("ci-bot", "writer", hash_token(secret))
        assert added.revoked_at is None
        assert added.created_at.tzinfo is not None
        await store.add_token("alice", "admin", hash_token(new_token()))
        listed = await store.tokens()
        assert [t.name for t in listed] == ["alice", "ci-bot"]  # by name
        assert listed[1] == added
        assert secret not in repr(listed)  # only the hash is kept
        assert await store.tokens_version() == 2
        assert verify(secret, listed) == ("ci-bot", "writer")
        assert verify(new_token(), listed) is None

        revoked = await store.revoke_token("ci-bot")
        assert revoked.revoked_at is not None and revoked.revoked_at >= revoked.created_at
        assert await store.tokens_version() == 3
        assert verify(secret, await store.tokens()) is None
        again = await store.revoke_token("ci-bot")  # idempotent: the first revocation stands
        assert again == revoked
        assert await store.tokens_version() == 3
        with pytest.raises(InputError, match="no token named"):
            await store.revoke_token("nobody")
        assert await store.tokens_version() == 3

    async def test_a_token_name_is_never_reused(self, store):
        await store.add_token("alice", "reader", hash_token("one"))
        with pytest.raises(TokenExists) as caught:
            await store.add_token("alice", "admin", hash_token("two"))
        assert isinstance(caught.value, ConflictError) and "already exists" in str(caught.value)
        await store.revoke_token("alice")
        with pytest.raises(TokenExists, match="was revoked"):
            await store.add_token("alice", "reader", hash_token("three"))
        (only,) = await store.tokens()
        assert (only.role, only.digest) == ("reader", hash_token("one"))

    async def test_tokens_are_shared_by_every_store_object_on_the_log(self, store):
        other = await self.open_again(store)
        try:
            before = await other.tokens_version()
            await store.add_token("node-a", "writer", hash_token("a"))
            assert await other.tokens_version() == before + 1
            assert [t.name for t in await other.tokens()] == ["node-a"]
            await other.revoke_token("node-a")
            assert (await store.tokens())[0].revoked_at is not None
            assert await store.tokens_version() == before + 2
            with pytest.raises(TokenExists):
                await other.add_token("node-a", "writer", hash_token("b"))
        finally:
            await other.close()

    async def test_concurrent_adds_of_one_name_admit_one(self, store):
        results = await asyncio.gather(*(store.add_token("race", "reader", hash_token(str(n))) for n in range(5)),
                                       return_exceptions=True)
        assert sum(not isinstance(r, BaseException) for r in results) == 1
        assert all(isinstance(r, TokenExists) for r in results if isinstance(r, BaseException))

    # -- lifecycle -------------------------------------------------------------------------

    # -- import: moving a whole log between stores ---------------------------------------

    async def test_import_keeps_positions_ids_and_times(self, store):
        source = await self.make_store()
        try:
            await source.append([ev(1), ev(2)])
            await source.append([ev(3, "Other")])
            records = await source.read()
        finally:
            await source.close()
        assert await store.import_events(records) == 3
        assert await store.read() == records
        assert await store.head() == 3
        assert (await store.append([ev(4)])) == [4], "appends continue after the imported head"
        assert (await store.read(3))[0].recorded_at >= records[-1].recorded_at

    async def test_import_needs_an_empty_log(self, store):
        await store.append([ev(1)])
        records = [StoredEvent(1, ev(9).id, datetime(2026, 1, 1, tzinfo=UTC), "Thing", "{}")]
        with pytest.raises(LogNotEmpty):
            await store.import_events(records)
        assert [e.id for e in await store.read()] == [ev(1).id]

    async def test_import_refuses_gaps_and_stores_nothing(self, store):
        at = datetime(2026, 1, 1, tzinfo=UTC)
        for records in ([StoredEvent(1, ev(1).id, at, "T", "{}"), StoredEvent(3, ev(3).id, at, "T", "{}")],
                        [StoredEvent(1, ev(1).id, at, "T", "{}"), StoredEvent(2, ev(1).id, at, "T", "{}")],
                        [StoredEvent(1, ev(1).id, at, "T", "{}"),
                         StoredEvent(2, ev(2).id, at.replace(year=2025), "T", "{}")]):
            with pytest.raises(InputError):
                await store.import_events(records)
        assert await store.head() == 0

    async def test_close_is_idempotent_and_final(self):
        store = await self.make_store()
        await store.close()
        await store.close()
        with pytest.raises(StoreUnavailable):
            await store.head()

    async def test_async_context_manager(self):
        async with await self.make_store() as store:
            await store.append([ev(1)])
        with pytest.raises(StoreUnavailable):
            await store.append([ev(2)])

    # -- snapshots: a cache beside the log -------------------------------------------------------

    async def test_snapshots_are_kept_by_version_and_cut(self, store):
        assert await store.snapshots("1") == [] and await store.get_snapshot("1", "2014-06-01") is None
        blob = bytes(range(256)) * 40  # binary, with NUL bytes
        await store.put_snapshot("1", "2014-06-30", 10, blob)
        await store.put_snapshot("1", "2014-06-01", 7, b"early")
        await store.put_snapshot("1", "2014-06-30", 12, blob + b"!")  # the same cut again: replaced
        assert [(s.cut, s.head, s.size) for s in await store.snapshots("1")] == [
            ("2014-06-01", 7, 5), ("2014-06-30", 12, len(blob) + 1)]
        assert await store.get_snapshot("1", "2014-06-30") == (12, blob + b"!")
        await store.renew_snapshot("1", "2014-06-01", 40)
        await store.renew_snapshot("1", "2014-06-01", 30)  # never moves back
        assert (await store.get_snapshot("1", "2014-06-01"))[0] == 40
        await store.renew_snapshot("1", "2099-01-01", 50)  # none there: nothing happens
        assert len(await store.snapshots("1")) == 2
        reopened = await self.open_again(store)
        try:
            assert [s.cut for s in await reopened.snapshots("1")] == ["2014-06-01", "2014-06-30"]
        finally:
            if reopened is not store:
                await reopened.close()

    async def test_a_new_version_drops_the_others_and_stale_cuts_are_dropped_exactly(self, store):
        for cut in ("2014-06-01", "2014-06-15", "2014-07-01"):
            await store.put_snapshot("1", cut, 5, b"x")
        assert await store.drop_snapshots("2014-06-15") == 2  # a late fact starting on 2014-06-15
        assert [s.cut for s in await store.snapshots("1")] == ["2014-06-01"]
        await store.put_snapshot("2", "2014-08-01", 9, b"y")  # new code: the old version's are gone
        assert await store.snapshots("1") == []
        assert [s.cut for s in await store.snapshots("2")] == ["2014-08-01"]
        assert await store.drop_snapshots() == 1 and await store.snapshots("2") == []
        for cut in ("2014-06-01", "2014-06-15", "2014-07-01"):
            await store.put_snapshot("2", cut, 5, b"x")
        assert await store.drop_snapshots("", "2014-06-15") == 2  # the oldest, pruned
        assert [s.cut for s in await store.snapshots("2")] == ["2014-07-01"]

    async def test_snapshots_touch_no_event(self, store):
        await store.append([ev(1), ev(2)])
        before = await store.read()
        await store.put_snapshot("1", "2014-06-30", 2, b"z")
        await store.drop_snapshots()
        assert await store.read() == before and await store.head() == 2
