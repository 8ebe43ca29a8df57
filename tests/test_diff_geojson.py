"""`tracker diff` and GeoJSON, from the CLI, over HTTP and the websocket, on the seeded article.

GeoJSON is validated with the `geojson` package and read back with shapely, as a GIS would."""

from __future__ import annotations

import json
from pathlib import Path

import geojson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, shape

from tests.conftest import client, http, serve_in_process, tracker_on
from tracker.core import diff as diffs
from tracker.core.errors import InputError


def _valid(collection: dict) -> geojson.FeatureCollection:
    parsed = geojson.loads(json.dumps(collection))
    assert isinstance(parsed, geojson.FeatureCollection)
    assert parsed.is_valid, parsed.errors()
    return parsed


def test_diff_cli_names_the_places_that_changed_hands_and_the_facts_behind(db: Path) -> None:
    answer = json.loads(tracker_on(db, "diff", "--from", "2014-06-05", "--to", "2014-07-25", "--json").stdout)
    places = {p["place"]: p for p in answer["places"]}
    assert places["mosul"]["changed_hands"] and places["mosul"]["to"]["controller"] == "isis"
    assert places["mosul"]["from"]["controller"] is None
    assert any(e["type"] == "CityCaptured" and e["settled"] for e in places["mosul"]["events"])
    assert {"tikrit", "trabil_crossing", "shaar_gas_field"} <= {p for p, v in places.items() if v["changed_hands"]}
    assert "baghdad" not in places  # nothing happened to it
    assert {h["asset"] for h in answer["holdings"]} >= {"Humvee"}
    assert any(d["place"] == "baghdad_airport" for d in answer["deployments"])
    assert answer["counts"]["changed_hands"] == sum(p["changed_hands"] for p in answer["places"])
    # Tikrit within July: the failed Iraqi assault is in it, though the holder stays the same.
    july = json.loads(tracker_on(db, "diff", "--from", "2014-07-01", "--to", "2014-07-16", "--json").stdout)
    tikrit = next(p for p in july["places"] if p["place"] == "tikrit")
    assert not tikrit["changed_hands"] and tikrit["to"]["contested_by"] == ["iraqi_forces"]
    assert [e["type"] for e in tikrit["events"]] == ["AssaultLaunched", "AssaultRepelled"]
    assert [e["settled"] for e in tikrit["events"]] == [True, False]  # the repulse: within 15-20 July
    text = tracker_on(db, "diff", "--from", "2014-06-05", "--to", "2014-07-25").stdout
    assert "Mosul: no controller recorded -> Islamic State in Iraq and Syria" in text
    # Known at a time before the article: nothing had been reported.
    early = json.loads(tracker_on(db, "diff", "--from", "2014-06-05", "--to", "2014-07-25", "--known-at",
                                  "2014-07-01", "--json").stdout)
    assert early["places"] == [] and early["counts"]["facts"] == 0


@pytest.mark.parametrize("args, message", [
    (("--from", "yesterday", "--to", "2014-06-05"), "from"),
    (("--from", "2014-06-01", "--to", "2014-06-31"), "to"),
])
def test_diff_cli_refuses_bad_dates(db: Path, args: tuple[str, ...], message: str) -> None:
    assert message in tracker_on(db, "diff", *args, expect=2).stderr


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=st.one_of(st.none(), st.text(max_size=12)), end=st.one_of(st.none(), st.text(max_size=12)))
def test_diff_dates_fuzz(start: str | None, end: str | None) -> None:
    try:
        d1, d2 = diffs.dates(start, end)
    except InputError:
        return
    assert len(d1) == len(d2) == 10


def test_territory_geojson_validates_and_loads(db: Path) -> None:
    collection = json.loads(tracker_on(db, "state", "territory", "--as-of", "2014-07-16", "--format",
                                       "geojson").stdout)
    _valid(collection)
    features = {f["id"]: f for f in collection["features"]}
    mosul = features["mosul"]
    point = shape(mosul["geometry"])
    assert isinstance(point, Point) and (point.x, point.y) == pytest.approx((43.164, 36.3566), abs=1e-3)  # lon, lat
    props = mosul["properties"]
    assert props["controller"] == "isis" and props["controller_name"] == "Islamic State in Iraq and Syria"
    assert props["since"] == "2014-06-01" and props["sources"][0]["publisher"] == "World Socialist Web Site"
    tikrit = features["tikrit"]["properties"]
    assert tikrit["contested_by_names"] == ["Iraqi Security Forces"]
    assert tikrit["pending"][0]["type"] == "AssaultRepelled"
    assert collection["as_of"] == "2014-07-16" and len(collection["bbox"]) == 4
    assert features["trabil_crossing"]["properties"]["geo_precision"] == 2
    refused = tracker_on(db, "state", "deployments", "--format", "geojson", expect=2)
    assert "territory" in refused.stderr


