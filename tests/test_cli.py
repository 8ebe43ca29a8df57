"""The `tracker` command end to end: real subprocesses, real SQLite files, no mocks.

One seeded store is built per module and copied for each test, so most tests pay for
the one or two subprocesses they exercise, not for seeding.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import sqlite3
import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, jsonl, stored_rows
from tests.conftest import run_tracker as run
from tests.conftest import tracker_env as _env
from tests.conftest import tracker_on as tracker

SEEDS = sorted((ROOT / "seeds").glob("*.y*ml"))
MOSUL_CAPTURE = "a4c41b98-25aa-51d0-8e75-9c58394f7464"  # seed:mosul-captured
REUTERS = [{"publisher": "Reuters", "url": "https://example.org/reuters"}]
LOCAL = f"local:{pwd.getpwuid(os.getuid()).pw_name}"  # who a CLI append is recorded as


def tracker_all(db: Path, *calls: tuple[str, ...]) -> list[subprocess.CompletedProcess[str]]:
    """Read-only runs against one store, side by side: each start costs ~0.5 s of CPU."""
    with ThreadPoolExecutor(os.cpu_count() or 2) as pool:
        return list(pool.map(lambda call: tracker(db, *call), calls))


def log_json(db: Path, *args: str) -> list[dict]:
    return [json.loads(line) for line in tracker(db, "log", "--json", *args).stdout.splitlines()]


def state(db: Path, projection: str, *args: str) -> dict:
    return json.loads(tracker(db, "state", projection, "--json", *args).stdout)


def head(db: Path) -> int:
    """The log's head, read from the file itself: what a refused batch must leave alone."""
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT COALESCE(MAX(position), 0) FROM events").fetchone()[0]


def place(answer: dict, ident: str) -> dict:
    return next(p for p in answer["places"] if p["place"] == ident)


def seed_events() -> list[dict]:
    return [e for path in SEEDS for e in yaml.safe_load(path.read_text())["events"]]


@pytest.fixture(scope="module")
def seeding(tmp_path_factory) -> tuple[Path, Path, subprocess.CompletedProcess[str]]:
    """The module's store, seeded by `tracker seed` from another directory than the store's:
    (store, cwd, run)."""
    work, folder = tmp_path_factory.mktemp("work"), tmp_path_factory.mktemp("seeded")
    db = folder / "seeded.db"
    return db, work, run("seed", "--db", str(db), cwd=work)


@pytest.fixture(scope="module")
def seeded_db(seeding) -> Path:
    """This module's seeded store is the one its `seed` command made (conftest's `db` copies it)."""
    return seeding[0]


QUERIES = {
    "log": ("log", "--json"),
    "log text": ("log",),
    "log 10+5": ("log", "--json", "--from", "10", "--limit", "5"),
    "territory 06-20": ("state", "territory", "--as-of", "2014-06-20"),
    "territory 07-23 json": ("state", "territory", "--json", "--as-of", "2014-07-23"),
    "arsenal json": ("state", "arsenal", "--json"),
    "arsenal 07-01": ("state", "arsenal", "--as-of", "2014-07-01"),
    "deployments known 07-22 json": ("state", "deployments", "--json", "--as-of", "2014-07-23",
                                     "--known-at", "2014-07-22"),
    "deployments known 07-23 json": ("state", "deployments", "--json", "--as-of", "2014-07-23",
                                     "--known-at", "2014-07-23"),
    "deployments known 07-22": ("state", "deployments", "--as-of", "2014-07-23", "--known-at", "2014-07-22"),
    "deployments": ("state", "deployments"),
    "replay": ("replay",),
    "replay json": ("replay", "--json"),
}


@pytest.fixture(scope="module")
def seeded_out(seeded_db: Path) -> dict[str, str]:
    """The stdout of every read-only query on the seeded store, run once for the module."""
    return {name: done.stdout for name, done in zip(QUERIES, tracker_all(seeded_db, *QUERIES.values()), strict=True)}


