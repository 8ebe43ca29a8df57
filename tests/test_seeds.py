"""The seeds tell the article's story: the state at the dates the article speaks of.

In-process against a real SQLite file; each fact's quote is checked against the article
itself, kept in the repository at seeds/source/ (see its README). The shipped seed (2014-07-23-wsws-isis-offensive)
is append-only like the log: its corrections file retracts what it dated wrongly and states
it again, and a log seeded by the previous release and seeded again answers every query as a
fresh seed does.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, load_report, run_tracker
from tracker.core.dates import parse_known_at
from tracker.seeds import seed_dir, seed_files
from tracker.service import Tracker

ARTICLE = ROOT / "seeds" / "source" / "000_4ca01505c56ca447.txt"  # a copy of the source
SHIPPED = "2014-07-23-wsws-isis-offensive.yaml"  # the previous release's seed: never edited
CORRECTIONS = "2014-07-23-wsws-isis-offensive_corrections.yaml"
SHIPPED_DIGEST = "9a252b31ca8ea27ef222d31ae3cb10b90769ccec71fc877bb18d0a590d1d23bb"
NAMESPACE = uuid.UUID("6f1c3a52-8d1e-4f7a-9a3b-2c4d5e6f7a8b")


def sid(slug: str) -> str:
    """A seed event's id, from the slug its file's comment names."""
    return str(uuid.uuid5(NAMESPACE, f"seed:{slug}"))


# The facts of the article, by the id of the event that states each one, as the fold sees them
MOSUL_CAPTURE = sid("mosul-captured")  # "last month": 1-30 June
MOSUL_RESOURCES = sid("mosul-resources-seized")  # with the capture: 1-30 June
TIKRIT_CAPTURE = sid("tikrit-captured")  # "last month": 1-30 June
TRABIL_CAPTURE = sid("trabil-crossing-captured-corrected")  # undated: 1 June - 23 July
TIKRIT_ASSAULT = sid("tikrit-assault-launched-corrected")  # "on Tuesday": 15 July
TIKRIT_REPULSE = sid("tikrit-assault-repelled-corrected")  # "last week", after the assault: 15-20 July
SHAAR_ASSAULT = sid("shaar-gas-field-assault-launched")  # "last week": 14-20 July
SHAAR_CAPTURE = sid("shaar-gas-field-captured")  # "last week": 14-20 July
DEIR_EZ_ZOR_ASSAULT = sid("deir-ez-zor-airport-assault-launched-corrected")  # under way: 1 June - 23 July
SEIZURES = {sid("humvees-seized-corrected"), sid("pkc-machine-guns-seized-corrected"),
            sid("m198-howitzers-seized-corrected")}  # undated: 1 June - 23 July
SPECIAL_FORCES = sid("us-special-forces-iraq")  # "in June"
AIRPORT_TROOPS = sid("us-forces-baghdad-airport-corrected")  # undated: 1 June - 23 July

# The original events each correction supersedes (seed:SLUG -> seed:retract-SLUG, seed:SLUG-corrected)
SUPERSEDED = ("trabil-crossing-captured", "humvees-seized", "pkc-machine-guns-seized", "m198-howitzers-seized",
              "us-forces-baghdad-airport", "tikrit-assault-launched", "tikrit-assault-repelled",
              "mosul-christians-expelled", "deir-ez-zor-airport-assault-launched", "isis-syria-oil-control")


@pytest.fixture
async def seeded(db: Path):
    """A tracker on a private copy of conftest's seeded store (every seed report, appended in this process)."""
    async with await Tracker.open(str(db)) as tracker:
        yield tracker


def _by(entries, key):
    return {e[key]: e for e in entries}


def _pending(entry: dict | None) -> set[str]:
    """The ids of the facts an entry lists as pending (an entry may list ids or records)."""
    found = set()
    for item in (entry or {}).get("pending") or ():
        found.add(item if isinstance(item, str) else (item.get("event") or item.get("id")))
    return found


def _days(first: str, last: str) -> list[str]:
    a, b = date.fromisoformat(first), date.fromisoformat(last)
    return [(a + timedelta(days=i)).isoformat() for i in range((b - a).days + 1)]


