"""Territory: who holds each place, since when, by which report, and who contests it.

An entry keeps its current holding only: the history of control is read per place from the
log's facts (`Timeline.history`), so a state stays the size of the map, not of the log.

An assault makes its attacker a contester until its end (the attacker's capture of the
place, or its repulse) is folded. Facts fold in order of their window's start, so an end
known only within a window that starts before its assault's can fold first: the end is
then remembered (`ended`), and the assault it ends, when it folds, contests nothing."""

from __future__ import annotations

from sys import intern
from typing import Any, ClassVar, NamedTuple

from ..catalog import Catalog
from ..dates import describe_window
from ..records import Record
from .base import Handler, Pending, Projection, Rendered, State, cite


class Change(NamedTuple):
    """The change of control a place is held by. Compact because every checkpoint of every
    place holds one: the sources are the event's own list (a quote-free copy only when a
    source has a quote), and the short strings that recur (actors, dates, precisions) are
    interned."""

    controller: str
    previous: str | None
    since: str  # the first day of the capture's window
    since_precision: str | None  # None for a window given by its bounds
    position: int
    event: str | None
    sources: list[dict[str, Any]]
    until: str = ""  # the last day of the capture's window: the capture happened within since..until
    claim_status: str | None = None


class Held(NamedTuple):
    controller: str | None
    since: str | None
    since_precision: str | None
    contested_by: tuple[str, ...]
    current: Change | None  # the capture it is held by
    until: str | None = None
    ended: tuple[tuple[str, str], ...] = ()  # (attacker, last day) of ends folded before their assault


UNHELD = Held(None, None, None, (), None)
# The handlers make a Held with its constructor, fields unpacked, not with `_replace`: a replay
# makes one per fact, and `_replace` costs several times as much.


def _pruned(held: Held, start: str) -> Held:
    """Ends that no later assault can match: facts fold by start, so every assault still to
    come starts on or after `start`."""
    if held.ended and any(end < start for _, end in held.ended):
        controller, since, precision, contested, current, until, ended = held
        return Held(controller, since, precision, contested, current, until, tuple(m for m in ended if m[1] >= start))
    return held


def _ended(held: Held, attacker: str, start: str, end: str) -> Held:
    """An end with no assault folded yet: remember it for the assault it ends."""
    controller, since, precision, contested, current, until, ended = _pruned(held, start)
    if attacker in contested:
        return Held(controller, since, precision, tuple(a for a in contested if a != attacker), current, until, ended)
    return Held(controller, since, precision, contested, current, until, (*ended, (attacker, end)))


def _captured(state: State, record: Record) -> None:
    e = record.event
    place, by = e["place"], e["captured_by"]
    held = _ended(state.get(place, UNHELD), by, e["occurred_from"], e["occurred_to"])
    if held.controller == by:  # another report of the same hold: keep the earlier `since`
        state[place] = held
        return
    since, until = intern(e["occurred_from"]), intern(e["occurred_to"])
    precision = None if "precision" not in e and since != until else intern(e.get("precision", "day"))
    by = intern(by)
    previous = e.get("captured_from", held.controller)
    sources = e.get("sources", [])
    for source in sources:
        if "quote" in source:  # quotes can be long, and a state does not show them
            sources = cite(e)
            break
    change = Change(by, intern(previous) if previous else previous, since, precision, record.position,
                    e.get("id"), sources, until, e.get("claim_status"))
    state[place] = Held(by, since, precision, held.contested_by, change, until, held.ended)


def _assaulted(state: State, record: Record) -> None:
    e = record.event
    held = _pruned(state.get(e["place"], UNHELD), e["occurred_from"])
    attacker = e["attacker"]
    if held.ended and any(a == attacker for a, _ in held.ended):
        state[e["place"]] = held  # its end folded already (known only within a window that starts earlier)
        return
    if attacker != held.controller and attacker not in held.contested_by:
        controller, since, precision, contested, current, until, ended = held
        held = Held(controller, since, precision, (*contested, attacker), current, until, ended)
    if held is not state.get(e["place"]):
        state[e["place"]] = held


def _repelled(state: State, record: Record) -> None:
    e = record.event
    state[e["place"]] = _ended(state.get(e["place"], UNHELD), e["attacker"], e["occurred_from"], e["occurred_to"])


class Territory(Projection):
    name = "territory"
    collection = "places"
    key_fields = ("place",)
    handlers: ClassVar[dict[str, Handler]] = {"CityCaptured": _captured, "AssaultLaunched": _assaulted,
                                              "AssaultRepelled": _repelled}

    def state_key(self, event: dict[str, Any]) -> Any:
        return event["place"]

    def __init__(self) -> None:
        self._rendered = Rendered()
        self._order: tuple[Catalog, int, list[str], set[str]] | None = None  # the catalog's places, sorted

    def render(self, state: State, catalog: Catalog, pending: Pending | None = None) -> list[dict[str, Any]]:
        out = []
        pending = pending or {}
        cache = self._rendered.of(catalog)
        if self._order is None or self._order[:2] != (catalog, catalog.version):
            self._order = (catalog, catalog.version, sorted(catalog.places), set(catalog.places))
        places, registered = self._order[2], self._order[3]
        if not state.keys() <= registered or any(k[0] not in registered for k in pending):
            places = sorted(registered | set(state) | {k[0] for k in pending})
        get, unheld = state.get, UNHELD
        for place in places:
            held = get(place, unheld)
            waiting = pending.get((place,)) if pending else None
            if not waiting:
                cached = cache.get(place)
                if cached is not None and cached[0] is held:
                    out.append(cached[1])
                    continue
            entry = self._entry(place, held, catalog, waiting or [])
            if not waiting:
                cache[place] = (held, entry)
            out.append(entry)
        return out

    @staticmethod
    def _entry(place: str, held: Held, catalog: Catalog, waiting: list[dict[str, Any]]) -> dict[str, Any]:
        current = held.current
        info = catalog.places.get(place, {})
        geo = info.get("geo_precision") or (2 if info.get("approximate") else 1)
        return {
            "place": place, "name": info.get("name", place), "kind": info.get("kind"),
            "country": info.get("country"), "lat": info.get("lat"), "lon": info.get("lon"),
            "geo_precision": geo, "approximate": geo > 1,
            "controller": held.controller, "controller_name": catalog.name_of("actor", held.controller),
            "since": held.since, "since_to": (held.until or held.since) if held.since else None,
            "since_precision": held.since_precision,
            "since_text": describe_window(held.since, held.until or held.since) if held.since else None,
            "contested_by": sorted(held.contested_by), "contested": bool(held.contested_by),
            "from": current.previous if current else None,
            "from_name": catalog.name_of("actor", current.previous) if current and current.previous else None,
            "claim_status": current.claim_status if current else None,
            "event": current.event if current else None, "event_position": current.position if current else None,
            "sources": [dict(source) for source in current.sources] if current else [],
            "pending": waiting,
        }
