"""GeoJSON (RFC 7946) for map-makers: the territory at a date, and the facts of a date range,
as FeatureCollections of Points that QGIS, Leaflet or geopandas read as they are.

Pure builders over a rendered territory answer and over records. Positions are
[longitude, latitude] in WGS 84 (RFC 7946 section 3.1.1), as registered; a place's
`geo_precision` (1 the place itself, 2 near it, 3 only its region) travels with it, so a
map can draw approximate points differently. Nested properties (pending facts, sources)
stay JSON arrays: GeoJSON readers keep them as JSON text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .catalog import Catalog
from .records import Record
from .summary import summarize, when

Namer = Callable[[str, str], str]


def _point(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [lon, lat]}


def _bbox(features: list[dict[str, Any]]) -> list[float] | None:
    points = [f["geometry"]["coordinates"] for f in features if f["geometry"] is not None]
    if not points:
        return None
    lons, lats = [p[0] for p in points], [p[1] for p in points]
    return [min(lons), min(lats), max(lons), max(lats)]


def _collection(features: list[dict[str, Any]], **members: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "FeatureCollection"}
    box = _bbox(features)
    if box is not None:
        out["bbox"] = box
    out.update(members)  # foreign members (RFC 7946 section 6.1): what the collection answers
    out["features"] = features
    return out


def _sources(entry: dict[str, Any]) -> list[dict[str, Any]]:
    """The sources of the current holding: the entry's own when it carries them, else those of
    the last change of control in its history."""
    if "sources" in entry:
        return list(entry["sources"] or [])
    history = entry.get("history") or []
    return [dict(s) for s in history[-1]["sources"]] if history and entry.get("controller") else []


def territory(answer: dict[str, Any], name: Namer) -> dict[str, Any]:
    """Every place of a territory answer (`Timeline.render("territory", ...)`) as a Point
    feature: who holds it, since when, who contests it, what is pending, the sources."""
    features = []
    for p in answer["places"]:
        if p.get("lat") is None or p.get("lon") is None:
            continue
        features.append({"type": "Feature", "id": p["place"], "geometry": _point(p["lon"], p["lat"]), "properties": {
            "place": p["place"], "name": p["name"], "kind": p.get("kind"), "country": p.get("country"),
            "geo_precision": p.get("geo_precision"),
            "controller": p["controller"], "controller_name": p["controller"] and name("actor", p["controller"]),
            "since": p["since"], "since_to": p["since_to"], "since_text": p["since_text"],
            "contested": bool(p["contested_by"]), "contested_by": list(p["contested_by"]),
            "contested_by_names": [name("actor", a) for a in p["contested_by"]],
            "pending": [{"id": e.get("id"), "type": e["type"], "occurred_from": e["occurred_from"],
                         "occurred_to": e["occurred_to"], "text": text}
                        for e, text in zip(p["pending"], p.get("pending_text") or [""] * len(p["pending"]),
                                           strict=True)],
            "sources": _sources(p)}})
    return _collection(features, projection="territory", as_of=answer["as_of"], known_at=answer.get("known_at"),
                       recorded_at=answer.get("recorded_at"), position=answer["position"])


def events(records: Iterable[Record], catalog: Catalog, start: str | None, end: str | None,
           retracted: set[str] | frozenset[str] = frozenset()) -> dict[str, Any]:
    """The facts whose window overlaps start..end (either bound may be None: open) and that
    name a place, as Point features at the place; facts without a place are counted. A start
    after the end selects nothing."""
    features, placeless = [], 0
    chosen = [r for r in records if "occurred_from" in r.event and r.event.get("id") not in retracted
              and (end is None or r.event["occurred_from"] <= end)
              and (start is None or r.event["occurred_to"] >= start)]
    chosen.sort(key=lambda r: (r.event["occurred_from"], r.position))
    for r in chosen:
        e = r.event
        place = catalog.places.get(e.get("place") or "")
        if place is None:
            placeless += 1
            continue
        deaths = e.get("deaths") or {}
        features.append({"type": "Feature", "id": e.get("id"), "geometry": _point(place["lon"], place["lat"]),
                         "properties": {
                             "id": e.get("id"), "position": r.position, "type": e["type"],
                             "occurred_from": e["occurred_from"], "occurred_to": e["occurred_to"], "when": when(e),
                             "summary": summarize(e, catalog.label), "place": e["place"], "place_name": place["name"],
                             "geo_precision": place.get("geo_precision") or (2 if place.get("approximate") else 1),
                             "claim_status": e.get("claim_status"), "deaths": deaths.get("best"),
                             "deaths_low": deaths.get("low"), "deaths_high": deaths.get("high"),
                             "reported_on": e.get("reported_on"), "external_id": e.get("external_id"),
                             "sources": [{k: v for k, v in s.items() if k != "quote"} for s in e.get("sources", ())],
                             "recorded_at": r.recorded_at.isoformat(timespec="seconds")}})
    return _collection(features, start=start, end=end, without_place=placeless)