@pytest.fixture(scope="module")
def seeded_log(seeded_out) -> list[dict]:
    return [json.loads(line) for line in seeded_out["log"].splitlines()]


# ---------------------------------------------------------------- seed and where the store is


def test_seed_loads_every_seed_event_in_order(seeding, seeded_log) -> None:
    db, work, first = seeding
    expected = [str(uuid.UUID(e["id"])) for e in seed_events()]
    assert first.stdout.strip() == (f"seeded {db}: appended {len(expected)} events at positions "
                                    f"1-{len(expected)}; log head at {len(expected)}")
    assert [r["id"] for r in seeded_log] == expected
    assert [r["position"] for r in seeded_log] == list(range(1, len(expected) + 1))
    assert list(work.iterdir()) == []  # --db was honoured, not the default ./tracker.db


def test_seed_again_changes_nothing(db: Path, seeded_out, seeded_log) -> None:
    again = tracker(db, "seed", cwd=db.parent.parent)
    n = len(seeded_log)
    assert again.stdout.strip() == (f"seeded {db}: appended 0 events; {n} already in the log, left as they were; "
                                    f"log head at {n}")
    assert tracker(db, "log", "--json").stdout == seeded_out["log"]
    assert head(db) == n


def test_seed_through_the_env_var_from_another_directory(tmp_path: Path, seeded_log) -> None:
    work, target = tmp_path / "work", tmp_path / "env.db"
    work.mkdir()
    env = _env(TRACKER_DB=str(target))
    assert run("seed", cwd=work, env=env).stdout.startswith(f"seeded {target}: appended {len(seeded_log)} events")
    assert head(target) == len(seeded_log)
    assert not (work / "tracker.db").exists()
    other = tmp_path / "other.db"  # --db beats TRACKER_DB: it names a store that does not exist, refused
    refused = run("log", "--db", str(other), cwd=work, env=env, expect=4)
    assert f"no store at {other}" in refused.stderr and "tracker seed" in refused.stderr
    assert not other.exists()


def test_default_store_is_tracker_db_in_the_working_directory(tmp_path: Path, seeded_log) -> None:
    assert run("seed", cwd=tmp_path).stdout.startswith("seeded tracker.db: appended")
    assert head(tmp_path / "tracker.db") == len(seeded_log)


def test_global_options_before_the_command_are_honoured(db: Path, tmp_path: Path, seeded_log) -> None:
    out = run("--db", str(db), "log", "--json", "--limit", "1", cwd=tmp_path)
    assert json.loads(out.stdout) == seeded_log[0]
    assert not (tmp_path / "tracker.db").exists()


# ---------------------------------------------------------------- state


def test_state_territory_table_as_of(seeded_out, seeded_log) -> None:
    lines = seeded_out["territory 06-20"].splitlines()
    assert lines[0] == f"territory as of 2014-06-20 (log position {len(seeded_log)})"
    assert lines[2].split() == ["place", "held", "by", "since", "contested", "by", "pending", "country"]
    rows = {row[0]: row for row in (re.split(r"\s{2,}", line) for line in lines[4:])}
    # Mosul fell "last month" (June): not yet known to have fallen by 20 June, only by the 30th
    assert rows["Mosul"][1] == "no controller recorded"
    assert rows["Mosul"][4].startswith("possibly captured by Islamic State in Iraq and Syria "
                                       "between 1 and 30 June 2014")
    assert rows["Shaar gas field"][1] == "no controller recorded"  # captured in the week of 2014-07-14: not yet


