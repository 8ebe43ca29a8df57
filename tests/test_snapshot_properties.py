"""Property tests: a state started from a snapshot equals `replay()` from scratch.

Snapshots are advanced through random sequences of dates (each from the one before), on the
small, collision-heavy logs of test_timeline_properties; the answer at every date (state and
pending facts) must be the definition's."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from tests.test_timeline_properties import DAYS, PROPERTY, START, logs
from tracker.core.projections import PROJECTIONS
from tracker.core.records import Record
from tracker.core.snapshot import FOLDED, Snapshot, advance, pending
from tracker.core.timeline import order, replay, retractions
from tracker.core.timeline import pending as pending_at


def _facts(records: list[Record]) -> list[Record]:
    """What the shell reads: folded types, retracted ones left out, in history order."""
    retracted = retractions(records, None)
    return sorted((r for r in records if r.event["type"] in FOLDED and r.id not in retracted), key=order)


def _tail(facts: list[Record], after: str, day: str) -> list[Record]:
    return [r for r in facts if after < r.event["occurred_from"] <= day]


dates = st.lists(st.integers(-2, DAYS + 40), min_size=1, max_size=6).map(
    lambda ds: [(START + timedelta(days=d)).isoformat() for d in sorted(ds)])


@PROPERTY
@given(records=logs, days=dates)
def test_a_snapshot_advanced_date_by_date_answers_as_replay(records: list[Record], days: list[str]) -> None:
    facts = _facts(records)
    snapshot = Snapshot.empty()
    for day in days:
        snapshot = advance(snapshot, _tail(facts, snapshot.cut, day), day)
        for name, projection in PROJECTIONS.items():
            assert snapshot.states[name] == replay(records, projection, day), (name, day)
            assert pending(snapshot, name) == pending_at(records, projection, day), (name, day)


@PROPERTY
@given(records=logs, first=st.integers(-2, DAYS + 40), later=st.lists(st.integers(0, 40), min_size=1, max_size=4))
def test_one_snapshot_answers_every_later_date(records: list[Record], first: int, later: list[int]) -> None:
    """A stored snapshot is advanced to each query's date, never changed by it."""
    facts = _facts(records)
    cut = (START + timedelta(days=first)).isoformat()
    kept = advance(Snapshot.empty(), _tail(facts, "", cut), cut)
    for offset in later:
        day = (START + timedelta(days=first + offset)).isoformat()
        answer = advance(kept, _tail(facts, cut, day), day)
        for name, projection in PROJECTIONS.items():
            assert answer.states[name] == replay(records, projection, day), (name, day)
            assert pending(answer, name) == pending_at(records, projection, day), (name, day)
    assert kept.cut == cut


@PROPERTY
@given(records=logs, days=dates)
def test_a_projection_s_part_advances_as_the_whole_snapshot_and_parts_join_back(records: list[Record],
                                                                               days: list[str]) -> None:
    """What a one-projection query does (tracker/snapshots.py): it unpickles and advances that
    projection's part alone, given the whole tail; the parts of a snapshot join back into it."""
    facts = _facts(records)
    whole = Snapshot.empty()
    parts = {name: Snapshot.empty((name,)) for name in PROJECTIONS}
    for day in days:
        whole = advance(whole, _tail(facts, whole.cut, day), day)
        for name, projection in PROJECTIONS.items():
            parts[name] = advance(parts[name], _tail(facts, parts[name].cut, day), day)
            assert parts[name] == whole.only((name,)), (name, day)
            assert parts[name].states[name] == replay(records, projection, day), (name, day)
            assert pending(parts[name], name) == pending_at(records, projection, day), (name, day)
        assert Snapshot.joined(whole.only((name,)) for name in PROJECTIONS) == whole
