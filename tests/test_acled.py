"""ACLED in and out: a realistic export the tests make (every event type and precision) imported,
then a modified re-export kept in sync as corrections; states at several dates, --known-at and
--recorded-at the first import; bad rows refused whole with their line numbers; the reader fuzzed."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.acled_slice import COLUMNS, ISIS, first_export, row, second_export, to_csv
from tests.conftest import stored_rows, tracker_on
from tracker.core import acled
from tracker.core.batch import Item, prepare
from tracker.core.catalog import Catalog
from tracker.core.errors import TrackerError, ValidationFailed


def _events(db: Path) -> list[dict]:
    """The stored events, read from the SQLite file itself (faster than a `tracker log` process)."""
    return [json.loads(row[4]) for row in stored_rows(db)]


def _positions(db: Path) -> int:
    return len(stored_rows(db))


def _places(db: Path, *args: str) -> dict[str, dict]:
    answer = json.loads(tracker_on(db, "state", "territory", "--json", *args).stdout)
    return {p["place"]: p for p in answer["places"]}


def _facts(db: Path) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for event in _events(db):
        if event.get("external_id"):
            out.setdefault(event["external_id"], []).append(event)
    return out


def test_import_then_a_newer_export_kept_in_sync(db: Path) -> None:
    tracker_on(db, "actors", "alias", "isis", ISIS)  # ACLED's name for an actor the tracker knows
    first, second = db.parent / "acled-1.csv", db.parent / "acled-2.csv"
    first.write_text(to_csv(first_export()), encoding="utf-8")
    second.write_text(to_csv(second_export()), encoding="utf-8")
    before = _positions(db)
    dry = json.loads(tracker_on(db, "import", "--format", "acled", str(first), "--dry-run", "--json").stdout)
    assert _positions(db) == before and dry["dry_run"]
    done = json.loads(tracker_on(db, "import", "--format", "acled", str(first), "--json").stdout)
    assert {k: done[k] for k in ("new", "changed", "unchanged", "retracted")} == \
        {"new": 18, "changed": 0, "unchanged": 0, "retracted": 0}
    assert done["skipped"] == {"Protests / Peaceful protest": 1, "Protests / Protest with intervention": 1,
                               "Riots / Mob violence": 1, "Riots / Violent demonstration": 1,
                               "Strategic developments / Agreement": 1, "Strategic developments / Arrests": 1,
                               "Strategic developments / Change to group/activity": 1,
                               "Strategic developments / Other": 1}
    created = {a["name"]: a for a in done["actors_created"]}
    assert ISIS not in created  # mapped through its alias
    assert created["Military Forces of Iraq (2014-2018)"]["kind"] == "state forces"
    assert created["Civilians (Iraq)"]["kind"] == "civilians"
    assert {p["name"] for p in done["places_created"]} == {"Baiji", "Tal Afar", "Fallujah"}  # Mosul, Tikrit known
    text = tracker_on(db, "import", "--format", "acled", str(first)).stdout  # unchanged: appends nothing
    assert "0 new" in text and "18 unchanged" in text and "appended 0 events" in text
    imported = datetime.now(UTC).isoformat()
    after_first = _positions(db)
    assert after_first == before + done["appended"]

    facts = _facts(db)
    mosul = facts["acled:IRQ1"][0]
    assert (mosul["type"], mosul["captured_by"], mosul["captured_from"], mosul["place"]) == \
        ("CityCaptured", "isis", "military_forces_of_iraq_2014_2018", "mosul")
    assert mosul["occurred_on"] == "2014-06-10" and mosul["deaths"] == {"best": 12}
    assert mosul["reported_on"] == "2014-07-01"
    assert [s["publisher"] for s in mosul["sources"]] == ["ACLED", "Reuters", "Al Sumaria"]
    assert mosul["notes"].startswith("ACLED: Battles / Non-state actor overtakes territory; event_date 2014-06-10")
    tikrit = facts["acled:IRQ2"][0]  # time_precision 2: the week around the date, fatalities 0: unknown
    assert (tikrit["occurred_from"], tikrit["occurred_to"]) == ("2014-06-08", "2014-06-14") and "deaths" not in tikrit
    baiji = facts["acled:IRQ4"][0]  # time_precision 3: the month
    assert (baiji["occurred_from"], baiji["occurred_to"]) == ("2014-06-01", "2014-06-30")
    clash = facts["acled:IRQ3"][0]  # an armed clash is a fight, not an assault that leaves a place contested
    assert clash["type"] == "AttackCarriedOut" and clash["method"] == f"armed clash with {ISIS}"
    assert facts["acled:IRQ7"][0]["type"] == "ForcesDeployed"
    assert facts["acled:IRQ8"][0]["type"] == "AssetSeized"
    assert facts["acled:IRQ6"][0]["method"] == "air/drone strike"
    assert facts["acled:IRQ10"][0]["method"] == "violence against civilians: attack"
    assert "acled:IRQ11" not in facts  # a peaceful protest: skipped, and said so

    june12, june14, june30 = (_places(db, "--as-of", d) for d in ("2014-06-12", "2014-06-14", "2014-06-30"))
    assert june12["mosul"]["controller"] == "isis" and june12["mosul"]["since"] == "2014-06-10"
    assert june12["tikrit"]["controller"] is None and june12["tikrit"]["pending"]  # within its week
    assert june14["tikrit"]["controller"] == "isis" and june14["tikrit"]["contested_by"] == []
    assert june12["baiji"]["controller"] is None and june12["baiji"]["pending"]  # within its month
    assert june30["baiji"]["controller"] == "military_forces_of_iraq_2014_2018"
    assert june30["tal_afar"]["controller"] == "isis"  # a non-violent transfer passes control to actor1
    assert june30["tikrit"]["contested_by"] == []  # the armed clash of 26 June contests nothing

    synced = json.loads(tracker_on(db, "import", "--format", "acled", str(second), "--sync", "--from", "2014-06-01",
                                   "--to", "2014-06-30", "--json").stdout)
    assert {k: synced[k] for k in ("new", "changed", "unchanged", "retracted")} == \
        {"new": 1, "changed": 2, "unchanged": 15, "retracted": 1}
    assert synced["appended"] == 1 + 2 * 2 + 1
    facts = _facts(db)
    assert [f["deaths"]["best"] for f in facts["acled:IRQ3"]] == [30, 45]  # the old fact, retracted, and the new
    assert facts["acled:IRQ2"][-1]["occurred_on"] == "2014-06-11"
    log = _events(db)
    retracted = {e["retracts"]: e for e in log if e["type"] == "EventRetracted"}
    assert retracted[facts["acled:IRQ5"][0]["id"]]["reported_on"] == "2014-07-10"
    assert facts["acled:IRQ3"][0]["id"] in retracted and facts["acled:IRQ3"][1]["id"] not in retracted

    now = _places(db, "--as-of", "2014-06-30")
    assert now["tal_afar"]["controller"] is None  # its row is gone from the export: retracted
    assert _places(db, "--as-of", "2014-06-12")["tikrit"]["controller"] == "isis"  # dated to 11 June now
    # What ACLED said on 5 July (before the newer export's changes) and what the log held after the first import.
    for args in (("--known-at", "2014-07-05"), ("--recorded-at", imported)):
        then = _places(db, "--as-of", "2014-06-30", *args)
        assert then["tal_afar"]["controller"] == "isis", args
        assert _places(db, "--as-of", "2014-06-12", *args)["tikrit"]["controller"] is None, args
    # The same newer export again: nothing to do.
    again = json.loads(tracker_on(db, "import", "--format", "acled", str(second), "--sync", "--from", "2014-06-01",
                                  "--to", "2014-06-30", "--json").stdout)
    assert (again["new"], again["changed"], again["retracted"], again["events"]) == (0, 0, 0, 0)
    # A sync of another range leaves rows outside it alone.
    july = db.parent / "july.csv"
    july.write_text(to_csv([row(200, "2014-07-02", "Battles", "Armed clash", 4, published="2014-07-12")]))
    other = json.loads(tracker_on(db, "import", "--format", "acled", str(july), "--sync", "--from", "2014-07-01",
                                  "--to", "2014-07-31", "--json").stdout)
    assert (other["new"], other["retracted"]) == (1, 0)


def test_export_in_acled_columns_and_back(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    source = tmp_path / "in.csv"
    source.write_text(to_csv(first_export()), encoding="utf-8")
    tracker_on(db, "import", "--format", "acled", str(source))
    out = tmp_path / "out.csv"
    tracker_on(db, "export", "--format", "acled", "-o", str(out))
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert tuple(rows[0]) == COLUMNS
    by_id = {r["event_id_cnty"]: r for r in rows}
    assert len(by_id) == 18
    original = {r["event_id_cnty"]: r for r in first_export()}
    for key in ("IRQ1", "IRQ2", "IRQ4", "IRQ6", "IRQ14"):
        for column in ("event_date", "time_precision", "event_type", "sub_event_type", "actor1", "location",
                       "fatalities", "timestamp", "notes", "geo_precision"):
            assert by_id[key][column] == original[key][column], (key, column)
    assert by_id["IRQ1"]["source"] == "Reuters; Al Sumaria"
    # The export read back into the same store appends nothing: every row maps to the fact it came from.
    again = json.loads(tracker_on(db, "import", "--format", "acled", str(out), "--json").stdout)
    assert (again["new"], again["changed"], again["unchanged"], again["events"]) == (0, 0, 18, 0)


def test_an_older_export_without_the_newer_columns_is_read(tmp_path: Path) -> None:
    old = tuple(c for c in COLUMNS if c not in ("disorder_type", "civilian_targeting", "tags", "timestamp"))
    source = tmp_path / "old.csv"
    rows = first_export()
    for r in rows:
        r["event_date"] = date.fromisoformat(r["event_date"]).strftime("%d %B %Y")  # the website's form
    source.write_text(to_csv(rows, old), encoding="utf-8")
    done = json.loads(tracker_on(tmp_path / "t.db", "import", "--format", "acled", str(source), "--json").stdout)
    assert done["new"] == 18
    facts = _facts(tmp_path / "t.db")
    assert facts["acled:IRQ1"][0]["occurred_on"] == "2014-06-10" and "reported_on" not in facts["acled:IRQ1"][0]


def test_bad_rows_are_reported_with_their_lines_and_nothing_is_stored(db: Path) -> None:
    rows = first_export()
    rows[2]["latitude"] = "north"
    rows[5]["time_precision"] = "4"
    rows[7]["event_type"] = "Battle"
    rows[9]["event_date"] = "2014-02-30"
    text = to_csv(rows) + 'IRQ999,"unterminated\n'
    source = db.parent / "bad.csv"
    source.write_text(text, encoding="utf-8")
    before = _positions(db)
    refused = tracker_on(db, "import", "--format", "acled", str(source), expect=2)
    for line, column in ((4, "latitude"), (7, "time_precision"), (9, "event_type"), (11, "event_date")):
        assert f"bad.csv:{line}: field '{column}'" in refused.stderr, refused.stderr
    assert "bad.csv:28" in refused.stderr and "nothing was stored" in refused.stderr
    assert _positions(db) == before
    # A row the batch rules refuse (reported before it happened) is refused with its line, the file whole.
    rows = first_export()
    rows[3]["timestamp"] = "1380000000"  # 2013, before the event
    source.write_text(to_csv(rows), encoding="utf-8")
    refused = tracker_on(db, "import", "--format", "acled", str(source), expect=2)
    assert "bad.csv:5: field 'reported_on'" in refused.stderr
    assert _positions(db) == before
    assert "--sync needs --from" in tracker_on(db, "import", "--format", "acled", str(source), "--sync",
                                               expect=2).stderr
    (db.parent / "empty.csv").write_text("", encoding="utf-8")
    assert "empty" in tracker_on(db, "import", "--format", "acled", str(db.parent / "empty.csv"), expect=2).stderr
    (db.parent / "other.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    assert "not an ACLED export" in tracker_on(db, "import", "--format", "acled", str(db.parent / "other.csv"),
                                               expect=2).stderr
    (db.parent / "latin.csv").write_bytes(b"event_id_cnty\n\xe9\n")
    assert "not UTF-8" in tracker_on(db, "import", "--format", "acled", str(db.parent / "latin.csv"), expect=2).stderr


_CELL = st.one_of(st.sampled_from(["", "1", "2", "3", "0", "-5", "Battles", "Armed clash", "2014-06-10", "36.3",
                                   "x" * 300, "Mosul", "a,b", 'q"q', "line\nbreak", "\x00"]),
                  st.text(max_size=12))


@st.composite
def _exports(draw: st.DrawFn) -> str:
    rows = [dict(r) for r in draw(st.lists(st.sampled_from(first_export()), min_size=1, max_size=6))]
    for r in rows:
        for column in draw(st.lists(st.sampled_from(COLUMNS), max_size=3)):
            r[column] = draw(_CELL)
    text = to_csv(rows)
    if draw(st.booleans()):
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.text(max_size=5)) + text[at:]
    return text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(text=_exports())
def test_reader_and_plan_fuzz(text: str) -> None:
    """Whatever the text: a structured error (each issue with a line) or a batch the batch rules take or
    refuse whole; never another exception."""
    try:
        rows = acled.read(text, "f.csv")
    except ValidationFailed as e:
        assert e.issues and all(i.where.startswith("f.csv:") for i in e.issues)
        return
    plan = acled.plan(rows, Catalog(), {}, "f.csv", today=date(2026, 1, 1))
    try:
        prepared = prepare([Item(w, e) for w, e in plan.items], Catalog(), date(2026, 1, 1), {})
    except TrackerError as e:
        assert isinstance(e, ValidationFailed) and all(i.where.startswith("f.csv") for i in e.issues)
        return
    assert len(prepared) == len(plan.items)