def test_state_arsenal_json(seeded_out, seeded_log) -> None:
    answer = json.loads(seeded_out["arsenal json"])
    assert list(answer) == ["projection", "as_of", "known_at", "recorded_at", "position", "actors"]
    assert answer["projection"] == "arsenal"
    assert answer["as_of"] == datetime.now(UTC).date().isoformat()  # the resolved date: today
    assert answer["known_at"] is None and answer["recorded_at"] is None
    assert answer["position"] == len(seeded_log)
    isis = next(a for a in answer["actors"] if a["actor"] == "isis")
    holdings = {h["asset"]: h["quantity"] for h in isis["holdings"]}
    assert holdings["Humvee"] == 1500 and holdings["PKC machine gun"] == 4000
    assert holdings["M198 155 mm howitzer"] == 52
    assert holdings["the city's military and commercial resources"] is None  # unknown, not zero
    (oil,) = isis["resources"]
    # "more than 60 percent": the share is a lower bound, the 180,000 barrels/day is not
    assert (oil["resource"], oil["place"], oil["share_percent"], oil["at_least"]) == (
        "oil", "syria", 60, ["share_percent"])


def test_state_arsenal_table(seeded_out) -> None:
    out = seeded_out["arsenal 07-01"]
    rows = [re.split(r"\s{2,}", line) for line in out.splitlines()[4:]]
    # the Mosul resources were taken in June; the Humvees at some time from 1 June to 23 July: not yet settled
    assert ["Islamic State in Iraq and Syria", "the city's military and commercial resources",
            "unknown", "-", "1"] in rows
    assert not any(row[1:2] == ["Humvee"] for row in rows)
    assert "oil" not in out  # the oil share is dated 2014-07-23


def test_state_territory_json(seeded_out) -> None:
    answer = json.loads(seeded_out["territory 07-23 json"])
    assert answer["as_of"] == "2014-07-23" and answer["known_at"] is None
    for entry in answer["places"]:
        assert {"place", "name", "controller", "since", "contested_by"} <= set(entry)
    mosul = place(answer, "mosul")
    assert (mosul["name"], mosul["controller"], mosul["since"], mosul["contested_by"]) == (
        "Mosul", "isis", "2014-06-01", [])
    airport = place(answer, "deir_ez_zor_airport")
    assert (airport["controller"], airport["contested_by"]) == (None, ["isis"])
    assert place(answer, "shaar_gas_field")["controller"] == "isis"
    # the Iraqi assault on Tikrit was repelled: held by isis, no longer contested
    assert (place(answer, "tikrit")["controller"], place(answer, "tikrit")["contested_by"]) == ("isis", [])
    assert place(answer, "baghdad")["controller"] is None  # registered, never captured


def test_state_deployments_known_at(seeded_out) -> None:
    before = json.loads(seeded_out["deployments known 07-22 json"])
    assert before["deployments"] == []
    assert before["known_at"].startswith("2014-07-22T23:59:59")
    after = json.loads(seeded_out["deployments known 07-23 json"])
    by_place = {d["place"]: d for d in after["deployments"]}
    assert set(by_place) == {"baghdad_airport", "iraq"}
    airport = by_place["baghdad_airport"]
    assert {"actor", "place", "personnel", "equipment"} <= set(airport)
    assert (airport["actor"], airport["personnel"]) == ("united_states", 200)
    assert airport["equipment"] == {"AH-64 Apache helicopter gunship": 6, "RQ-7 Shadow surveillance drone": None}
    assert by_place["iraq"]["personnel"] is None and by_place["iraq"]["units"] == {"Special Forces team": 6}


def test_state_deployments_table(seeded_out, seeded_log) -> None:
    empty = seeded_out["deployments known 07-22"].splitlines()
    assert empty == ["deployments as of 2014-07-23, as known at 2014-07-22T23:59:59.999999+00:00 "
                     f"(log position {len(seeded_log)})",
                     "", "(nothing recorded)"]
    rows = {tuple(row[:2]): row for row in (re.split(r"\s{2,}", line)
                                            for line in seeded_out["deployments"].splitlines()[4:])}
    airport = rows["United States", "Baghdad International Airport"]
    assert airport[2:5] == ["200", "AH-64 Apache helicopter gunship: 6, RQ-7 Shadow surveillance drone: unknown", "-"]
    assert airport[5] != "June 2014"  # the article gives no date for it: sent by 23 July, not "in June"
    assert rows["United States", "Iraq"][2:] == ["unknown", "-", "Special Forces team: 6",
                                                 "between 1 and 30 June 2014", "-"]


