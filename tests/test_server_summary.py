"""Every websocket `event` message says its event in prose, the same prose as the CLI.

For each event type, an event of that type is appended through a real server (the same
`run()` that `tracker serve` runs, on a free loopback port, with real websocket clients),
and its `event` message must carry `summary == summarize(event)`, the "what" column of
`tracker log`, with `summary_parts` that join back to it, and `when == when(event)`, its
"occurred" column. Live (from the hub's ring), from the store (a backlog past a ring of one),
and over `GET /api/events`.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from tests.conftest import SOURCE, client, http
from tests.conftest import serve_in_process as server
from tracker.core.events import EVENT_TYPES
from tracker.core.summary import summarize, when

TARGET = str(uuid.uuid4())  # the CityCaptured below, retracted by the EventRetracted


@pytest.fixture(scope="module")
def seeded_db(first_report_db: Path) -> Path:
    """What conftest's `db` copies here, as in test_server: the report as first shipped (33 events)."""
    return first_report_db


def _samples() -> dict[str, dict]:
    """One event per type, with its optional fields set, so that every clause of the summary
    shows; their times in each form a fact may take (a day, a precision, a window)."""
    day = {"occurred_on": "2014-06-20", "sources": SOURCE}
    week = {"occurred_on": "2014-06-18", "precision": "week", "sources": SOURCE}
    month = {"occurred_on": "2014-06-01", "precision": "month", "sources": SOURCE}
    window = {"occurred_from": "2014-06-03", "occurred_to": "2014-06-08", "claim_status": "reported",
              "sources": SOURCE}
    return {
        "ActorRegistered": {"actor": "peshmerga", "name": "Kurdish Peshmerga", "aliases": ["Peshmerga"],
                            "kind": "regional forces", "notes": "not part of the catalog entry", "sources": SOURCE},
        "PlaceRegistered": {"place": "kirkuk", "name": "Kirkuk", "kind": "city", "country": "Iraq", "admin1": "Kirkuk",
                            "lat": 35.47, "lon": 44.39, "approximate": True, "sources": SOURCE},
        "CityCaptured": {"id": TARGET, "place": "Kirkuk", "captured_by": "peshmerga", "captured_from": "iraqi_forces",
                         **day},
        "AssaultLaunched": {"place": "kirkuk", "attacker": "isis", "defender": "peshmerga", **day},
        "AssaultRepelled": {"place": "kirkuk", "attacker": "isis", "defender": "peshmerga", **window},
        "AssetSeized": {"actor": "isis", "asset": "Humvee", "quantity": 2300, "unit": "vehicles",
                        "seized_from": "iraqi_forces", "place": "mosul", **week},
        "ForcesDeployed": {"actor": "united_states", "place": "baghdad", "personnel": 1200,
                           "equipment": {"AH-64 Apache": 6, "MQ-1 Predator": None}, "units": {"team": 3}, **month},
        "ForcesWithdrawn": {"actor": "united_states", "place": "baghdad", "units": {"team": 1}, **day},
        "CiviliansDisplaced": {"place": "mosul", "group": "Christians", "count": 500000, "at_least": True,
                               "by": "isis", **day},
        "AttackCarriedOut": {"place": "baghdad", "actor": "isis", "method": "car bomb", "killed": 12, "wounded": 1040,
                             **day},
        "ResourceControlled": {"actor": "isis", "resource": "oil", "place": "deir_ez_zor", "share_percent": 62.5,
                               "at_least": True, "output": 30000, "output_unit": "barrels a day", **day},
        "EventRetracted": {"retracts": TARGET, "reason": "the source withdrew the story", "sources": SOURCE},
    }


# what `tracker log` prints in its "occurred" column for each sample: the event message's `when`
WHEN = {"ActorRegistered": "-", "PlaceRegistered": "-", "EventRetracted": "-",
        "AssaultRepelled": "between 3 and 8 June 2014", "AssetSeized": "week of 2014-06-16",
        "ForcesDeployed": "June 2014", **dict.fromkeys((
            "CityCaptured", "AssaultLaunched", "ForcesWithdrawn", "CiviliansDisplaced", "AttackCarriedOut",
            "ResourceControlled"), "20 June 2014")}