def test_events_geojson_for_a_date_range(db: Path) -> None:
    collection = json.loads(tracker_on(db, "log", "--format", "geojson", "--since", "2014-07-14", "--until",
                                       "2014-07-20").stdout)
    _valid(collection)
    kinds = {f["properties"]["type"] for f in collection["features"]}
    assert {"AssaultLaunched", "AssaultRepelled", "CityCaptured"} <= kinds
    assert all(f["properties"]["occurred_from"] <= "2014-07-20" and f["properties"]["occurred_to"]
               >= "2014-07-14" for f in collection["features"])
    assert all(isinstance(shape(f["geometry"]), Point) for f in collection["features"])
    everything = json.loads(tracker_on(db, "log", "--format", "geojson").stdout)
    _valid(everything)
    assert len(everything["features"]) > len(collection["features"])
    assert everything["without_place"] == 0  # every seeded fact names a place (those without are counted)


async def test_diff_and_geojson_over_http_and_websocket(db: Path) -> None:
    async with serve_in_process(db) as (port, _tracker):
        import asyncio

        status, answer = await asyncio.to_thread(http, port, "/api/diff?from=2014-06-05&to=2014-07-25")
        assert status == 200 and any(p["place"] == "mosul" and p["changed_hands"] for p in answer["places"])
        cli = json.loads(tracker_on(db, "diff", "--from", "2014-06-05", "--to", "2014-07-25", "--json").stdout)
        assert answer["places"] == cli["places"] and answer["deployments"] == cli["deployments"]
        status, collection = await asyncio.to_thread(http, port, "/api/state/territory.geojson?as_of=2014-07-16")
        assert status == 200
        _valid(collection)
        status, events = await asyncio.to_thread(http, port, "/api/events.geojson?from=2014-07-14&to=2014-07-20")
        assert status == 200 and events["features"]
        _valid(events)
        status, backward = await asyncio.to_thread(http, port, "/api/diff?from=2014-07-25&to=2014-06-05")
        mosul = next(p for p in backward["places"] if p["place"] == "mosul")  # read backward: held, then not
        assert status == 200 and mosul["from"]["controller"] == "isis" and mosul["to"]["controller"] is None
        for path, field in [("/api/diff?from=2014-06-05", "to"),
                            ("/api/diff?from=2014-06-05&to=2014-07-25&asof=x", "asof"),
                            ("/api/state/territory.geojson?as_of=2014-13-01", "as_of")]:
            status, error = await asyncio.to_thread(http, port, path)
            assert status == 400 and error["code"] == "bad_request" and error["details"]["field"] == field, error
        async with client(port) as ws:
            reply = await ws.request(op="diff", **{"from": "2014-06-05", "to": "2014-07-25"}, ref=7)
            assert reply["type"] == "diff" and reply["ref"] == 7 and reply["places"] == cli["places"]
            error = await ws.request(op="diff", **{"from": "2014-06-05", "too": "2014-07-25"})
            assert error["type"] == "error" and error["details"]["suggestion"] == "to"
            error = await ws.request(op="diff", **{"from": 5, "to": "2014-07-25"})
            assert error["type"] == "error" and error["code"] == "bad_request"


def test_chart_writes_png_and_svg(db: Path, tmp_path: Path) -> None:
    from tracker.core.chart import days

    png, svg = tmp_path / "situation.png", tmp_path / "situation.svg"
    done = tracker_on(db, "chart", "-o", str(png), "--from", "2014-06-01", "--to", "2014-07-31")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and "1 actors holding places" in done.stdout
    tracker_on(db, "chart", "-o", str(svg))  # the range from the facts
    assert b"<svg" in svg.read_bytes()[:2000]
    assert "png or .svg" in tracker_on(db, "chart", "-o", str(tmp_path / "x.pdf"), expect=2).stderr
    assert len(days("2000-01-01", "2014-12-31")) <= 402  # a long range is stepped
    with pytest.raises(InputError, match="is after"):
        days("2014-08-01", "2014-06-01")