# ---------------------------------------------------------------- append


def test_append_jsonl_events_and_reports_resolving_names_in_the_batch(db: Path) -> None:
    start = head(db)
    (db.parent / "batch.jsonl").write_text(jsonl(
        {"type": "ActorRegistered", "actor": "peshmerga", "name": "Peshmerga",
         "aliases": ["Kurdish Peshmerga"], "kind": "regional forces", "sources": REUTERS},
        {"type": "PlaceRegistered", "place": "kirkuk", "name": "Kirkuk", "aliases": ["Karkuk"],
         "kind": "city", "country": "Iraq", "lat": 35.47, "lon": 44.39, "sources": REUTERS},
        {"reported_on": "2014-06-13", "source": {"publisher": "BBC News"},
         "events": [{"type": "CityCaptured", "occurred_on": "2014-06-12", "place": "KARKUK",
                     "captured_by": "kurdish peshmerga", "captured_from": "Iraqi Army"},
                    {"type": "AssaultLaunched", "occurred_on": "2014-06-13", "reported_on": "2014-06-14",
                     "place": "kirkuk", "attacker": "ISIL", "sources": REUTERS}]},
    ))
    out = tracker(db, "append", "batch.jsonl").stdout
    assert out.strip() == f"appended 4 events at positions {start + 1}-{start + 4}"
    stored = [r["event"] for r in log_json(db, "--from", str(start + 1))]
    assert [e["type"] for e in stored] == ["ActorRegistered", "PlaceRegistered", "CityCaptured", "AssaultLaunched"]
    capture, assault = stored[2], stored[3]
    assert (capture["place"], capture["captured_by"], capture["captured_from"]) == \
        ("kirkuk", "peshmerga", "iraqi_forces")
    assert capture["reported_on"] == "2014-06-13" and capture["sources"] == [{"publisher": "BBC News"}]
    assert (assault["attacker"], assault["reported_on"], assault["sources"]) == ("isis", "2014-06-14", REUTERS)
    kirkuk = place(state(db, "territory"), "kirkuk")
    assert (kirkuk["controller"], kirkuk["contested_by"]) == ("peshmerga", ["isis"])


def test_append_json_report_file(db: Path) -> None:
    (db.parent / "report.json").write_text(json.dumps({
        "reported_on": "2014-06-12",
        "source": {"publisher": "Reuters", "url": "https://example.org/r"},
        "events": [
            {"type": "PlaceRegistered", "place": "samarra", "name": "Samarra", "kind": "city",
             "country": "Iraq", "lat": 34.2, "lon": 43.87},
            {"type": "AssaultLaunched", "occurred_on": "2014-06-05", "place": "Samarra", "attacker": "isis"},
        ]}, indent=2))
    out = tracker(db, "append", "--json", "report.json").stdout
    result = json.loads(out)
    assert result["new"] == 2 and result["positions"] == [head(db) - 1, head(db)]
    stored = {r["id"]: r["event"] for r in log_json(db, "--from", str(result["positions"][0]))}
    assert list(stored) == result["ids"]
    assault = stored[result["ids"][1]]
    assert assault["place"] == "samarra" and assault["reported_on"] == "2014-06-12"
    assert assault["sources"] == [{"publisher": "Reuters", "url": "https://example.org/r"}]
    assert place(state(db, "territory"), "samarra")["contested_by"] == ["isis"]