def _check(message: dict) -> None:
    assert message["summary"] == summarize(message["event"]), message
    assert message["when"] == when(message["event"]), message
    joined = "".join(p if isinstance(p, str) else next(iter(p.values())) for p in message["summary_parts"])
    assert joined == message["summary"], message["summary_parts"]


async def test_every_event_message_carries_the_cli_summary(db):
    samples = _samples()
    assert set(samples) == set(EVENT_TYPES), "a sample per event type: add the new type's sample here"
    async with server(db, ring=1) as (port, _), client(port) as live, client(port) as writer:
        await live.send(op="subscribe", stream="events", after=33)
        await live.until(lambda m: m["type"] == "caught_up")
        seen: dict[str, dict] = {}
        for position, (kind, fields) in enumerate(samples.items(), start=34):
            reply = await writer.request(op="append", events=[{"type": kind, **fields}])
            assert reply["type"] == "appended" and reply["positions"] == [position], reply
            message = (await live.until(lambda m: m.get("type") == "event"))[-1]
            assert (message["position"], message["event"]["type"]) == (position, kind)
            _check(message)
            seen[kind] = message
        assert set(seen) == set(EVENT_TYPES) == set(WHEN)
        assert {kind: m["when"] for kind, m in seen.items()} == WHEN
        # references are marked by kind: the dashboard shows their names
        assert seen["CityCaptured"]["summary"] == "peshmerga captured kirkuk from iraqi_forces"
        assert seen["CityCaptured"]["summary_parts"] == [
            {"actor": "peshmerga"}, " captured ", {"place": "kirkuk"}, " from ", {"actor": "iraqi_forces"}]

        async with client(port) as late:  # the whole log from the store: a ring of one holds the last only
            await late.send(op="subscribe", stream="events", after=0)
            backlog = [m for m in await late.until(lambda m: m["type"] == "caught_up") if m["type"] == "event"]
        assert [m["position"] for m in backlog] == list(range(1, 34 + len(samples)))
        for message in backlog:
            _check(message)
        assert [m["summary"] for m in backlog[33:]] == [seen[k]["summary"] for k in samples]

        status, page = await asyncio.to_thread(http, port, f"/api/events?after=33&limit={len(samples)}")
        assert status == 200 and [e["summary"] for e in page["events"]] == [seen[k]["summary"] for k in samples]
        for entry in page["events"]:
            _check(entry)
        assert {e["event"]["type"]: e["when"] for e in page["events"]} == WHEN

        # the catalog answers what a registration says of its actor or place, not the report's notes
        catalog = await writer.request(op="catalog")
        peshmerga = next(a for a in catalog["actors"] if a["actor"] == "peshmerga")
        assert peshmerga == {"actor": "peshmerga", "name": "Kurdish Peshmerga", "aliases": ["Peshmerga"],
                             "kind": "regional forces"}
        kirkuk = next(p for p in catalog["places"] if p["place"] == "kirkuk")
        assert kirkuk == {"place": "kirkuk", "name": "Kirkuk", "aliases": [], "kind": "city", "country": "Iraq",
                          "lat": 35.47, "lon": 44.39, "admin1": "Kirkuk", "approximate": True,
                          "geo_precision": 2}  # read in the current shape (core/upcast.py)


async def test_the_schema_endpoint_serves_the_event_schema_with_references_marked(db):
    from tracker.core.schema import json_schema
    async with server(db) as (port, _):
        status, schema = await asyncio.to_thread(http, port, "/api/schema")
    assert status == 200 and schema == json_schema()
    assert set(schema["$defs"]["Event"]["properties"]["type"]["enum"]) == set(EVENT_TYPES)
    captured = schema["$defs"]["CityCaptured"]["properties"]
    assert (captured["place"]["x-reference"], captured["captured_by"]["x-reference"]) == ("place", "actor")
    assert "x-reference" not in schema["$defs"]["ActorRegistered"]["properties"]["actor"]  # the id it registers