async def test_chart_actors_and_places_over_http(db: Path) -> None:
    """The dashboard's timeline and directory: the numbers of `tracker chart`, and the lists of
    `tracker actors|places --json`, with a structured 400 for what is wrong."""
    import asyncio

    from tracker.core.chart import series

    async with serve_in_process(db) as (port, tracker):
        status, chart = await asyncio.to_thread(http, port, "/api/chart?from=2014-05-31&to=2014-07-31")
        assert status == 200 and (chart["from"], chart["to"]) == ("2014-05-31", "2014-07-31")
        isis = chart["held"]["Islamic State in Iraq and Syria"]
        assert len(isis) == len(chart["days"]) == 62 and isis[0] == 0 and isis[-1] > 0
        assert chart["per_day"] and all(n > 0 for _, n in chart["per_day"])
        assert chart["ranges_total"] == len(chart["ranges"]) > 0
        assert any(r["type"] == "CityCaptured" and "Mosul" in r["label"] for r in chart["ranges"])
        expected = series(tracker.timeline, "2014-05-31", "2014-07-31", None, 200, 200)
        assert {k: chart[k] for k in expected} == json.loads(json.dumps(expected))  # as the CLI's numbers
        status, again = await asyncio.to_thread(http, port, "/api/chart?from=2014-07-31&to=2014-05-31")
        assert (status, again) == (200, chart)  # either order
        status, early = await asyncio.to_thread(http, port, "/api/chart?from=2014-05-31&to=2014-07-31"
                                                "&known_at=2014-07-01")
        assert status == 200 and early["held"] == {} and early["per_day"] == [] and early["ranges"] == []
        status, whole = await asyncio.to_thread(http, port, "/api/chart")
        assert status == 200 and whole["from"] <= "2014-06-01" and len(whole["days"]) <= 201
        for path, field, suggestion in [("/api/chart?from=2014-13-01", "from", None),
                                        ("/api/chart?from=2014-06-01&to=2014-06-31", "to", None),
                                        ("/api/chart?known_at=soon", "known_at", None),
                                        ("/api/chart?form=2014-06-01", "form", "from"),
                                        ("/api/places?serach=mos", "serach", "search")]:
            status, error = await asyncio.to_thread(http, port, path)
            assert (status, error["code"], error["details"]["field"]) == (400, "bad_request", field), (path, error)
            assert error["message"] and error["details"].get("suggestion") == suggestion, error
        status, places = await asyncio.to_thread(http, port, "/api/places?search=MOS")
        assert status == 200 and [p["place"] for p in places["places"]] == ["mosul"]
        assert places["places"][0]["name"] == "Mosul" and places["position"] > 0
        status, actors = await asyncio.to_thread(http, port, "/api/actors")
        cli = json.loads(tracker_on(db, "actors", "--json").stdout)
        assert status == 200 and actors["actors"] == cli and any(a["actor"] == "isis" for a in cli)


def test_http_routes_fuzz(db: Path) -> None:
    """Any query string on the new routes: 200 with JSON, or a 400 error naming what is wrong; never a 500."""
    from urllib.parse import quote

    from tests.conftest import start_serve, stop_process

    process, port = start_serve(db)
    values = st.one_of(st.sampled_from(["2014-06-05", "2014-07", "2014", "", "2014-02-30", "9999-12-31",
                                        "2014-07-25T10:00:00Z"]), st.text(max_size=15))
    names = st.sampled_from(["from", "to", "known_at", "as_of", "recorded_at", "asof", "x"])

    @settings(max_examples=30, deadline=None)
    @given(route=st.sampled_from(["/api/diff", "/api/state/territory.geojson", "/api/events.geojson", "/api/chart"]),
           params=st.lists(st.tuples(names, values), max_size=3))
    def one(route: str, params: list[tuple[str, str]]) -> None:
        query = "&".join(f"{quote(k)}={quote(v)}" for k, v in params)
        status, body = http(port, f"{route}?{query}")
        assert status in (200, 400), (route, query, status, body)
        if status == 400:
            assert body["type"] == "error" and body["code"] == "bad_request" and body["message"]
        elif route.endswith(".geojson"):
            _valid(body)
        elif route == "/api/chart":
            assert body["from"] <= body["to"] and body["days"][0] == body["from"] and body["days"][-1] == body["to"]
            assert all(len(counts) == len(body["days"]) for counts in body["held"].values())
        else:
            assert {"from", "to", "places", "holdings", "deployments"} <= body.keys()

    try:
        one()
    finally:
        stop_process(process)