def test_append_yaml_report_file(db: Path) -> None:
    (db.parent / "report.yaml").write_text(
        "reported_on: 2014-06-12\n"
        "source: &article\n"
        "  publisher: The Guardian\n"
        "  url: https://example.org/guardian\n"
        "events:\n"
        "  - type: CityCaptured\n"
        "    occurred_on: 2014-06-11\n"
        "    place: Tekrit\n"
        "    captured_by: islamic state\n"
        "    sources:\n"
        "      - <<: *article\n"
        "        quote: Militants took control of Tikrit on Wednesday.\n"
        "  - type: AssetSeized\n"
        "    occurred_on: 2014-06-11\n"
        "    reported_on: 2014-06-13\n"
        "    actor: ISIS\n"
        "    asset: T-55 tank\n"
        "    quantity: 3\n"
        "    seized_from: iraqi troops\n")
    start = head(db)
    tracker(db, "append", "report.yaml")
    capture, seizure = (r["event"] for r in log_json(db, "--from", str(start + 1)))
    assert (capture["place"], capture["captured_by"], capture["reported_on"]) == ("tikrit", "isis", "2014-06-12")
    assert capture["sources"] == [{"publisher": "The Guardian", "url": "https://example.org/guardian",
                                   "quote": "Militants took control of Tikrit on Wednesday."}]
    assert (seizure["actor"], seizure["seized_from"], seizure["reported_on"]) == ("isis", "iraqi_forces", "2014-06-13")
    assert seizure["sources"] == [{"publisher": "The Guardian", "url": "https://example.org/guardian"}]
    tanks = next(h for a in state(db, "arsenal")["actors"] if a["actor"] == "isis"
                 for h in a["holdings"] if h["asset"] == "T-55 tank")
    assert tanks["quantity"] == 3


def test_append_from_stdin(db: Path) -> None:
    start = head(db)
    lines = jsonl({"type": "AttackCarriedOut", "occurred_on": "2014-06-20", "place": "bagdad",
                   "actor": "sunni militias", "method": "car bomb", "killed": 12, "sources": REUTERS},
                  {"type": "CiviliansDisplaced", "occurred_on": "2014-06-20", "place": "Mawsil",
                   "group": "residents", "count": 500000, "at_least": True, "sources": REUTERS})
    appended = tracker(db, "append", "-", stdin=lines).stdout.strip()
    assert appended == f"appended 2 events at positions {start + 1}-{start + 2}"
    report = "reported_on: 2014-06-21\nsource: {publisher: AP}\nevents:\n" \
             "  - {type: AttackCarriedOut, occurred_on: 2014-06-21, place: Baghdad, actor: ISIL, method: mortar}\n"
    tracker(db, "append", "-", stdin=report)
    stored = [r["event"] for r in log_json(db, "--from", str(start + 1))]
    assert [(e["type"], e["place"]) for e in stored] == [
        ("AttackCarriedOut", "baghdad"), ("CiviliansDisplaced", "mosul"), ("AttackCarriedOut", "baghdad")]
    assert stored[0]["actor"] == "sunni_militias" and stored[2]["actor"] == "isis"
    assert stored[2]["reported_on"] == "2014-06-21" and stored[2]["sources"] == [{"publisher": "AP"}]


def test_several_files_are_one_batch(db: Path) -> None:
    start = head(db)
    (db.parent / "a.jsonl").write_text(jsonl(
        {"type": "PlaceRegistered", "place": "baiji", "name": "Baiji", "kind": "town", "country": "Iraq",
         "lat": 34.93, "lon": 43.49, "sources": REUTERS}))
    (db.parent / "b.yaml").write_text(
        "- {type: CityCaptured, occurred_on: 2014-06-11, place: BAIJI, captured_by: isis,"
        " sources: [{publisher: Reuters}]}\n")
    out = tracker(db, "append", "--json", "a.jsonl", "b.yaml").stdout
    assert json.loads(out)["positions"] == [start + 1, start + 2]
    assert place(state(db, "territory"), "baiji")["controller"] == "isis"


