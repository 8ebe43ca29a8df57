"""Persisted snapshots (tracker/snapshots.py) on a real SQLite store: a one-shot query keeps
one and the next starts from it; late facts and retractions drop exactly the snapshots they
make stale; a snapshot is never trusted over the log, and removing them changes no answer."""

from __future__ import annotations

import pickle
import zlib
from pathlib import Path

import pytest

from tests.conftest import capture, tracker_on
from tracker import snapshots
from tracker.core.projections import PROJECTIONS
from tracker.core.reports import from_objects
from tracker.core.snapshot import VERSION
from tracker.service import Tracker

DATES = ("2014-05-31", "2014-06-15", "2014-06-30", "2014-07-14", "2014-07-17", "2014-07-23", "2014-08-01", None)


async def answers(tracker: Tracker) -> list[dict]:
    return [await tracker.state_once(name, day) for day in DATES for name in PROJECTIONS]


async def reference(db: Path) -> list[dict]:
    """The same questions through the timeline, folded from the whole log."""
    async with await Tracker.open(str(db)) as fresh:
        return [await fresh.state(name, day) for day in DATES for name in PROJECTIONS]


async def test_snapshot_started_answers_equal_the_timeline_on_the_seeds(db: Path) -> None:
    async with await Tracker.open(str(db)) as tracker:
        first = await answers(tracker)
        kept = await tracker.store.snapshots(VERSION)
        assert [s.cut for s in kept] == ["2014-05-31"]  # the first query had none: it kept one at its date
        assert first == await reference(db)
        assert await answers(tracker) == first  # the second pass starts from the snapshot
        await tracker.store.drop_snapshots()
        assert await answers(tracker) == first  # removing them changes no answer


async def test_a_late_fact_drops_exactly_the_snapshots_it_makes_stale(db: Path, monkeypatch) -> None:
    monkeypatch.setattr(snapshots, "KEEP_AFTER", 1)  # a snapshot at every day a query folds past
    async with await Tracker.open(str(db)) as tracker:
        await tracker.state_once("territory", "2014-08-01")
        before = [s.cut for s in await tracker.store.snapshots(VERSION)]
        assert len(before) >= 3 and before == sorted(before) and before[-1] < "2014-08-01"
        await tracker.append(from_objects([capture("baghdad", "isis", "2014-06-20")], "late"))
        answer = await tracker.state_once("territory", "2014-08-15")
        assert next(p for p in answer["places"] if p["place"] == "baghdad")["controller"] == "isis"
        head = await tracker.head()
        after = await tracker.store.snapshots(VERSION)
        assert [c for c in before if c < "2014-06-20"] == [s.cut for s in after if s.cut < "2014-06-20"]  # kept
        # those cut on or after the late fact's start were dropped; the query kept new ones, with it
        assert all(s.head == head for s in after if s.cut >= "2014-06-20")
        assert await answers(tracker) == await reference(db)


async def test_short_and_long_ways_answer_as_the_timeline(db: Path, monkeypatch) -> None:
    """A short way from a snapshot folds the projection asked alone; a long one every projection,
    keeping snapshots; a read that starts short and turns long switches: every answer the same."""
    monkeypatch.setattr(snapshots, "KEEP_AFTER", 4)
    monkeypatch.setattr(snapshots, "_FIRST_PAGE", 2)  # reads in short pages: a short read turns long midway
    async with await Tracker.open(str(db)) as tracker:
        for day in ("2014-06-10", "2014-06-12", "2014-07-20", "2014-07-21", "2014-06-30", None):
            for name in PROJECTIONS:
                assert await tracker.state_once(name, day) == await tracker.state(name, day), (name, day)
        assert len(await tracker.store.snapshots(VERSION)) >= 2
        assert await answers(tracker) == await reference(db)


