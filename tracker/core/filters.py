"""Filters on states and event streams: by place, actor, country, bounding box and event type.

A client that follows one front asks the server for that front only: a state keeps the
entries that touch the filter, an events subscription sends the events that do. Filtered
events still carry their log positions, so a filtered client resumes from the last one it
got: the positions it never saw are events it did not ask for.

Registrations and retractions touch no front: an events subscription filtered by place,
actor, country or box still gets them (a name to show, a fact to take back); `types`
filters them like any other event.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from .catalog import Catalog
from .errors import BadQuery
from .kinds import REGISTRATIONS

FIELDS = ("place", "actor", "country", "bbox")  # state filters
EVENT_FIELDS = (*FIELDS, "types")  # events subscription filters
MAX_VALUES = 1000
_FRONTLESS = REGISTRATIONS | {"EventRetracted"}


@dataclass(frozen=True, slots=True)
class Filter:
    """None: not filtered on that. Hashable: a filtered view is shared by its subscribers."""

    places: frozenset[str] | None = None
    actors: frozenset[str] | None = None
    countries: frozenset[str] | None = None
    bbox: tuple[float, float, float, float] | None = None  # west, south, east, north (RFC 7946 order)
    types: frozenset[str] | None = None

    def __bool__(self) -> bool:
        return any(v is not None for v in (self.places, self.actors, self.countries, self.bbox, self.types))

    def _where(self, places: Iterable[str | None], catalog: Catalog) -> bool:
        """The place conditions (place, country, box) for an entry or event touching `places`."""
        named = [p for p in places if p is not None]
        if self.places is not None and not self.places.intersection(named):
            return False
        if self.countries is not None and not any(
                catalog.places.get(p, {}).get("country") in self.countries for p in named):
            return False
        return self.bbox is None or any(self._inside(catalog.places.get(p, {})) for p in named)

    def _inside(self, info: dict[str, Any]) -> bool:
        lat, lon = info.get("lat"), info.get("lon")
        if lat is None or lon is None or self.bbox is None:
            return False
        west, south, east, north = self.bbox
        inside_lon = west <= lon <= east if west <= east else (lon >= west or lon <= east)  # across the antimeridian
        return inside_lon and south <= lat <= north

    def entry(self, projection: str, entry: dict[str, Any], catalog: Catalog) -> bool:
        """Whether a rendered entry touches the filter: its place(s) and its actor(s)."""
        if projection == "territory":
            places = [entry["place"]]
            actors = {entry["controller"], entry.get("from"), *entry["contested_by"],
                      *(a for e in entry["pending"] for a in _actors_of(e))}
        elif projection == "deployments":
            places, actors = [entry["place"]], {entry["actor"]}
        else:  # arsenal: an actor, and the places its holdings and resources name
            actors = {entry["actor"]}
            places = [x.get("place") for x in (*entry.get("holdings", ()), *entry.get("resources", ()))]
        if self.actors is not None and not self.actors.intersection(actors):
            return False
        if self.places is None and self.countries is None and self.bbox is None:
            return True
        return self._where(places, catalog)

    def event(self, event: dict[str, Any], catalog: Catalog) -> bool:
        kind = event["type"]
        if self.types is not None and kind not in self.types:
            return False
        if kind in _FRONTLESS:
            return True
        if self.actors is not None and not self.actors.intersection(_actors_of(event)):
            return False
        if self.places is None and self.countries is None and self.bbox is None:
            return True
        return self._where((event.get(f) for f in _fields()[1].get(kind, ())), catalog)


EVERYTHING = Filter()  # the default: nothing filtered


@cache
def _fields() -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
    """The fields naming actors, and those naming places, of each event type. From the models,
    imported on first use: a state query never filters events, and need not build them."""
    from .events import EVENT_TYPES

    return ({name: getattr(cls, "ACTOR_FIELDS", ()) for name, cls in EVENT_TYPES.items()},
            {name: getattr(cls, "PLACE_FIELDS", ()) for name, cls in EVENT_TYPES.items()})


def _actors_of(event: dict[str, Any]) -> set[str]:
    return {event[f] for f in _fields()[0].get(event.get("type", ""), ()) if event.get(f)}


def parse(get: Callable[[str], Any], events: bool = False) -> Filter:
    """A Filter from a request's fields or an HTTP query's parameters: each a list of ids or
    one comma-separated string; `bbox` four numbers west,south,east,north (degrees)."""
    values: dict[str, Any] = {}
    for name in EVENT_FIELDS if events else FIELDS:
        raw = get(name)
        if raw is None or raw == "":  # as everywhere: an empty value is the same as none (`?place=`)
            continue
        items = _items(name, raw)
        if name == "bbox":
            values["bbox"] = _bbox(items)
        elif name == "types":
            from .events import EVENT_TYPES

            unknown = [t for t in items if t not in EVENT_TYPES]
            if unknown:
                raise BadQuery(f"'types': unknown event type '{unknown[0]}': one of {', '.join(EVENT_TYPES)}",
                               field="types")
            values["types"] = frozenset(items)
        else:
            values[{"place": "places", "actor": "actors", "country": "countries"}[name]] = frozenset(items)
    return Filter(**values)


def _items(name: str, raw: Any) -> list[str]:
    items = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise BadQuery(f"'{name}' must be a list of strings or one comma-separated string, got {raw!r:.80}",
                       field=name)
    items = [i.strip() for i in items]
    if not items or any(not i for i in items) or len(items) > MAX_VALUES:
        raise BadQuery(f"'{name}' needs 1 to {MAX_VALUES} non-empty values (comma-separated), got {raw!r:.80}",
                       field=name)
    return items


def _bbox(items: list[str]) -> tuple[float, float, float, float]:
    try:
        west, south, east, north = (float(i) for i in items)
    except ValueError:
        raise BadQuery(f"'bbox' is four numbers west,south,east,north in degrees, got {','.join(items)!r:.80}",
                       field="bbox") from None
    if not all(math.isfinite(v) for v in (west, south, east, north)) or not (
            -180 <= west <= 180 and -180 <= east <= 180 and -90 <= south <= north <= 90):
        raise BadQuery("'bbox' is west,south,east,north: longitudes from -180 to 180, latitudes from -90 to 90, "
                       f"south <= north; got {','.join(items)!r:.80}", field="bbox")
    return (west, south, east, north)


def apply(projection: str, collection: str, answer: dict[str, Any], flt: Filter, catalog: Catalog) -> dict[str, Any]:
    """A rendered answer with only the entries the filter keeps, and the filter it was given."""
    if not flt:
        return answer
    kept = [e for e in answer[collection] if flt.entry(projection, e, catalog)]
    return {**answer, collection: kept, "filter": describe(flt)}


def describe(flt: Filter) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in (("place", flt.places), ("actor", flt.actors), ("country", flt.countries),
                        ("types", flt.types)):
        if value is not None:
            out[name] = sorted(value)
    if flt.bbox is not None:
        out["bbox"] = list(flt.bbox)
    return out