def test_same_file_twice_stores_nothing_new(db: Path) -> None:
    ids = [str(uuid.uuid4()) for _ in range(2)]
    assault = {"type": "AssaultLaunched", "id": ids[0], "occurred_on": "2014-06-24", "place": "baghdad_airport",
               "attacker": "isis", "sources": REUTERS}
    (db.parent / "twice.jsonl").write_text(jsonl(
        assault,
        {"type": "AssaultRepelled", "id": ids[1], "occurred_on": "2014-06-25", "place": "baghdad_airport",
         "attacker": "isis", "defender": "iraqi_forces", "sources": REUTERS},
        assault))  # the same event twice in one batch is stored once
    start = head(db)
    first = tracker(db, "append", "twice.jsonl").stdout
    assert first.strip() == f"appended 2 events at positions {start + 1}-{start + 2}"
    stored = stored_rows(db)
    assert [row[1] for row in stored[start:]] == ids
    again = tracker(db, "append", "twice.jsonl").stdout
    assert again.strip() == "appended 0 events; 3 already in the log, left as they were"
    # a retry is a retry even with the head it saw before its first attempt
    retry = json.loads(tracker(db, "append", "--json", "--expected-position", str(start), "twice.jsonl").stdout)
    assert retry == {"positions": [start + 1, start + 2, start + 1], "ids": [*ids, ids[0]], "new": 0}
    assert stored_rows(db) == stored


def test_same_id_with_other_content_is_a_conflict(db: Path) -> None:
    start = head(db)
    (db.parent / "conflict.jsonl").write_text(jsonl(
        {"type": "AttackCarriedOut", "occurred_on": "2014-06-20", "place": "baghdad", "actor": "isis",
         "method": "car bomb", "sources": REUTERS},
        {"type": "CityCaptured", "id": MOSUL_CAPTURE, "occurred_on": "2014-06-10", "place": "mosul",
         "captured_by": "isis", "sources": REUTERS}))
    done = tracker(db, "append", "conflict.jsonl", expect=3)
    assert done.stderr.startswith("tracker: error: ") and MOSUL_CAPTURE in done.stderr
    assert "already stored at position" in done.stderr and done.stdout == ""
    assert head(db) == start


def test_expected_position(db: Path) -> None:
    start = head(db)
    (db.parent / "one.jsonl").write_text(jsonl(
        {"type": "AttackCarriedOut", "occurred_on": "2014-06-20", "place": "baghdad", "actor": "isis",
         "method": "car bomb", "sources": REUTERS}))
    stale = tracker(db, "append", "--expected-position", str(start - 1), "one.jsonl", expect=3)
    assert f"expected the log's head at position {start - 1}, but it is at {start}" in stale.stderr
    assert head(db) == start
    ok = tracker(db, "append", "--expected-position", str(start), "one.jsonl")
    assert ok.stdout.strip() == f"appended 1 event at position {start + 1}"


# ---------------------------------------------------------------- log, replay, schema


def test_log_from_and_limit(seeded_out, seeded_log) -> None:
    records = [json.loads(line) for line in seeded_out["log 10+5"].splitlines()]
    assert [r["position"] for r in records] == [10, 11, 12, 13, 14]
    for r in records:
        assert list(r) == ["position", "id", "recorded_at", "recorded_by", "event"]
        assert r["recorded_by"] == LOCAL
        assert r["id"] == r["event"]["id"] and r["recorded_at"].endswith("+00:00")
    assert records == seeded_log[9:14]


def test_log_text_reads_as_prose(seeded_out, seeded_log) -> None:
    """Each event's id (for a retraction), and actors and places by name."""
    text = seeded_out["log text"].splitlines()
    assert text[0].split() == ["pos", "id", "recorded", "(UTC)", "type", "occurred", "what", "source", "by"]
    rows = [re.split(r"\s{2,}", line) for line in text[2:]]
    assert [(int(r[0]), r[1], r[3]) for r in rows] == [(x["position"], x["id"], x["event"]["type"])
                                                       for x in seeded_log]
    what: dict[str, list[str]] = {}
    for r in rows:  # a corrected fact reads like the fact it corrects: the first is the shipped one
        what.setdefault(r[5], r)
    isis, isf = "Islamic State in Iraq and Syria", "Iraqi Security Forces"
    assert what[f"{isis} captured Mosul from {isf}"][3:5] == ["CityCaptured", "June 2014"]
    assert f"{isis} seized 1,500 Humvee from {isf} at Iraq" in what
    assert f"{isis} controls over 60% of oil in Syria (180,000 barrels/day)" in what
    assert what[f"actor isis: {isis}"][4] == "-"  # reference data has no date
    # two sources, one publisher: named once
    christians = f"over 1,000 Christians displaced from Mosul by {isis}"
    assert what[christians][4:] == ["week of 2014-07-14", christians, "World Socialist Web Site", LOCAL]


