"""Territory: who holds each place, since when, who contests it, and the history of control."""

from __future__ import annotations

from sys import intern
from typing import Any, ClassVar, NamedTuple

from ..catalog import Catalog
from ..dates import describe
from ..records import Record
from .base import Handler, Projection, State, cite


class Change(NamedTuple):
    """One change of control. Compact because a territory keeps every one of them: the
    sources are the event's own list (a quote-free copy only when a source has a quote),
    and the short strings that recur (actors, dates, precisions) are interned, so a long
    log's history costs one small tuple per change."""

    controller: str
    previous: str | None
    since: str
    since_precision: str
    position: int
    event: str | None
    sources: list[dict[str, Any]]

    def render(self) -> dict[str, Any]:
        return {"controller": self.controller, "from": self.previous, "since": self.since,
                "since_precision": self.since_precision, "position": self.position, "event": self.event,
                "sources": [dict(source) for source in self.sources]}


class Held(NamedTuple):
    controller: str | None
    since: str | None
    since_precision: str | None
    contested_by: tuple[str, ...]
    history: tuple | None  # a cons list (previous, change): sharing makes checkpoints cheap


UNHELD = Held(None, None, None, (), None)


def _captured(state: State, record: Record) -> None:
    e = record.event
    place, by = e["place"], e["captured_by"]
    held = state.get(place, UNHELD)
    contested = tuple(a for a in held.contested_by if a != by)
    if held.controller == by:  # another report of the same hold: keep the earlier `since`
        state[place] = held._replace(contested_by=contested)
        return
    by, since, precision = intern(by), intern(e["occurred_on"]), intern(e.get("precision", "day"))
    previous = e.get("captured_from", held.controller)
    sources = e.get("sources", [])
    if any("quote" in source for source in sources):  # quotes can be long, and history does not show them
        sources = cite(e)
    change = Change(by, intern(previous) if previous else previous, since, precision, record.position,
                    e.get("id"), sources)
    state[place] = Held(by, since, precision, contested, (held.history, change))


def _assaulted(state: State, record: Record) -> None:
    e = record.event
    held = state.get(e["place"], UNHELD)
    attacker = e["attacker"]
    if attacker != held.controller and attacker not in held.contested_by:
        state[e["place"]] = held._replace(contested_by=(*held.contested_by, attacker))


def _repelled(state: State, record: Record) -> None:
    e = record.event
    held = state.get(e["place"])
    if held is not None and e["attacker"] in held.contested_by:
        state[e["place"]] = held._replace(contested_by=tuple(a for a in held.contested_by if a != e["attacker"]))


def _history(cons: tuple | None) -> list[dict[str, Any]]:
    out = []
    while cons is not None:
        cons, change = cons
        out.append(change.render())
    out.reverse()
    return out


class Territory(Projection):
    name = "territory"
    collection = "places"
    key_fields = ("place",)
    handlers: ClassVar[dict[str, Handler]] = {
        "CityCaptured": _captured, "AssaultLaunched": _assaulted, "AssaultRepelled": _repelled}

    def render(self, state: State, catalog: Catalog) -> list[dict[str, Any]]:
        out = []
        for place in sorted(set(catalog.places) | set(state)):
            held = state.get(place, UNHELD)
            info = catalog.places.get(place, {})
            out.append({
                "place": place, "name": info.get("name", place), "kind": info.get("kind"),
                "country": info.get("country"), "lat": info.get("lat"), "lon": info.get("lon"),
                "approximate": info.get("approximate", False),
                "controller": held.controller, "controller_name": catalog.name_of("actor", held.controller),
                "since": held.since, "since_precision": held.since_precision,
                "since_text": describe(held.since, held.since_precision) if held.since else None,
                "contested_by": sorted(held.contested_by), "contested": bool(held.contested_by),
                "history": [{**c, "controller_name": catalog.name_of("actor", c["controller"])}
                            for c in _history(held.history)],
            })
        return out
