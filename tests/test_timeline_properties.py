"""Property tests: the incremental `Timeline` and `replay()` give the same answers.

`replay()` is the definition; the timeline takes records in any order and any chunks,
keeps checkpoints and drops them on late inserts and retractions. Hypothesis draws small
logs over a few actors, places and assets, so collisions (same place, same day, same
asset in another case) are the common case rather than the rare one.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracker.core.dates import window_start
from tracker.core.events import EVENT_ADAPTER, REGISTRATIONS, canonical
from tracker.core.projections import PROJECTIONS
from tracker.core.records import Record, make_record
from tracker.core.summary import possibly
from tracker.core.timeline import Timeline, catalog_of, order, pending, replay, retractions, today

ACTORS = ("isis", "iraqi_army", "peshmerga")
PLACES = ("mosul", "tikrit", "samarra")
ASSETS = ("Humvee", "humvee", "M198 howitzer")
UNITS = (None, "rounds")
START = date(2014, 6, 1)
DAYS = 28
RECORDED = datetime(2014, 6, 1, 9, 0, tzinfo=UTC)
FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)
SOURCES = [{"publisher": "Reuters"}]

# Deterministic under CI: a fixed seed per test, no example database.
PROPERTY = settings(max_examples=120, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

counts = st.one_of(st.none(), st.integers(0, 50))
days = st.integers(0, DAYS - 1)
# a precision, or ("window", length in days) for occurred_from..occurred_to
precisions = st.sampled_from(["day", "day", "day", "week", "month", "year"]) | st.tuples(
    st.just("window"), st.integers(0, 20))


def _dated(day: int, precision: Any) -> dict[str, Any]:
    if isinstance(precision, tuple):
        start = START + timedelta(days=day)
        return {"occurred_from": start.isoformat(), "occurred_to": (start + timedelta(days=precision[1])).isoformat()}
    on = window_start(START + timedelta(days=day), precision)
    return {"occurred_on": on.isoformat(), "precision": precision}


fact_bodies = st.one_of(
    st.builds(lambda p, by, frm: {"type": "CityCaptured", "place": p, "captured_by": by, "captured_from": frm},
              st.sampled_from(PLACES), st.sampled_from(ACTORS), st.none() | st.sampled_from(ACTORS)),
    st.builds(lambda p, a, d: {"type": "AssaultLaunched", "place": p, "attacker": a, "defender": d},
              st.sampled_from(PLACES), st.sampled_from(ACTORS), st.none() | st.sampled_from(ACTORS)),
    st.builds(lambda p, a, d: {"type": "AssaultRepelled", "place": p, "attacker": a, "defender": d},
              st.sampled_from(PLACES), st.sampled_from(ACTORS), st.sampled_from(ACTORS)),
    st.builds(lambda a, asset, q, unit, frm: {"type": "AssetSeized", "actor": a, "asset": asset, "quantity": q,
                                              "unit": unit, "seized_from": frm},
              st.sampled_from(ACTORS), st.sampled_from(ASSETS), counts, st.sampled_from(UNITS),
              st.none() | st.sampled_from(ACTORS)),
    st.builds(lambda a, r, p, share, out: {"type": "ResourceControlled", "actor": a, "resource": r, "place": p,
                                           "share_percent": share, "output": out, "output_unit": "barrels/day"},
              st.sampled_from(ACTORS), st.sampled_from(["crude oil", "Crude Oil", "natural gas"]),
              st.none() | st.sampled_from(PLACES), st.none() | st.sampled_from([10.0, 25.5, 100.0]), counts),
    st.builds(lambda kind, a, p, pers, eq, units: {"type": kind, "actor": a, "place": p, "personnel": pers,
                                                   "equipment": eq, "units": units},
              st.sampled_from(["ForcesDeployed", "ForcesDeployed", "ForcesWithdrawn"]),
              st.sampled_from(ACTORS), st.sampled_from(PLACES), counts,
              st.dictionaries(st.sampled_from(["AH-64 Apache", "RQ-7 Shadow"]), counts, max_size=2),
              st.dictionaries(st.sampled_from(["SF team", "2nd Division"]), counts, max_size=2)),
    st.builds(lambda p, n, by: {"type": "CiviliansDisplaced", "place": p, "group": "residents", "count": n, "by": by},
              st.sampled_from(PLACES), counts, st.none() | st.sampled_from(ACTORS)),
)

registration_bodies = st.one_of(
    st.builds(lambda a, n: {"type": "ActorRegistered", "actor": a, "name": f"{a.upper()} v{n}", "kind": "group"},
              st.sampled_from(ACTORS), st.integers(0, 2)),
    st.builds(lambda p, n: {"type": "PlaceRegistered", "place": p, "name": f"{p.title()} v{n}", "kind": "city",
                            "country": "Iraq", "lat": 36.0 + n, "lon": 43.0}, st.sampled_from(PLACES),
              st.integers(0, 2)),
)

# One log entry before numbering: ("fact", body, day, precision, reported_lag)
# or ("registration", body) or ("retraction", which earlier fact, reported_lag).
reported_lag = st.none() | st.integers(-3, 20)  # days from occurred_on (or from START for retractions)
entries = st.one_of(
    st.tuples(st.just("fact"), fact_bodies, days, precisions, reported_lag),
    st.tuples(st.just("fact"), fact_bodies, days, precisions, reported_lag),
    st.tuples(st.just("fact"), fact_bodies, days, precisions, reported_lag),
    st.tuples(st.just("registration"), registration_bodies),
    st.tuples(st.just("retraction"), st.integers(0, 1000), reported_lag),
)


def build(body: dict[str, Any]) -> dict[str, Any]:
    """The canonical stored form, through the real schema: exactly what the store would hold."""
    return canonical(EVENT_ADAPTER.validate_python({**body, "sources": SOURCES}))


def number(drawn: list[tuple], recorded_step: int = 7) -> list[Record]:
    """Positions 1..N, recorded_at increasing with position, ids derived from position."""
    records: list[Record] = []
    fact_ids: list[str] = []
    for position, entry in enumerate(drawn, start=1):
        ident = str(uuid.UUID(int=position))
        kind = entry[0]
        if kind == "fact":
            _, body, day, precision, lag = entry
            body = {**body, **_dated(day, precision)}
            if lag is not None:
                first = body.get("occurred_from") or body["occurred_on"]
                body["reported_on"] = max(first, (START + timedelta(days=day + lag)).isoformat())
        elif kind == "registration":
            body = {**entry[1], "name": f"{entry[1]['name']} #{position}"}  # every re-registration renames
        else:
            _, which, lag = entry
            if not fact_ids:
                continue
            body = {"type": "EventRetracted", "retracts": fact_ids[which % len(fact_ids)], "reason": "wrong"}
            if lag is not None:
                body["reported_on"] = (START + timedelta(days=lag + 5)).isoformat()
        event = build({**body, "id": ident})
        records.append(make_record(len(records) + 1, RECORDED + timedelta(hours=recorded_step * (len(records) + 1)),
                                   event))
        if kind == "fact":
            fact_ids.append(ident)
    return records


# Lengths drawn first: plain st.lists stays mostly tiny, and the interesting cases need dozens.
logs = st.integers(0, 40).flatmap(lambda n: st.lists(entries, min_size=n, max_size=n)).map(number)
nonempty_logs = st.integers(1, 40).flatmap(lambda n: st.lists(entries, min_size=n, max_size=n)).map(number)
as_ofs = (st.none() | st.integers(-2, DAYS + 40).map(lambda d: (START + timedelta(days=d)).isoformat())
          | st.just("2013-01-01"))
# whole checkpoints every few facts, or (10,000) only days of changes between them (checkpoints.py)
everies = st.integers(1, 5) | st.just(10_000)


@st.composite
def recorded_ats(draw, records: list[Record]) -> datetime | None:
    """None, or an instant around one of the recording times: the log as it stood then."""
    if not records or draw(st.integers(0, 2)) == 0:
        return None
    moment = draw(st.sampled_from(sorted({r.recorded_at for r in records})))
    return moment + draw(st.sampled_from([timedelta(microseconds=-1), timedelta(0), timedelta(minutes=1)]))


@st.composite
def known_ats(draw, records: list[Record]) -> datetime | None:
    """None, or an instant just around one of the knowledge times, or anywhere in the period."""
    choice = draw(st.integers(0, 3))
    if choice == 0 or not records:
        return None
    if choice == 1:
        return RECORDED + timedelta(minutes=draw(st.integers(-24 * 60, 60 * 24 * 45)))
    moment = draw(st.sampled_from(sorted({r.known_from for r in records})))
    return moment + draw(st.sampled_from([timedelta(microseconds=-1), timedelta(0), timedelta(microseconds=1)]))


def expected_render(records: list[Record], name: str, as_of: str | None, known_at: datetime | None,
                    recorded_at: datetime | None = None) -> dict:
    projection = PROJECTIONS[name]
    state = replay(records, projection, as_of, known_at, recorded_at)
    waiting = pending(records, projection, as_of, known_at, recorded_at)
    everything = recorded_at is None or all(r.recorded_at <= recorded_at for r in records)
    catalog = catalog_of(records, None if everything else recorded_at)
    entries = projection.render(state, catalog, waiting)
    for entry in entries:
        if entry["pending"]:
            entry["pending_text"] = [possibly(e, catalog.label) for e in entry["pending"]]
    return {"projection": name, "as_of": as_of or today(), "known_at": known_at.isoformat() if known_at else None,
            "recorded_at": recorded_at.isoformat() if recorded_at else None,
            "position": max((r.position for r in records if everything or r.recorded_at <= recorded_at), default=0),
            projection.collection: entries}


def assert_same(timeline: Timeline, records: list[Record], name: str, as_of: str | None,
                known_at: datetime | None, recorded_at: datetime | None = None) -> None:
    projection = PROJECTIONS[name]
    assert timeline.state(name, as_of, known_at, recorded_at) == \
        replay(records, projection, as_of, known_at, recorded_at), (name, as_of, known_at, recorded_at)
    assert timeline.render(name, as_of, known_at, recorded_at) == \
        expected_render(records, name, as_of, known_at, recorded_at)


def chunked(items: list, sizes: list[int]) -> list[list]:
    chunks, at = [], 0
    for size in sizes:
        if at >= len(items):
            break
        chunks.append(items[at:at + size])
        at += size
    if at < len(items):
        chunks.append(items[at:])
    return chunks


# -- 1. the incremental timeline equals replay --------------------------------------------------


@PROPERTY
@given(data=st.data(), records=logs, every=everies,
       sizes=st.lists(st.integers(1, 6), min_size=1, max_size=12), textless=st.booleans())
def test_timeline_in_any_order_and_chunks_equals_replay(data, records, every, sizes, textless):
    """`textless`: from some chunk on, the timeline keeps no text and reads facts back by
    position, as a serving node on SQLite does (the store's texts: a dict here)."""
    shuffled = data.draw(st.permutations(records), label="order")
    timeline = Timeline(every=every, hot=every % 3)
    added: list[Record] = []
    chunks = chunked(shuffled, sizes)
    leave_at = data.draw(st.integers(0, len(chunks)), label="texts left at chunk") if textless else None
    stored = {r.position: orjson.dumps(r.event).decode() for r in records}

    def texts(positions):
        return {p: stored[p] for p in positions}

    for index, chunk in enumerate(chunks):
        if index == leave_at:
            timeline.leave_texts(texts)
        timeline.add(chunk)
        added.extend(chunk)
        # Query between chunks: checkpoints get built here, then broken by the next late insert.
        for _ in range(data.draw(st.integers(1, 2), label="queries")):
            name = data.draw(st.sampled_from(sorted(PROJECTIONS)), label="projection")
            as_of = data.draw(as_ofs, label="as_of")
            known_at = data.draw(known_ats(added), label="known_at")
            recorded_at = data.draw(recorded_ats(added), label="recorded_at")
            assert_same(timeline, added, name, as_of, known_at, recorded_at)
    if leave_at == len(chunks):
        timeline.leave_texts(texts)
    assert timeline.keeps_texts is not textless
    assert timeline.head == max((r.position for r in records), default=0)
    assert timeline.count == len(records)
    for name in PROJECTIONS:
        assert_same(timeline, records, name, None, None)
        assert_same(timeline, records, name, data.draw(as_ofs, label="final as_of"),
                    data.draw(known_ats(records), label="final known_at"))


@PROPERTY
@given(records=logs, every=everies, as_of=as_ofs)
def test_timeline_fed_in_position_order_one_by_one_equals_replay(records, every, as_of):
    """The service's path: catch-up appends in log order, queries after each page."""
    timeline = Timeline(every=every, hot=every % 3)
    for at, record in enumerate(records, start=1):
        timeline.add([record])
        for name in PROJECTIONS:
            assert timeline.state(name, as_of) == replay(records[:at], PROJECTIONS[name], as_of)


# -- 2. order independence -------------------------------------------------------------------------


@PROPERTY
@given(data=st.data(), records=logs, as_of=as_ofs)
def test_replay_ignores_the_order_records_are_given_in(data, records, as_of):
    shuffled = data.draw(st.permutations(records), label="order")
    known_at = data.draw(known_ats(records), label="known_at")
    for projection in PROJECTIONS.values():
        assert replay(shuffled, projection, as_of, known_at) == replay(records, projection, as_of, known_at)
        assert projection.render(replay(shuffled, projection, as_of, known_at), catalog_of(shuffled)) == \
            projection.render(replay(records, projection, as_of, known_at), catalog_of(records))


# -- 3. retraction -------------------------------------------------------------------------------


@PROPERTY
@given(data=st.data(), records=nonempty_logs, lag=st.integers(0, 40), as_of=as_ofs, every=everies)
def test_a_retraction_removes_the_event_from_its_knowledge_time_on(data, records, lag, as_of, every):
    facts = [r for r in records if r.type not in REGISTRATIONS and r.type != "EventRetracted"]
    if not facts:
        return
    target = data.draw(st.sampled_from(facts), label="target")
    head = len(records)
    retraction = make_record(head + 1, RECORDED + timedelta(hours=7 * (head + 1)), build({
        "type": "EventRetracted", "id": str(uuid.UUID(int=10_000)), "retracts": target.id, "reason": "wrong",
        "reported_on": (START + timedelta(days=lag)).isoformat()}))
    known = retraction.known_from
    with_it = [*records, retraction]
    without_target = [r for r in records if r.id != target.id]
    timeline = Timeline(every=every, hot=every % 3)
    timeline.add(data.draw(st.permutations(with_it), label="order"))
    after = known + data.draw(st.sampled_from([timedelta(0), timedelta(microseconds=1), timedelta(days=3)]))
    before = known - data.draw(st.sampled_from([timedelta(microseconds=1), timedelta(hours=1), timedelta(days=2)]))
    for name, projection in PROJECTIONS.items():
        for known_at in (None, after):
            # From T on, the retracted event influences nothing, whatever the as-of date.
            assert replay(with_it, projection, as_of, known_at) == replay(without_target, projection, as_of, known_at)
            assert timeline.state(name, as_of, known_at) == replay(without_target, projection, as_of, known_at)
        # Before T, the event counts as originally reported.
        assert replay(with_it, projection, as_of, before) == replay(records, projection, as_of, before)
        assert timeline.state(name, as_of, before) == replay(records, projection, as_of, before)


@PROPERTY
@given(data=st.data(), records=nonempty_logs, every=everies)
def test_a_retraction_arriving_after_checkpoints_drops_them(data, records, every):
    """Checkpoints folded the target in; a retraction added later must not be answered from them."""
    facts = [r for r in records if r.type not in REGISTRATIONS and r.type != "EventRetracted"]
    if not facts:
        return
    target = data.draw(st.sampled_from(facts), label="target")
    timeline = Timeline(every=every, hot=every % 3)
    timeline.add(records)
    for name in PROJECTIONS:
        timeline.state(name)  # build every checkpoint
    retraction = make_record(len(records) + 1, RECORDED + timedelta(days=60), build({
        "type": "EventRetracted", "id": str(uuid.UUID(int=10_000)), "retracts": target.id, "reason": "wrong"}))
    timeline.add([retraction])
    as_of = data.draw(as_ofs, label="as_of")
    for name in PROJECTIONS:
        assert_same(timeline, [*records, retraction], name, as_of, None)
        assert timeline.state(name, as_of) == replay([r for r in records if r.id != target.id],
                                                     PROJECTIONS[name], as_of)


# -- 4. known_at None is "everything known" ----------------------------------------------------


@PROPERTY
@given(data=st.data(), records=logs, as_of=as_ofs, every=everies)
def test_known_at_none_equals_known_at_far_in_the_future(data, records, as_of, every):
    timeline = Timeline(every=every, hot=every % 3)
    timeline.add(data.draw(st.permutations(records), label="order"))
    latest = max((r.known_from for r in records), default=RECORDED)
    for name, projection in PROJECTIONS.items():
        expected = replay(records, projection, as_of, None)
        assert replay(records, projection, as_of, FAR_FUTURE) == expected
        assert replay(records, projection, as_of, latest) == expected
        assert timeline.state(name, as_of, FAR_FUTURE) == expected
        assert timeline.state(name, as_of, latest) == expected


# -- 5. as_of only sees the past -------------------------------------------------------------------


@PROPERTY
@given(data=st.data(), records=logs, day=days, every=everies)
def test_territory_as_of_depends_only_on_events_dated_up_to_it(data, records, day, every):
    as_of = (START + timedelta(days=day)).isoformat()
    known_at = data.draw(known_ats(records), label="known_at")
    territory = PROJECTIONS["territory"]
    # Facts dated after D go; registrations and retractions stay (a retraction has no as-of).
    past = [r for r in records if r.type in REGISTRATIONS or r.type == "EventRetracted"
            or r.event["occurred_from"] <= as_of]
    expected = replay(past, territory, as_of, known_at)
    assert replay(records, territory, as_of, known_at) == expected
    assert replay(past, territory, as_of, known_at) == expected
    timeline = Timeline(every=every, hot=every % 3)
    timeline.add(data.draw(st.permutations(records), label="order"))
    assert timeline.state("territory", as_of, known_at) == expected
    assert pending(records, territory, as_of, known_at) == pending(past, territory, as_of, known_at)
    for place in territory.render(expected, catalog_of(records)):
        assert place["since"] is None or place["since_to"] <= as_of  # settled: the whole window is past


# -- 5. the streaming rebuild (history order from a real SQLite store) equals replay -------------


async def _rebuild(path: str, records: list[Record]) -> tuple[dict, dict, Any]:
    from tracker.service import Tracker
    from tracker.store import StoredEvent

    async with await Tracker.open(path) as tracker:
        await tracker.store.import_events([StoredEvent(r.position, r.event["id"], r.recorded_at, r.event["type"],
                                                       orjson.dumps(r.event).decode()) for r in records])
        return await tracker.rebuild(page=3)  # tiny pages: every resume key gets used


@settings(PROPERTY, max_examples=60)
@given(records=logs)
def test_streaming_rebuild_from_the_store_equals_replay(tmp_path_factory, records):
    path = str(tmp_path_factory.mktemp("rebuild") / "log.db")
    report, states, catalog = asyncio.run(_rebuild(path, records))
    assert report["events"] == report["position"] == len(records)
    for name, projection in PROJECTIONS.items():
        assert states[name] == replay(records, projection), name  # as of today, as rebuild folds
        assert report["projections"][name]["entries"] == len(states[name])
    assert (catalog.actors, catalog.places) == (catalog_of(records).actors, catalog_of(records).places)


@PROPERTY
@given(data=st.data(), records=logs, first=st.integers(-2, DAYS + 30), length=st.integers(0, 40))
def test_overlapping_equals_its_definition(data, records, first, length):
    """What a chart counts (`Timeline.overlapping`, found by index and decoding little) is the
    facts whose window overlaps the range, known then and not retracted as known then."""
    timeline = Timeline(every=3)
    timeline.add(data.draw(st.permutations(records), label="order"))
    known_at = data.draw(known_ats(records), label="known_at")
    start = (START + timedelta(days=first)).isoformat()
    end = (START + timedelta(days=first + length)).isoformat()
    gone = retractions(records, known_at)
    expected = [r.position for r in sorted(records, key=order) if "occurred_from" in r.event
                and r.event["occurred_to"] >= start and r.event["occurred_from"] <= end
                and r.event["type"] != "EventRetracted" and r.id not in gone
                and (known_at is None or r.known_from <= known_at)]
    assert [f.position for f in timeline.overlapping(start, end, known_at)] == expected


@PROPERTY
@given(data=st.data(), records=logs, first=st.integers(-2, DAYS + 10), length=st.integers(0, 30))
def test_a_chart_counts_what_replay_holds_each_day(data, records, first, length):
    """`chart.series` (its days' states from `Timeline.known`, its facts from `overlapping`)
    against the definition: each day's territory replayed from scratch, each fact of the
    range known then and not retracted counted on its day or listed as a range."""
    from collections import Counter

    from tracker.core.chart import series

    timeline = Timeline(every=3)
    timeline.add(data.draw(st.permutations(records), label="order"))
    known_at = data.draw(known_ats(records), label="known_at")
    start = (START + timedelta(days=first)).isoformat()
    end = (START + timedelta(days=first + length)).isoformat()
    answer = series(timeline, start, end, known_at, points=12, max_ranges=3)
    catalog = catalog_of(records)
    for i, day in enumerate(answer["days"]):
        state = replay(records, PROJECTIONS["territory"], day, known_at)
        held = Counter(catalog.label("actor", h.controller) for h in state.values() if h.controller)
        assert {name: counts[i] for name, counts in answer["held"].items() if counts[i]} == dict(held), day
    gone = retractions(records, known_at)
    facts = [r.event for r in records if "occurred_from" in r.event and r.id not in gone
             and (known_at is None or r.known_from <= known_at)
             and r.event["occurred_to"] >= start and r.event["occurred_from"] <= end]
    per_day = Counter(e["occurred_from"] for e in facts if e["occurred_from"] == e["occurred_to"])
    assert answer["per_day"] == sorted(per_day.items())
    assert answer["ranges_total"] == sum(e["occurred_from"] != e["occurred_to"] for e in facts)
    assert len(answer["ranges"]) == min(3, answer["ranges_total"])
