"""`tracker actors` / `tracker places`: listing, search, aliases recorded in the log; names,
not ids, in what people read (`log`, `state` tables, `watch`)."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import capture, jsonl, stored_rows, tracker_on
from tracker.core.catalog import Catalog
from tracker.core.errors import InputError
from tracker.core.reference import listing, with_alias


def test_actors_and_places_list_search_and_json(db: Path) -> None:
    actors = json.loads(tracker_on(db, "actors", "--json").stdout)
    assert {a["actor"] for a in actors} >= {"isis", "iraqi_forces", "syrian_government"}
    assert all({"actor", "name", "aliases", "kind"} <= a.keys() for a in actors)
    found = json.loads(tracker_on(db, "actors", "--search", "isil", "--json").stdout)  # an alias, any case
    assert [a["actor"] for a in found] == ["isis"]
    places = json.loads(tracker_on(db, "places", "--search", "MOSUL", "--json").stdout)
    assert [p["place"] for p in places] == ["mosul"]
    assert places[0]["lat"] > 36 and places[0]["lon"] > 43 and places[0]["geo_precision"] == 1
    table = tracker_on(db, "places").stdout
    assert "Tikrit" in table and "geo precision" in table
    assert "no actors matching 'zzz'" in tracker_on(db, "actors", "--search", "zzz").stdout


def _events(db: Path) -> list[dict]:
    """The stored events, read from the SQLite file itself (faster than a `tracker log` process)."""
    return [json.loads(row[4]) for row in stored_rows(db)]


def test_an_alias_is_a_logged_registration_that_references_resolve_by(db: Path) -> None:
    head = len(stored_rows(db))
    done = tracker_on(db, "actors", "alias", "ISIS", "Islamic State (Iraq) [ACLED]")
    assert "now also answers to 'Islamic State (Iraq) [ACLED]'" in done.stdout
    events = _events(db)
    assert len(events) == head + 1 and events[-1]["type"] == "ActorRegistered"
    assert "Islamic State (Iraq) [ACLED]" in events[-1]["aliases"]
    assert events[-1]["name"] == "Islamic State in Iraq and Syria"  # the rest of it unchanged
    # Again: nothing appended.
    assert "nothing appended" in tracker_on(db, "actors", "alias", "isis", "Islamic State (Iraq) [ACLED]").stdout
    assert len(stored_rows(db)) == head + 1
    # A report naming the actor by its new alias resolves to it.
    report = db.parent / "r.jsonl"
    report.write_text(jsonl(capture("Homs", "islamic state (iraq) [acled]", "2014-07-20", reported_on="2014-07-21")))
    tracker_on(db, "append", str(report))
    assert _events(db)[-1]["captured_by"] == "isis"
    # An alias that names another actor, or an unknown actor: exit 2, nothing appended.
    refused = tracker_on(db, "actors", "alias", "isis", "ISF", expect=2)
    assert "already names actor 'iraqi_forces'" in refused.stderr
    unknown = tracker_on(db, "actors", "alias", "isiss", "X", expect=2)
    assert "unknown actor 'isiss'" in unknown.stderr and "isis" in unknown.stderr
    tracker_on(db, "places", "alias", "mosul", "Al Mawsil")
    assert json.loads(tracker_on(db, "places", "--search", "al mawsil", "--json").stdout)[0]["place"] == "mosul"
    assert len(stored_rows(db)) == head + 3


def test_log_shows_ids_and_names(db: Path) -> None:
    out = tracker_on(db, "log").stdout
    first = json.loads(tracker_on(db, "log", "--json", "--limit", "40").stdout.splitlines()[-1])
    assert first["id"] in out  # every event's id, for a retraction
    assert "Islamic State in Iraq and Syria captured Mosul" in out
    assert " isis captured mosul" not in out
    table = tracker_on(db, "state", "territory", "--as-of", "2014-07-16").stdout
    assert "Iraqi Security Forces" in table.split("Tikrit", 1)[1].splitlines()[0]  # the contester, by name


_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ref=_TEXT, alias=_TEXT, search=_TEXT)
def test_alias_and_search_fuzz(ref: str, alias: str, search: str) -> None:
    """Any text: a listing, a registration, None, or an InputError; never another exception."""
    catalog = Catalog()
    catalog.register({"type": "ActorRegistered", "actor": "isis", "name": "ISIS", "aliases": ["IS"], "kind": "group",
                      "sources": [{"publisher": "x"}]})
    assert isinstance(listing(catalog, "actor", search), list)
    try:
        made = with_alias(catalog, "actor", ref, alias, {"publisher": "test"})
    except InputError:
        return
    assert made is None or (made["actor"] == "isis" and alias.strip() in made["aliases"])


def test_watch_prints_names(db: Path) -> None:
    from tests.conftest import run_tracker, start_serve, stop_process

    process, port = start_serve(db)
    try:
        done = run_tracker("watch", "--url", f"ws://127.0.0.1:{port}/ws", "--after", "20", "--count", "12",
                           "--projection", "territory", "--as-of", "2014-07-16", timeout=30)  # scaled by run_tracker
    finally:
        stop_process(process)
    assert "Islamic State in Iraq and Syria captured" in done.stdout
    assert " isis captured" not in done.stdout
    # the table's row (events and the state arrive in either order: an event line names Tikrit too)
    [row] = [line for line in done.stdout.splitlines() if line.startswith("Tikrit ")]
    assert "Iraqi Security Forces" in row  # contesting it on 16 July, by name