def test_log_text_of_appended_events(db: Path) -> None:
    start = head(db)
    tracker(db, "append", "-", stdin=jsonl(
        {"type": "ResourceControlled", "occurred_on": "2014-06-01", "precision": "month", "actor": "isis",
         "resource": "natural gas", "place": "shaar_gas_field", "output": 3000000, "output_unit": "m3/day (est.)",
         "sources": [{"publisher": "IEA"}, {"publisher": "Reuters"}, {"publisher": "IEA"}]},
        {"type": "ForcesWithdrawn", "occurred_on": "2014-06-09", "precision": "week", "actor": "iraqi_forces",
         "place": "mosul", "personnel": 30000, "equipment": {"Humvee": None}, "sources": REUTERS}))
    rows = [re.split(r"\s{2,}", line) for line in tracker(db, "log", "--from", str(start + 1)).stdout.splitlines()[2:]]
    assert [r[3:] for r in rows] == [
        ["ResourceControlled", "June 2014",
         "Islamic State in Iraq and Syria controls natural gas in Shaar gas field (3,000,000 m3/day (est.))",
         "IEA, Reuters", LOCAL],
        ["ForcesWithdrawn", "week of 2014-06-09",
         "Iraqi Security Forces withdrew 30,000 personnel, an unknown number of Humvee from Mosul", "Reuters", LOCAL]]


def test_log_from_zero_is_refused(db: Path) -> None:
    done = tracker(db, "log", "--from", "0", expect=2)
    assert done.stderr.startswith("tracker: error: --from must be 1 or more") and done.stdout == ""


def test_replay(seeded_out, seeded_log) -> None:
    out = seeded_out["replay"]
    assert out.startswith(f"replayed {len(seeded_log)} events (log position {len(seeded_log)}) in ")
    rows = {r[0]: r[1:] for r in (re.split(r"\s{2,}", line) for line in out.splitlines()[3:])}
    assert set(rows) == {"read in history order", "decode", "fold every projection", "territory", "arsenal",
                         "deployments"}
    assert rows["territory"] == ["5"]  # the five places captured in the seeds
    report = json.loads(seeded_out["replay json"])
    assert report["events"] == report["position"] == len(seeded_log)
    for key in ("read_seconds", "decode_seconds", "fold_seconds", "total_seconds", "events_per_second"):
        assert isinstance(report[key], float) and report[key] >= 0
    assert {name: p["entries"] for name, p in report["projections"].items()} == {
        "territory": 5, "arsenal": 5, "deployments": 2}


def test_schema_lists_every_event_type(tmp_path: Path) -> None:
    schema = json.loads(run("schema", cwd=tmp_path).stdout)
    assert set(schema["$defs"]["Event"]["properties"]["type"]["enum"]) == {
        "CityCaptured", "AssaultLaunched", "AssaultRepelled", "AssetSeized", "ForcesDeployed", "ForcesWithdrawn",
        "CiviliansDisplaced", "AttackCarriedOut", "ResourceControlled", "ActorRegistered", "PlaceRegistered",
        "EventRetracted"}
    assert not (tmp_path / "tracker.db").exists()  # schema needs no store


def test_unavailable_store_exits_4(tmp_path: Path) -> None:
    done = run("state", "territory", "--db", str(tmp_path / "missing" / "x.db"), cwd=tmp_path, expect=4)
    assert "folder" in done.stderr and "does not exist" in done.stderr


# ---------------------------------------------------------------- time: retractions and late reports