# ---------------------------------------------------------------- the files themselves


def test_seed_files_in_order():
    names = [p.name for p in seed_files()]
    assert names == [SHIPPED, CORRECTIONS], "the corrections must follow the seed they correct"


def test_the_shipped_seed_is_never_edited():
    """The previous release appended these events: an edit would make a re-seed a conflict.
    (Its comments may change; its report may not.)"""
    report = yaml.safe_load((seed_dir() / SHIPPED).read_text(encoding="utf-8"))
    assert hashlib.sha256(json.dumps(report, sort_keys=True, default=str).encode()).hexdigest() == SHIPPED_DIGEST


@pytest.mark.parametrize("name", [SHIPPED, CORRECTIONS])
def test_every_id_is_the_uuid5_of_its_slug(name):
    lines = [line for line in (seed_dir() / name).read_text(encoding="utf-8").splitlines()
             if re.match(r"^\s+-?\s*(id|retracts):", line)]
    assert lines
    for line in lines:
        found = re.match(r"^\s+-?\s*(?:id|retracts): ([0-9a-f-]{36})  # seed:([a-z0-9-]+)$", line)
        assert found, f"{name}: no slug comment on {line.strip()!r}"
        assert found[1] == sid(found[2]), line


def test_each_superseded_event_is_retracted_once_and_replaced():
    shipped = {e["id"]: e for e in yaml.safe_load((seed_dir() / SHIPPED).read_text())["events"]}
    report = yaml.safe_load((seed_dir() / CORRECTIONS).read_text())
    assert str(report["reported_on"]) == "2014-07-23"  # the article supported the right reading that day
    events = report["events"]
    retracted = [e["retracts"] for e in events if e["type"] == "EventRetracted"]
    assert sorted(retracted) == sorted(sid(slug) for slug in SUPERSEDED)
    assert set(retracted) <= set(shipped)
    ids = {e["id"]: e for e in events}
    for slug in SUPERSEDED:
        original, corrected = shipped[sid(slug)], ids[sid(f"{slug}-corrected")]
        assert corrected["type"] == original["type"], slug
        assert ids[sid(f"retract-{slug}")]["reason"].strip(), slug
        assert "reported_on" not in corrected, f"{slug}: inherits the article's reported_on"
    assert not set(ids) & set(shipped), "a correction is a new event, never a shipped id"


# ---------------------------------------------------------------- what the fresh seed says, day by day

# Per place: (first day, last day, controller, contested_by, pending) over 2014-06-01 .. 2014-07-31.
# A fact is settled once its window has ended, pending while its window holds the day.
QUIET = [("2014-06-01", "2014-07-31", None, [], set())]
TERRITORY = {
    "mosul": [("2014-06-01", "2014-06-29", None, [], {MOSUL_CAPTURE}),
              ("2014-06-30", "2014-07-31", "isis", [], set())],
    "tikrit": [("2014-06-01", "2014-06-29", None, [], {TIKRIT_CAPTURE}),
               ("2014-06-30", "2014-07-14", "isis", [], set()),
               # the assault of 15 July is settled; the defeat "last week" may come any day to the 20th
               ("2014-07-15", "2014-07-19", "isis", ["iraqi_forces"], {TIKRIT_REPULSE}),
               ("2014-07-20", "2014-07-31", "isis", [], set())],
    "trabil_crossing": [("2014-06-01", "2014-07-22", None, [], {TRABIL_CAPTURE}),
                        ("2014-07-23", "2014-07-31", "isis", [], set())],
    "shaar_gas_field": [("2014-06-01", "2014-07-13", None, [], set()),
                        ("2014-07-14", "2014-07-19", None, [], {SHAAR_ASSAULT, SHAAR_CAPTURE}),
                        ("2014-07-20", "2014-07-31", "isis", [], set())],
    # "not currently held by ISIS": no holder recorded, contested once the assault is settled
    "deir_ez_zor_airport": [("2014-06-01", "2014-07-22", None, [], {DEIR_EZ_ZOR_ASSAULT}),
                            ("2014-07-23", "2014-07-31", None, ["isis"], set())],
    **dict.fromkeys(("iraq", "syria", "baghdad", "baghdad_airport", "homs", "deir_ez_zor"), QUIET),
}
RESOURCES = "the city's military and commercial resources"
WEAPONS = {"Humvee": 1500, "PKC machine gun": 4000, "M198 155 mm howitzer": 52}
# ISIS's arsenal: (first day, last day, holdings, pending)
ARSENAL = [("2014-06-01", "2014-06-29", {}, {MOSUL_RESOURCES} | SEIZURES),
           ("2014-06-30", "2014-07-22", {RESOURCES: None}, SEIZURES),
           ("2014-07-23", "2014-07-31", {RESOURCES: None, **WEAPONS}, set())]
