"""The analyst's reads over HTTP and the websocket: the diff between two dates, and GeoJSON.

    GET /api/diff?from=D1&to=D2[&known_at=T]          as `tracker diff --json`
    GET /api/state/territory.geojson?as_of=D[&known_at=T][&recorded_at=T]
    GET /api/events.geojson?from=D1&to=D2              facts overlapping D1..D2, as Point features
    GET /api/chart?from=D1&to=D2[&known_at=T]         the numbers of `tracker chart` (the dashboard's timeline)
    GET /api/actors?search=TEXT, /api/places?search=TEXT   as `tracker actors|places --json`
    {"op": "diff", "from": D1, "to": D2, "known_at": T} -> {"type": "diff", ...}

Each answers from the hub's timeline after the hub has caught up (never around it: the hub
broadcasts what it folds). A chart folds the territory at every sampled day: its answers are
kept per log head (`CHART_CACHE` of them), so a page that asks again (another reader, the
same range after a reload) costs nothing until the log grows.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from typing import Any

from ..core import chart as charts
from ..core import diff as diffs
from ..core import geojson
from ..core.dates import parse_as_of, parse_known_at, utc_now
from ..core.errors import BadQuery
from ..core.reference import listing
from ..core.timeline import retractions
from .hub import Hub

GEOJSON = "application/geo+json"  # RFC 7946 section 12
ROUTES = ("/api/diff", "/api/state/territory.geojson", "/api/events.geojson", "/api/chart", "/api/actors",
          "/api/places")
CHART_POINTS = 200  # days sampled for the holdings lines: a dashboard panel is a few hundred pixels wide
CHART_RANGES = 200  # window facts listed (the longest), with the count of them all
CHART_CACHE = 16  # answers kept per server
_charts: weakref.WeakKeyDictionary[Hub, OrderedDict[tuple[Any, ...], dict[str, Any]]] = weakref.WeakKeyDictionary()


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


async def chart(hub: Hub, query: Any) -> dict[str, Any]:
    """Places held per actor over time, facts per day, window facts as ranges, between D1 and
    D2 in either order (the facts' span when either is missing, up to today)."""
    start = parse_as_of(_text(query("from"), "from"), "from")
    end = parse_as_of(_text(query("to"), "to"), "to")
    known_at = parse_known_at(_text(query("known_at"), "known_at"), "known_at")
    await hub.refresh()
    timeline = hub.tracker.timeline
    if start is None or end is None:
        span = timeline.span()
        if span is None:
            raise BadQuery("the log has no facts to chart yet: give 'from' and 'to', or append some",
                           field="to" if start else "from")
        start = start or min(span[0], end or span[0])
        end = end or max(start, min(span[1], utc_now().date().isoformat()))
    start, end = min(start, end), max(start, end)  # a chart reads forward, whichever date comes first
    kept = _charts.setdefault(hub, OrderedDict())
    key = (start, end, known_at, timeline.head, timeline.count)
    answer = kept.get(key)
    if answer is None:
        answer = charts.series(timeline, start, end, known_at, CHART_POINTS, CHART_RANGES)
        answer |= {"known_at": known_at.isoformat() if known_at else None, "position": timeline.head}
        kept[key] = answer
        while len(kept) > CHART_CACHE:
            kept.popitem(last=False)
    kept.move_to_end(key)
    return answer


async def reference(hub: Hub, kind: str, query: Any) -> dict[str, Any]:
    """The registered actors or places (`kind`), sorted by name; `search` keeps those whose id,
    name or an alias contains it."""
    search = _text(query("search"), "search")
    await hub.refresh()
    rows = listing(hub.tracker.timeline.catalog, "actor" if kind == "actors" else "place", search or None)
    return {kind: rows, "position": hub.tracker.timeline.head}
