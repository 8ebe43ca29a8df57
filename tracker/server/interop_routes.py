"""The analyst's reads over HTTP and the websocket: the diff between two dates, and GeoJSON.

    GET /api/diff?from=D1&to=D2[&known_at=T]          as `tracker diff --json`
    GET /api/state/territory.geojson?as_of=D[&known_at=T][&recorded_at=T]
    GET /api/events.geojson?from=D1&to=D2              facts overlapping D1..D2, as Point features
    {"op": "diff", "from": D1, "to": D2, "known_at": T} -> {"type": "diff", ...}

Each answers from the hub's timeline after the hub has caught up (never around it: the hub
broadcasts what it folds).
"""

from __future__ import annotations

from typing import Any

from ..core import diff as diffs
from ..core import geojson
from ..core.dates import parse_as_of, parse_known_at
from ..core.errors import BadQuery
from ..core.timeline import retractions
from .hub import Hub

GEOJSON = "application/geo+json"  # RFC 7946 section 12
ROUTES = ("/api/diff", "/api/state/territory.geojson", "/api/events.geojson")


def _text(value: Any, field: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise BadQuery(f"'{field}' must be null or an ISO date string, got {value!r}", field=field)
    return value


async def diff(hub: Hub, query: Any) -> dict[str, Any]:
    """`query(field)` reads a request's field or a query parameter."""
    start, end = diffs.dates(_text(query("from"), "from"), _text(query("to"), "to"))
    known_at = parse_known_at(_text(query("known_at"), "known_at"), "known_at")
    await hub.refresh()
    return diffs.between(hub.tracker.timeline, start, end, known_at)


async def territory(hub: Hub, query: Any) -> dict[str, Any]:
    as_of = parse_as_of(_text(query("as_of"), "as_of"), "as_of")
    known_at = parse_known_at(_text(query("known_at"), "known_at"), "known_at")
    recorded_at = parse_known_at(_text(query("recorded_at"), "recorded_at"), "recorded_at")
    await hub.refresh()
    timeline = hub.tracker.timeline
    return geojson.territory(timeline.render("territory", as_of, known_at, recorded_at), timeline.catalog.label)


async def events(hub: Hub, query: Any) -> dict[str, Any]:
    start = parse_as_of(_text(query("from"), "from"), "from")
    end = parse_as_of(_text(query("to"), "to"), "to")
    await hub.refresh()
    timeline = hub.tracker.timeline
    records = timeline.records()
    return geojson.events(records, timeline.catalog, start, end, retractions(records, None))