AIRPORT = (200, {"AH-64 Apache helicopter gunship": 6, "RQ-7 Shadow surveillance drone": None}, {})
TEAMS = (None, {}, {"Special Forces team": 6})
NOTHING = (None, {}, {})
# per (actor, place): (first day, last day, (personnel, equipment, units), pending)
DEPLOYMENTS = {
    ("united_states", "iraq"): [("2014-06-01", "2014-06-29", NOTHING, {SPECIAL_FORCES}),
                                ("2014-06-30", "2014-07-31", TEAMS, set())],
    ("united_states", "baghdad_airport"): [("2014-06-01", "2014-07-22", NOTHING, {AIRPORT_TROOPS}),
                                           ("2014-07-23", "2014-07-31", AIRPORT, set())],
}


def _expected(ranges, day):
    (found,) = [r[2:] for r in ranges if r[0] <= day <= r[1]]
    return found


def test_the_tables_cover_every_day():
    days = _days("2014-06-01", "2014-07-31")
    for ranges in [*TERRITORY.values(), ARSENAL, *DEPLOYMENTS.values()]:
        for day in days:
            _expected(ranges, day)  # exactly one range per day


async def test_territory_day_by_day(seeded):
    wrong = []
    for day in _days("2014-06-01", "2014-07-31"):
        places = _by((await seeded.state("territory", day))["places"], "place")
        assert set(places) == set(TERRITORY), day
        for place, ranges in TERRITORY.items():
            controller, contested_by, pending = _expected(ranges, day)
            entry = places[place]
            got = (entry["controller"], entry["contested_by"], entry["contested"], _pending(entry))
            if got != (controller, contested_by, bool(contested_by), pending):
                wrong.append((day, place, got))
    assert not wrong, wrong[:10]


async def test_arsenal_day_by_day(seeded):
    wrong = []
    for day in _days("2014-06-01", "2014-07-31"):
        actors = _by((await seeded.state("arsenal", day))["actors"], "actor")
        assert set(actors) <= {"isis"}, day
        isis = actors.get("isis", {})
        holdings = {h["asset"]: h["quantity"] for h in isis.get("holdings", [])}
        expected_holdings, pending = _expected(ARSENAL, day)
        if (holdings, _pending(isis)) != (expected_holdings, pending):
            wrong.append((day, holdings, _pending(isis)))
        oil = [(r["resource"], r["share_percent"], r["at_least"], r["output"]) for r in isis.get("resources", [])]
        if oil != ([("oil", 60, ["share_percent"], 180000)] if day >= "2014-07-23" else []):
            wrong.append((day, oil))
    assert not wrong, wrong[:10]


async def test_deployments_day_by_day(seeded):
    wrong = []
    for day in _days("2014-06-01", "2014-07-31"):
        found = {(d["actor"], d["place"]): d for d in (await seeded.state("deployments", day))["deployments"]}
        assert set(found) <= set(DEPLOYMENTS), day
        for key, ranges in DEPLOYMENTS.items():
            figures, pending = _expected(ranges, day)
            entry = found.get(key, {})
            got = (entry.get("personnel"), entry.get("equipment") or {}, entry.get("units") or {})
            if (got, _pending(entry)) != (figures, pending):
                wrong.append((day, key, got, _pending(entry)))
    assert not wrong, wrong[:10]