def test_a_long_tail_is_cut_at_whole_days(monkeypatch) -> None:
    from tests.test_projections import rec
    from tracker.core.records import make_record

    monkeypatch.setattr(snapshots, "KEEP_AFTER", 2)
    tail = [rec(i, "AssetSeized", day, actor="isis", asset="Humvee", quantity=1) for i, day in enumerate(
        ["2014-06-01", "2014-06-01", "2014-06-01", "2014-06-02", "2014-06-03", "2014-06-03", "2014-06-04"], 1)]
    chunks = snapshots._chunks(tail, "2014-06-10")
    assert [(cut, [r.position for r in run]) for cut, run in chunks] == [
        ("2014-06-01", [1, 2, 3]), ("2014-06-03", [4, 5, 6]), ("2014-06-10", [7])]
    assert make_record  # the records are real, validated events


async def test_a_retraction_of_a_fact_before_the_cut_drops_the_snapshot(db: Path) -> None:
    async with await Tracker.open(str(db)) as tracker:
        await tracker.state_once("territory", "2014-07-31")
        answer = await tracker.state_once("territory", "2014-07-31")
        mosul = next(p for p in answer["places"] if p["place"] == "mosul")
        await tracker.append(from_objects([{"type": "EventRetracted", "retracts": mosul["event"], "reason": "test",
                                             "sources": [{"publisher": "test"}]}], "retraction"))
        again = await tracker.state_once("territory", "2014-07-31")
        assert next(p for p in again["places"] if p["place"] == "mosul")["controller"] is None
        assert [s.cut for s in await tracker.store.snapshots(VERSION)] == ["2014-07-31"]  # dropped, kept anew
        assert await answers(tracker) == await reference(db)


async def test_a_snapshot_that_names_other_code_is_never_run(db: Path, tmp_path: Path) -> None:
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (Path.touch, (marker,))

    async with await Tracker.open(str(db)) as tracker:
        expected = await tracker.state_once("territory", "2014-07-31")
        for cut, data in (("2014-07-01", pickle.dumps(Evil())),  # the parts' dict, or a part
                          ("2014-07-02", pickle.dumps({"territory": zlib.compress(pickle.dumps(Evil()))}))):
            await tracker.store.drop_snapshots()
            await tracker.store.put_snapshot(VERSION, cut, await tracker.head(), data)
            assert await tracker.state_once("territory", "2014-07-31") == expected
            assert not marker.exists()
            assert cut not in [s.cut for s in await tracker.store.snapshots(VERSION)]  # dropped
            with pytest.raises(pickle.UnpicklingError):
                snapshots.loads(data)


async def test_a_long_way_from_a_snapshot_with_an_unreadable_part_drops_it(db: Path, tmp_path: Path,
                                                                            monkeypatch) -> None:
    """A short way reads its projection's part only; a long way needs them all: a bad one
    is dropped there too, and the query starts again without it."""
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (Path.touch, (marker,))

    async with await Tracker.open(str(db)) as tracker:
        await tracker.state_once("territory", "2014-06-30")
        head, data = await tracker.store.get_snapshot(VERSION, "2014-06-30") or (0, b"")
        parts = pickle.loads(data)
        parts["deployments"] = zlib.compress(pickle.dumps(Evil()))
        await tracker.store.put_snapshot(VERSION, "2014-06-30", head, pickle.dumps(parts))
        monkeypatch.setattr(snapshots, "KEEP_AFTER", 1)  # the next query goes a long way
        answer = await tracker.state_once("territory", "2014-08-01")
        assert not marker.exists()
        assert "2014-06-30" not in [s.cut for s in await tracker.store.snapshots(VERSION)]
    async with await Tracker.open(str(db)) as fresh:
        assert answer == await fresh.state("territory", "2014-08-01")


def test_the_cli_keeps_a_snapshot_and_answers_the_same(db: Path) -> None:
    first = tracker_on(db, "state", "territory", "--as-of", "2014-07-20", "--json", "-v")
    assert "cut=None" in first.stderr or "cut=" in first.stderr
    second = tracker_on(db, "state", "territory", "--as-of", "2014-07-25", "--json", "-v")
    assert "cut=2014-07-20" in second.stderr
    table = tracker_on(db, "state", "territory", "--as-of", "2014-07-25").stdout
    assert "Tikrit" in table and second.stdout.count('"place"') >= 11
