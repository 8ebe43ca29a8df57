"""A log written by the previous release (before windows, geo_precision and at_least lists)
reads unchanged: its stored text and digest stay as they were, and every event is served in
the current shape.

`data/previous_release_seeded.jsonl` is `tracker export` of a store seeded by the release
before this change (33 events of the seed report as first shipped); its `tracker verify`
digest, taken with that release, is below.
"""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from tests.conftest import ROOT
from tracker.core.records import decode
from tracker.core.upcast import upcast
from tracker.service import Tracker
from tracker.transfer import digest, parse_export

LOG = ROOT / "tests" / "data" / "previous_release_seeded.jsonl"
DIGEST = "5d755cda0f6ecbf5a2a86ee127b94270e815379098f1b7cbadbc64f218bccecb"  # the previous release's verify


@pytest.fixture
async def imported(tmp_path):
    async with await Tracker.open(str(tmp_path / "old.db")) as tracker:
        await tracker.store.import_events(parse_export(LOG.read_text(encoding="utf-8"), str(LOG)))
        yield tracker


async def test_the_digest_and_the_export_are_the_stored_text(imported, tmp_path):
    assert (await digest(imported.store))["sha256"] == DIGEST
    from tracker.transfer import export

    lines: list[str] = []
    await export(imported.store, lines.append)
    assert "".join(lines) == LOG.read_text(encoding="utf-8")  # never the upcast shape


async def test_every_event_is_served_in_the_current_shape(imported):
    for record in await imported.read():
        e = record.event
        if e["type"] in ("ActorRegistered", "PlaceRegistered", "EventRetracted"):
            assert "occurred_from" not in e
            if e["type"] == "PlaceRegistered":
                assert e["geo_precision"] == (2 if e.get("approximate") else 1)
            continue
        assert e["occurred_from"] <= e["occurred_to"]
        if e.get("precision", "day") == "day":
            assert e["occurred_from"] == e["occurred_to"] == e["occurred_on"]
        if "at_least" in e:
            assert isinstance(e["at_least"], list)
    stored = {json.loads(line)["position"]: json.loads(line)["event"] for line in LOG.read_text().splitlines()}
    oil = next(e for e in stored.values() if e["type"] == "ResourceControlled" and e.get("share_percent"))
    assert oil["at_least"] is True  # stored as the old release wrote it
    assert upcast(dict(oil))["at_least"] == ["share_percent", "output"]  # read as every figure it gives


async def test_the_old_log_answers_with_the_new_rules(imported):
    """Mosul fell 'last month' (stored as June 2014): pending through June, settled after."""
    mid_june = await imported.state("territory", "2014-06-15")
    mosul = next(p for p in mid_june["places"] if p["place"] == "mosul")
    assert mosul["controller"] is None and [e["type"] for e in mosul["pending"]] == ["CityCaptured"]
    assert mosul["pending_text"] == ["possibly captured by Islamic State in Iraq and Syria between 1 and 30 June 2014"]
    july = await imported.state("territory", "2014-07-01")
    mosul = next(p for p in july["places"] if p["place"] == "mosul")
    assert (mosul["controller"], mosul["since"], mosul["since_to"], mosul["pending"]) == \
        ("isis", "2014-06-01", "2014-06-30", [])


def test_a_record_decodes_without_changing_the_stored_text():
    line = json.loads(LOG.read_text().splitlines()[-1])
    text = json.dumps(line["event"])
    record = decode(line["position"], datetime.fromisoformat(line["recorded_at"]), text)
    assert json.loads(text) == line["event"] and record.event["occurred_from"]