async def test_nothing_is_held_before_the_offensive(seeded):
    places = _by((await seeded.state("territory", "2014-05-31"))["places"], "place")
    assert places["mosul"]["controller"] is None
    assert not any(p["controller"] or p["contested"] or _pending(p) for p in places.values())
    assert (await seeded.state("arsenal", "2014-05-31"))["actors"] == []
    assert (await seeded.state("deployments", "2014-05-31"))["deployments"] == []


async def test_territory_on_the_day_of_the_article(seeded):
    places = _by((await seeded.state("territory", "2014-07-23"))["places"], "place")
    for place in ("mosul", "tikrit", "trabil_crossing", "shaar_gas_field"):
        assert places[place]["controller"] == "isis", place
        history = await seeded.history("territory", (place,), "2014-07-23")
        assert [e["event"]["captured_by"] for e in history["entries"] if e["status"] == "settled"
                and e["event"]["type"] == "CityCaptured"] == ["isis"], place
    assert places["deir_ez_zor_airport"]["contested_by"] == ["isis"]
    assert places["deir_ez_zor_airport"]["controller"] is None
    assert places["tikrit"]["contested"] is False, "the Iraqi assault on Tikrit was repelled"
    assert all(p["sources"] for p in places.values() if p["controller"])
    # the retracted originals count in no state: the current holding is the corrected capture
    assert places["trabil_crossing"]["event"] == TRABIL_CAPTURE
    trabil = await seeded.history("territory", ("trabil_crossing",), "2014-07-23")
    assert {e["status"] for e in trabil["entries"] if e["id"] != TRABIL_CAPTURE} == {"retracted"}


async def test_arsenal_and_oil(seeded):
    actors = _by((await seeded.state("arsenal"))["actors"], "actor")
    holdings = _by(actors["isis"]["holdings"], "asset")
    assert {asset: holdings[asset]["quantity"] for asset in WEAPONS} == WEAPONS
    [oil] = actors["isis"]["resources"]
    # "more than 60 percent": the share is a lower bound, the 180,000 barrels per day is not
    assert (oil["resource"], oil["share_percent"], oil["at_least"], oil["output"], oil["output_unit"]) == \
        ("oil", 60.0, ["share_percent"], 180000, "barrels/day")


async def test_deployments(seeded):
    deployed = {(d["actor"], d["place"]): d for d in (await seeded.state("deployments", "2014-07-23"))["deployments"]}
    airport = deployed[("united_states", "baghdad_airport")]
    assert airport["personnel"] == 200
    assert airport["equipment"] == {"AH-64 Apache helicopter gunship": 6, "RQ-7 Shadow surveillance drone": None}
    assert deployed[("united_states", "iraq")]["units"] == {"Special Forces team": 6}


async def test_nothing_was_known_before_the_article(seeded):
    known_at = datetime(2014, 7, 22, 23, 59, 59, tzinfo=UTC)
    state = await seeded.state("deployments", "2014-07-23", known_at)
    assert state["deployments"] == []
    for day in ("2014-06-15", "2014-07-16", "2014-07-23", None):
        places = (await seeded.state("territory", day, known_at))["places"]
        assert not any(p["controller"] or p["contested"] or _pending(p) for p in places), day


async def test_seeding_twice_stores_nothing_new(seeded):
    head = await seeded.store.head()
    again = sum([(await seeded.append(load_report(path))).new for path in seed_files()])
    assert again == 0 and await seeded.store.head() == head


async def test_places_registered_again_carry_geo_precision(seeded):
    catalog = {r.event["place"]: r.event for r in await seeded.read() if r.event["type"] == "PlaceRegistered"}
    precision = {place: e["geo_precision"] for place, e in catalog.items()}  # the latest registration wins
    assert precision == {"iraq": 3, "syria": 3, "mosul": 1, "tikrit": 1, "baghdad": 1, "baghdad_airport": 1,
                         "homs": 1, "deir_ez_zor": 1, "deir_ez_zor_airport": 1,
                         "trabil_crossing": 2, "shaar_gas_field": 2}  # rough estimates: approximate, read as 2


# ---------------------------------------------------------------- a log seeded by the previous release