def test_retraction_end_to_end(db: Path, seeded_log) -> None:
    capture = next(r for r in seeded_log
                   if r["event"]["type"] == "CityCaptured" and r["event"]["place"] == "mosul")
    (db.parent / "retract.jsonl").write_text(jsonl(
        {"type": "EventRetracted", "retracts": capture["id"], "reported_on": "2014-08-01",
         "reason": "the capture was misreported", "sources": REUTERS}))
    tracker(db, "append", "retract.jsonl")
    line = tracker(db, "log", "--from", str(head(db))).stdout.splitlines()[2]  # who retracted what
    assert (f"{LOCAL} retracted {capture['id']} (position {capture['position']}, CityCaptured, appended by {LOCAL}): "
            "the capture was misreported") in line
    now, table, before, before_as_of, on_the_day = tracker_all(
        db, ("state", "territory", "--json"), ("state", "territory"),
        ("state", "territory", "--json", "--known-at", "2014-07-31"),
        ("state", "territory", "--json", "--as-of", "2014-07-01", "--known-at", "2014-07-31T23:00:00Z"),
        ("state", "territory", "--json", "--as-of", "2014-07-01", "--known-at", "2014-08-01"))
    now = json.loads(now.stdout)
    assert place(now, "mosul")["controller"] is None and place(now, "mosul")["event"] is None
    assert place(now, "tikrit")["controller"] == "isis"  # other facts stand
    mosul = next(line for line in table.stdout.splitlines() if line.startswith("Mosul "))
    assert re.split(r"\s{2,}", mosul)[1:3] == ["no controller recorded", "-"]
    # what we knew before the retraction was reported; from its reported_on, whatever the as-of date
    assert place(json.loads(before.stdout), "mosul")["controller"] == "isis"
    assert place(json.loads(before_as_of.stdout), "mosul")["controller"] == "isis"
    assert place(json.loads(on_the_day.stdout), "mosul")["controller"] is None


def test_late_report_takes_its_place_in_history(db: Path) -> None:
    (db.parent / "retaken.jsonl").write_text(jsonl(
        {"type": "CityCaptured", "occurred_on": "2014-07-20", "reported_on": "2014-07-21", "place": "tikrit",
         "captured_by": "iraqi_forces", "captured_from": "isis", "sources": REUTERS}))
    (db.parent / "late.jsonl").write_text(jsonl(
        {"type": "CityCaptured", "occurred_on": "2014-07-01", "reported_on": "2014-07-22", "place": "tikrit",
         "captured_by": "isis", "sources": REUTERS}))
    (retaken,) = json.loads(tracker(db, "append", "--json", "retaken.jsonl").stdout)["positions"]
    (late,) = json.loads(tracker(db, "append", "--json", "late.jsonl").stdout)["positions"]
    assert late > retaken
    on_23, on_10, table = tracker_all(db, ("state", "territory", "--json", "--as-of", "2014-07-23"),
                                      ("state", "territory", "--json", "--as-of", "2014-07-10"),
                                      ("state", "territory", "--as-of", "2014-07-23"))
    tikrit = place(json.loads(on_23.stdout), "tikrit")
    assert (tikrit["controller"], tikrit["since"]) == ("iraqi_forces", "2014-07-20")
    history = json.loads(tracker(db, "history", "tikrit", "--json", "--as-of", "2014-07-23").stdout)
    captures = [(e["event"]["captured_by"], e["event"]["occurred_from"], e["status"]) for e in history["entries"]
                if e["event"]["type"] == "CityCaptured"]
    assert captures == [("iraqi_forces", "2014-07-20", "settled"), ("isis", "2014-07-01", "settled"),
                        ("isis", "2014-06-01", "settled")]  # newest first in history order: the late one slots in
    positions = [e["position"] for e in history["entries"]]
    assert positions[0] == retaken and late in positions
    assert place(json.loads(on_10.stdout), "tikrit")["controller"] == "isis"
    row = next(line for line in table.stdout.splitlines() if line.startswith("Tikrit "))
    assert re.split(r"\s{2,}", row)[1:3] == ["Iraqi Security Forces", "20 July 2014"]
