"""The stored text of an event does not depend on the path that made it.

`prepare` serialises most events straight from the validated model (pydantic-core's
`to_json`, one pass) and the rest through the canonical dict and orjson (registrations,
references given by name, dates known to a week or a month). Idempotent re-appends compare
stored text byte for byte, so both paths must write the same bytes for the same event: any
text (escapes, control characters, non-ASCII, astral planes), any float, any integer.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracker.core.batch import Item, prepare
from tracker.core.catalog import Catalog
from tracker.core.dates import window_start
from tracker.core.errors import ValidationFailed
from tracker.core.events import EVENT_TYPES, canonical

TODAY = date(2026, 1, 1)
text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1,
               max_size=30).filter(lambda s: s.strip() != "")
counts = st.none() | st.integers(0, (1 << 63) - 1)
days = st.dates(date(1990, 1, 1), date(2025, 12, 31))


def _catalog() -> Catalog:
    catalog = Catalog()
    for ident in ("a1", "a2"):
        catalog.register({"type": "ActorRegistered", "actor": ident, "name": f"Actor {ident}", "kind": "x"})
    catalog.register({"type": "PlaceRegistered", "place": "p1", "name": "Place one", "kind": "city",
                      "country": "Iraq", "lat": 1.0, "lon": 2.0})
    return catalog


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["AssetSeized", "ForcesDeployed", "ResourceControlled", "AttackCarriedOut"]))
    sources = st.fixed_dictionaries({"publisher": text}, optional={"title": text, "quote": text})
    event: dict[str, Any] = {"type": kind, "id": str(draw(st.uuids())),
                             "sources": draw(st.lists(sources, min_size=1, max_size=2))}
    if draw(st.booleans()):
        start = draw(days)
        end = draw(days.filter(lambda d: d >= start))
        event["occurred_from"], event["occurred_to"] = start.isoformat(), end.isoformat()
    else:
        event["occurred_on"] = draw(days).isoformat()
        precision = draw(st.sampled_from([None, "day", "week", "month", "year"]))
        if precision is not None:
            event["precision"] = precision
    if draw(st.booleans()):
        event["notes"] = draw(text)
    if kind == "AssetSeized":
        event.update(actor="a1", asset=draw(text), quantity=draw(counts), place=draw(st.sampled_from([None, "p1"])))
    elif kind == "ForcesDeployed":
        event.update(actor="a2", place="p1", personnel=draw(counts),
                     equipment=draw(st.dictionaries(text, counts, max_size=3)))
    elif kind == "ResourceControlled":
        event.update(actor="a1", resource=draw(text),
                     share_percent=draw(st.none() | st.floats(0, 100, allow_nan=False)))
    else:
        event.update(place="p1", actor="a2", method=draw(text), killed=draw(counts))
    return event


def _by_dict(data: dict[str, Any]) -> str:
    """The canonical text as the dict path makes it (canonical(), the window's start, orjson)."""
    event = EVENT_TYPES[data["type"]].model_validate(data)
    found = canonical(event)
    if found.get("occurred_on") and found.get("precision", "day") != "day":
        assert event.occurred_on is not None
        found["occurred_on"] = window_start(event.occurred_on, event.precision).isoformat()
    return orjson.dumps(found).decode()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(events(), min_size=1, max_size=5))
def test_the_stored_text_is_the_same_by_either_path(batch: list[dict[str, Any]]) -> None:
    prepared = prepare([Item(f"event {i}", e) for i, e in enumerate(batch)], _catalog(), TODAY, {})
    assert [p.data for p in prepared] == [_by_dict(e) for e in batch]


def test_names_and_missing_ids_take_the_dict_path_and_store_ids() -> None:
    base = {"type": "AssetSeized", "occurred_on": "2020-01-02", "sources": [{"publisher": "AP"}], "asset": "rifles"}
    named = {**base, "id": "0190f1a4-0000-7000-8000-000000000001", "actor": "ACTOR A1"}
    anonymous = {**base, "actor": "a1"}
    first, second = prepare([Item("named", named), Item("anonymous", anonymous)], _catalog(), TODAY, {})
    assert orjson.loads(first.data)["actor"] == "a1" and first.id == named["id"]
    assert orjson.loads(second.data)["id"] == second.id and list(orjson.loads(second.data))[-1] == "id"


NUL_BASE = {"type": "ForcesDeployed", "occurred_on": "2020-01-02", "sources": [{"publisher": "AP"}],
            "actor": "a1", "place": "p1", "personnel": 5}


@pytest.mark.parametrize("given_id", [True, False])
@pytest.mark.parametrize(("change", "field"), [
    ({"notes": "pasted\u0000text"}, "notes"),
    ({"sources": [{"publisher": "A\u0000P"}]}, "sources[0].publisher"),
    ({"equipment": {"tan\u0000ks": 3}}, "equipment.tan\u0000ks.[key]"),
    ({"notes": "x\u0000", "actor": "nobody"}, "notes"),  # validation first: the unknown actor is not reached
    ({"notes": "x\u0000", "precision": "month"}, "notes"),
])
def test_a_nul_anywhere_is_refused_on_either_path(change: dict[str, Any], field: str, given_id: bool) -> None:
    event = {**NUL_BASE, **change, **({"id": "0190f1a4-0000-7000-8000-0000000000aa"} if given_id else {})}
    with pytest.raises(ValidationFailed) as e:
        prepare([Item("event 1", event)], _catalog(), TODAY, {})
    assert [(i.field, i.reason) for i in e.value.issues] == [(field, "contains a NUL character (\\u0000)")]


@pytest.mark.parametrize("given_id", [True, False])
def test_a_backslash_and_u0000_in_a_text_is_kept(given_id: bool) -> None:
    ident = {"id": "0190f1a4-0000-7000-8000-0000000000ab"} if given_id else {}
    event = {**NUL_BASE, "notes": "C:\\u0000dir", **ident}
    (prepared,) = prepare([Item("event 1", event)], _catalog(), TODAY, {})
    assert orjson.loads(prepared.data)["notes"] == "C:\\u0000dir"