def cli(*args: str, cwd: Path) -> str:
    """The command's stdout; it must exit 0 with no traceback."""
    return run_tracker(*args, cwd=cwd, timeout=120).stdout


@pytest.fixture
def upgraded(tmp_path) -> tuple[Path, Path]:
    """(fresh, upgraded): a store seeded now, and one seeded by the previous release (its one
    seed file appended alone) and then seeded again."""
    fresh, old = tmp_path / "fresh.db", tmp_path / "old.db"
    cli("seed", "--db", str(fresh), cwd=tmp_path)
    shipped = len(yaml.safe_load((seed_dir() / SHIPPED).read_text())["events"])
    assert cli("append", str(seed_dir() / SHIPPED), "--db", str(old), cwd=tmp_path).strip() == \
        f"appended {shipped} events at positions 1-{shipped}"
    total = sum(len(yaml.safe_load(p.read_text())["events"]) for p in seed_files())
    assert cli("seed", "--db", str(old), cwd=tmp_path).strip() == (
        f"seeded {old}: appended {total - shipped} events at positions {shipped + 1}-{total}; "
        f"{shipped} already in the log, left as they were; log head at {total}")
    return fresh, old


def _log(db: Path) -> list[tuple]:
    return [(r["position"], r["id"], r["event"])
            for r in map(json.loads, cli("log", "--json", "--db", str(db), cwd=db.parent).splitlines())]


def test_reseeding_an_old_log_stores_what_a_fresh_seed_stores(upgraded):
    fresh, old = upgraded
    assert _log(old) == _log(fresh)  # same events, same positions: only recorded_at differs
    total = len(_log(fresh))
    assert cli("seed", "--db", str(old), cwd=old.parent).strip() == (
        f"seeded {old}: appended 0 events; {total} already in the log, left as they were; log head at {total}")


AS_OF = (None, "2014-05-31", "2014-06-05", "2014-06-30", "2014-07-15", "2014-07-16", "2014-07-20", "2014-07-22",
         "2014-07-23", "2014-07-31")
KNOWN_AT = (None, "2014-07-22", "2014-07-23T00:00:00Z", "2014-07-23")


def _without_position(answer: dict) -> dict:
    return {k: v for k, v in answer.items() if k != "position"}


async def test_reseeding_an_old_log_answers_as_a_fresh_seed(upgraded):
    fresh_db, old_db = upgraded
    differ = []
    async with await Tracker.open(str(fresh_db)) as fresh, await Tracker.open(str(old_db)) as old:
        for projection in ("territory", "arsenal", "deployments"):
            for as_of in AS_OF:
                for known_at in map(parse_known_at, KNOWN_AT):
                    a = await fresh.state(projection, as_of, known_at)
                    b = await old.state(projection, as_of, known_at)
                    if _without_position(a) != _without_position(b):
                        differ.append((projection, as_of, known_at))
    assert not differ, differ
    for args in (("territory", "--as-of", "2014-07-16"), ("arsenal", "--as-of", "2014-06-05"),
                 ("deployments", "--known-at", "2014-07-23")):  # and as the command prints it
        a, b = (_without_position(json.loads(cli("state", *args, "--json", "--db", str(db), cwd=db.parent)))
                for db in (fresh_db, old_db))
        assert a == b, args


# ---------------------------------------------------------------- quotes


def _words(text: str) -> str:
    text = text.replace("\u2019", "'").replace("\u201c", '"').replace("\u201d", '"').replace("*", "")
    return re.sub(r"\s+", " ", text).strip().lower()


async def test_every_quote_is_in_the_article(seeded):
    article = _words(ARTICLE.read_text(encoding="utf-8"))  # in the repository: never skipped
    records = await seeded.read()
    quotes = [(r.event["type"], s["quote"]) for r in records for s in r.event["sources"] if "quote" in s]
    facts = [r for r in records if r.event["type"] not in ("ActorRegistered", "PlaceRegistered")]
    assert all(any("quote" in s for s in r.event["sources"]) for r in facts), "every fact cites a passage"
    missing = [(kind, q) for kind, q in quotes if _words(q).strip('"') not in article]
    assert not missing, missing
