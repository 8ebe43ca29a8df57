"""The seeds tell the article's story: the state at the dates the article speaks of.

In-process against a real SQLite file; each fact's quote is checked against the article
itself, kept in the repository at seeds/source/ (see its README).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import ROOT, append_seeds
from tracker.core.reports import parse
from tracker.seeds import seed_files
from tracker.service import Tracker

ARTICLE = ROOT / "seeds" / "source" / "000_4ca01505c56ca447.txt"


def load_file(path: Path):
    return parse(path.read_text(encoding="utf-8"), str(path))


@pytest.fixture
async def seeded(tmp_path):
    async with await Tracker.open(str(tmp_path / "seeded.db")) as tracker:
        await append_seeds(tracker)
        yield tracker


def _by(entries, key):
    return {e[key]: e for e in entries}


async def test_nothing_is_held_before_the_offensive(seeded):
    places = _by((await seeded.state("territory", "2014-05-31"))["places"], "place")
    assert places["mosul"]["controller"] is None
    assert not any(p["controller"] or p["contested"] for p in places.values())
    assert (await seeded.state("arsenal", "2014-05-31"))["actors"] == []
    assert (await seeded.state("deployments", "2014-05-31"))["deployments"] == []


async def test_territory_on_the_day_of_the_article(seeded):
    places = _by((await seeded.state("territory", "2014-07-23"))["places"], "place")
    for place in ("mosul", "tikrit", "trabil_crossing"):
        assert (places[place]["controller"], places[place]["since"], places[place]["since_precision"]) == \
            ("isis", "2014-06-01", "month"), place
        assert places[place]["since_text"] == "June 2014"
    shaar = places["shaar_gas_field"]
    assert (shaar["controller"], shaar["since"], shaar["since_precision"]) == ("isis", "2014-07-14", "week")
    assert places["deir_ez_zor_airport"]["contested_by"] == ["isis"]
    assert places["deir_ez_zor_airport"]["controller"] is None
    assert places["tikrit"]["contested"] is False, "the Iraqi assault on Tikrit was repelled"
    assert [h["controller"] for h in places["mosul"]["history"]] == ["isis"]
    assert all(h["sources"] for p in places.values() for h in p["history"])


async def test_arsenal_and_oil(seeded):
    actors = _by((await seeded.state("arsenal"))["actors"], "actor")
    holdings = _by(actors["isis"]["holdings"], "asset")
    assert holdings["Humvee"]["quantity"] == 1500
    assert holdings["PKC machine gun"]["quantity"] == 4000
    assert holdings["M198 155 mm howitzer"]["quantity"] == 52
    [oil] = actors["isis"]["resources"]
    assert (oil["resource"], oil["share_percent"], oil["at_least"], oil["output"], oil["output_unit"]) == \
        ("oil", 60.0, True, 180000, "barrels/day")


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
    places = (await seeded.state("territory", None, known_at))["places"]
    assert not any(p["controller"] for p in places)


async def test_seeding_twice_stores_nothing_new(seeded):
    head = await seeded.store.head()
    again = sum([(await seeded.append(load_file(path))).new for path in seed_files()])
    assert again == 0 and await seeded.store.head() == head


def _words(text: str) -> str:
    text = text.replace("\u2019", "'").replace("\u201c", '"').replace("\u201d", '"')
    return re.sub(r"\s+", " ", text).strip().lower()


async def test_every_quote_is_in_the_article(seeded):
    article = _words(ARTICLE.read_text(encoding="utf-8"))  # in the repository: never skipped
    records = await seeded.read()
    quotes = [(r.event["type"], s["quote"]) for r in records for s in r.event["sources"] if "quote" in s]
    facts = [r for r in records if r.event["type"] not in ("ActorRegistered", "PlaceRegistered")]
    assert all(any("quote" in s for s in r.event["sources"]) for r in facts), "every fact cites a passage"
    missing = [(kind, q) for kind, q in quotes if _words(q).strip('"') not in article]
    assert not missing, missing
