"""Territory: who holds each place, since when, who contests it, and the history of control."""

from __future__ import annotations

from typing import Any, NamedTuple

from ..catalog import Catalog
from ..dates import describe
from ..records import Record
from .base import Projection, State, cite


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
    change = {"controller": by, "from": e.get("captured_from", held.controller),
              "since": e["occurred_on"], "since_precision": e.get("precision", "day"),
              "position": record.position, "event": e.get("id"), "sources": cite(e)}
    state[place] = Held(by, e["occurred_on"], e.get("precision", "day"), contested, (held.history, change))


def _assaulted(state: State, record: Record) -> None:
    e = record.event
    held = state.get(e["place"], UNHELD)
    attacker = e["attacker"]
    if attacker != held.controller and attacker not in held.contested_by:
        state[e["place"]] = held._replace(contested_by=held.contested_by + (attacker,))


def _repelled(state: State, record: Record) -> None:
    e = record.event
    held = state.get(e["place"])
    if held is not None and e["attacker"] in held.contested_by:
        state[e["place"]] = held._replace(contested_by=tuple(a for a in held.contested_by if a != e["attacker"]))


def _history(cons: tuple | None) -> list[dict[str, Any]]:
    out = []
    while cons is not None:
        cons, change = cons
        out.append(change)
    out.reverse()
    return out


class Territory(Projection):
    name = "territory"
    collection = "places"
    key_fields = ("place",)
    handlers = {"CityCaptured": _captured, "AssaultLaunched": _assaulted, "AssaultRepelled": _repelled}

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
