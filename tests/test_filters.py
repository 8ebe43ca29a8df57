"""Filters on states and event streams (core/filters.py): by place, actor, country, bounding
box and event type, over HTTP, the websocket and the CLI, on the first seed report."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import capture, client, http, tracker_on
from tests.conftest import serve_in_process as server
from tracker.core import filters
from tracker.core.errors import BadQuery
from tracker.core.projections import PROJECTIONS
from tracker.core.protocol import apply_update
from tracker.core.reports import from_objects

IRAQ_NORTH = "42.5,34.0,44.5,37.0"  # west,south,east,north: Mosul and Tikrit, not Baghdad


@pytest.fixture(scope="module")
def seeded_db(first_report_db: Path) -> Path:
    return first_report_db


async def get(port: int, path: str) -> tuple[int, Any]:
    return await asyncio.to_thread(http, port, path)  # urllib blocks: off the server's loop


def names(answer: dict[str, Any], collection: str = "places", key: str = "place") -> list[str]:
    return [e[key] for e in answer[collection]]


async def test_state_filters_over_http(db: Path) -> None:
    async with server(db) as (port, _):
        status, box = await get(port, f"/api/state/territory?as_of=2014-07-30&bbox={IRAQ_NORTH}")
        assert status == 200 and names(box) == ["mosul", "tikrit"]
        assert box["filter"] == {"bbox": [42.5, 34.0, 44.5, 37.0]}
        _, syria = await get(port, "/api/state/territory?as_of=2014-07-30&country=Syria")
        assert names(syria) == ["deir_ez_zor", "deir_ez_zor_airport", "homs", "shaar_gas_field", "syria"]
        _, contested = await get(port, "/api/state/territory?as_of=2014-07-30&country=Syria&actor=isis")
        assert names(contested) == ["deir_ez_zor_airport", "shaar_gas_field"]  # contested by it, held by it
        _, two = await get(port, "/api/state/territory?as_of=2014-07-30&place=mosul,homs")
        assert names(two) == ["homs", "mosul"]
        _, us = await get(port, "/api/state/deployments?as_of=2014-07-30&actor=united_states&place=baghdad_airport")
        assert [(d["actor"], d["place"]) for d in us["deployments"]] == [("united_states", "baghdad_airport")]
        _, everything = await get(port, "/api/state/territory?as_of=2014-07-30&place=")  # empty: none
        assert "filter" not in everything and len(everything["places"]) == 11
        for query, field in (("bbox=1,2,3", "bbox"), ("bbox=10,50,20,40", "bbox"), ("bbox=a,b,c,d", "bbox"),
                             ("place=mosul,,tikrit", "place"), ("country=,", "country")):
            status, body = await get(port, f"/api/state/territory?{query}")
            assert status == 400 and body["code"] == "bad_request" and body["details"]["field"] == field, body


async def test_a_filtered_projection_subscription_gets_only_its_entries(db: Path) -> None:
    async with server(db) as (port, tracker), client(port) as c:
        await c.send(op="subscribe", projection="territory", as_of="2014-12-31", country="Iraq", ref=1)
        messages = await c.until(lambda m: m["type"] == "snapshot")
        state = messages[-1]["state"]
        assert names(state) == ["baghdad", "baghdad_airport", "iraq", "mosul", "tikrit", "trabil_crossing"]
        await tracker.append(from_objects([capture("homs", "isis", "2014-08-01"),
                                            capture("tikrit", "iraqi_forces", "2014-08-02")], "test"))
        update = await c.until(lambda m: m["type"] == "update")
        assert [e["place"] for e in update[-1]["changed"]] == ["tikrit"]  # Homs is in Syria: not sent
        state = apply_update(PROJECTIONS["territory"], state, update[-1]["changed"], update[-1]["removed"],
                             update[-1]["position"])
        assert next(p for p in state["places"] if p["place"] == "tikrit")["controller"] == "iraqi_forces"


async def test_a_filtered_events_subscription_resumes_by_position_without_gaps(db: Path) -> None:
    async with server(db) as (port, tracker), client(port) as c:
        await c.send(op="subscribe", stream="events", after=0, place="tikrit", types=["CityCaptured",
                     "AssaultLaunched", "AssaultRepelled", "EventRetracted"], ref="t")
        messages = await c.until(lambda m: m["type"] == "caught_up")
        assert messages[0]["filter"] == {"place": ["tikrit"], "types": ["AssaultLaunched", "AssaultRepelled",
                                                                          "CityCaptured", "EventRetracted"]}
        events = [m for m in messages if m["type"] == "event"]
        assert [m["position"] for m in events] == [19, 26, 27]  # the capture, the assault, its repulse
        assert messages[-1]["position"] == 33  # caught up to the head: the cursor passed the rest
        await tracker.append(from_objects([capture("homs", "isis", "2014-08-01"),
                                            capture("tikrit", "iraqi_forces", "2014-08-02")], "test"))
        live = await c.until(lambda m: m["type"] == "event")
        assert live[-1]["position"] == 35 and live[-1]["event"]["place"] == "tikrit"
    async with server(db) as (port, _), client(port) as c:  # resuming after the last one it got
        await c.send(op="subscribe", stream="events", after=27, actor="iraqi_forces", place="tikrit")
        messages = await c.until(lambda m: m["type"] == "caught_up")
        assert [m["position"] for m in messages if m["type"] == "event"] == [35]


async def test_registrations_and_retractions_pass_a_front_filter(db: Path) -> None:
    async with server(db) as (port, _), client(port) as c:
        await c.send(op="subscribe", stream="events", after=0, bbox="39,35,41,36")
        messages = await c.until(lambda m: m["type"] == "caught_up")
        kinds = {m["event"]["type"] for m in messages if m["type"] == "event"}
        assert kinds == {"ActorRegistered", "PlaceRegistered", "AssaultLaunched"}  # Deir ez-Zor airport's assault
        for bad, field in (({"types": ["Nope"]}, "types"), ({"types": 3}, "types"), ({"bbox": [1, 2, 3, 4]}, "bbox"),
                           ({"place": []}, "place")):
            reply = await c.request(op="subscribe", stream="events", after=0, **bad)
            assert reply["type"] == "error" and reply["details"]["field"] == field, reply


def test_state_filters_on_the_cli(db: Path) -> None:
    answer = json.loads(tracker_on(db, "state", "territory", "--json", "--as-of", "2014-07-30",
                                   "--bbox", IRAQ_NORTH).stdout)
    assert names(answer) == ["mosul", "tikrit"]
    table = tracker_on(db, "state", "territory", "--country", "Syria", "--actor", "isis").stdout
    assert "Shaar gas field" in table and "Mosul" not in table
    refused = tracker_on(db, "state", "territory", "--bbox", "1,2", expect=2)
    assert "'bbox' is four numbers" in refused.stderr


def test_filters_match_entries_and_events_by_their_references() -> None:
    flt = filters.parse({"actor": "isis,sunni_militias", "types": None}.get, events=True)
    assert flt.event({"type": "AttackCarriedOut", "actor": "sunni_militias", "place": "baghdad"}, _catalog())
    assert not flt.event({"type": "CityCaptured", "captured_by": "kurds", "place": "kirkuk"}, _catalog())
    assert flt.event({"type": "EventRetracted", "retracts": "x", "reason": "r"}, _catalog())
    across = filters.parse({"bbox": "170,-10,-170,10"}.get)  # across the antimeridian
    assert across.entry("territory", _place("fiji", 178.0, -1.0), _catalog(("fiji", 178.0, -1.0)))
    assert not across.entry("territory", _place("x", 0.0, 0.0), _catalog(("x", 0.0, 0.0)))
    assert not filters.EVERYTHING and filters.apply("territory", "places", {"places": [1]}, filters.EVERYTHING,
                                                    _catalog()) == {"places": [1]}


def _catalog(*places: tuple[str, float, float]) -> Any:
    from tracker.core.catalog import Catalog

    catalog = Catalog()
    for ident, lon, lat in places:
        catalog.register({"type": "PlaceRegistered", "place": ident, "name": ident, "kind": "city", "country": "C",
                          "lat": lat, "lon": lon})
    return catalog


def _place(ident: str, lon: float, lat: float) -> dict[str, Any]:
    return {"place": ident, "controller": None, "contested_by": [], "pending": [], "lat": lat, "lon": lon}


_values = st.one_of(st.none(), st.text(max_size=30), st.lists(st.text(max_size=10), max_size=4), st.integers(),
                    st.lists(st.integers(), max_size=4),
                    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


@settings(max_examples=300, deadline=None)
@given(fields=st.fixed_dictionaries({}, optional=dict.fromkeys(filters.EVENT_FIELDS, _values)))
def test_fuzz_filter_parsing_is_a_filter_or_a_bad_query(fields: dict[str, Any]) -> None:
    try:
        flt = filters.parse(fields.get, events=True)
    except BadQuery as e:
        assert e.details["field"] in filters.EVENT_FIELDS and e.message
        return
    hash(flt)  # a view with it is shared by its subscribers
    flt.event({"type": "CityCaptured", "captured_by": "isis", "place": "mosul"}, _catalog(("mosul", 43.1, 36.3)))
