"""Arsenal: what each actor holds, by asset and unit, and the resources it controls.

A seizure adds to the seizer; it does not subtract from `seized_from`, whose stock is not
known. Quantities follow `Amount`: a sum while every report gives a number, else null
with the known minimum.
"""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple

from ..catalog import Catalog
from ..dates import describe_window
from ..records import Record
from .base import Amount, Handler, Order, Pending, Projection, Rendered, State


class Holding(NamedTuple):
    asset: str
    unit: str | None
    amount: Amount
    reports: int
    since: str
    lower_bound: bool = False  # some report's quantity was "at least"
    until: str = ""  # the last day of the first seizure's window


class Resource(NamedTuple):
    event: dict[str, Any]  # the latest ResourceControlled: a level replaces the one before


def _key(e: dict[str, Any]) -> tuple:
    if e["type"] == "AssetSeized":
        return ("holding", e["actor"], e["asset"].casefold(), e.get("unit"))
    return ("resource", e["actor"], e["resource"].casefold(), e.get("place"))


def _seized(state: State, record: Record) -> None:
    e = record.event
    key = ("holding", e["actor"], e["asset"].casefold(), e.get("unit"))
    held = state.get(key)
    lower = "quantity" in e.get("at_least", ())
    if held is None:
        state[key] = Holding(e["asset"], e.get("unit"), Amount().plus(e.get("quantity")), 1, e["occurred_from"], lower,
                             e["occurred_to"])
    else:
        asset, unit, amount, reports, since, lower_bound, until = held
        state[key] = Holding(asset, unit, amount.plus(e.get("quantity")), reports + 1, since, lower_bound or lower,
                             until)


def _controlled(state: State, record: Record) -> None:
    e = record.event
    state[("resource", e["actor"], e["resource"].casefold(), e.get("place"))] = Resource(e)


class Arsenal(Projection):
    name = "arsenal"
    collection = "actors"
    key_fields = ("actor",)
    handlers: ClassVar[dict[str, Handler]] = {"AssetSeized": _seized, "ResourceControlled": _controlled}

    def state_key(self, event: dict[str, Any]) -> Any:
        return _key(event)

    def __init__(self) -> None:
        self._rendered = Rendered()
        self._order = Order(key=lambda k: (k[1], k[0], k[2], k[3] or ""))  # by actor, holdings first

    def render(self, state: State, catalog: Catalog, pending: Pending | None = None) -> list[dict[str, Any]]:
        actors: dict[str, dict[str, Any]] = {}
        pending = pending or {}
        cache = self._rendered.of(catalog)
        keys = self._order.of(state, {})
        for actor in sorted({k[0] for k in pending} - {k[1] for k in keys}):
            actors[actor] = {"actor": actor, "name": catalog.name_of("actor", actor), "holdings": [],
                             "resources": [], "pending": pending[(actor,)]}
        for key in keys:
            kind, actor = key[0], key[1]
            entry = actors.get(actor)
            if entry is None:
                entry = actors[actor] = {"actor": actor, "name": catalog.name_of("actor", actor), "holdings": [],
                                         "resources": [], "pending": pending.get((actor,), [])}
            value = state[key]
            hit = cache.get(key)
            if hit is not None and hit[0] is value:
                item = hit[1]
            else:
                item = self._item(kind, value, catalog)
                cache[key] = (value, item)
            entry["holdings" if kind == "holding" else "resources"].append(item)
        return [actors[a] for a in sorted(actors)]

    @staticmethod
    def _item(kind: str, value: Any, catalog: Catalog) -> dict[str, Any]:
        if kind == "holding":
            return {"asset": value.asset, "quantity": value.amount.value, "unit": value.unit,
                    "known_minimum": value.amount.known_minimum, "at_least": value.lower_bound,
                    "reports": value.reports, "since": value.since, "since_to": value.until or value.since,
                    "since_text": describe_window(value.since, value.until or value.since)}
        e = value.event
        return {"resource": e["resource"], "place": e.get("place"),
                "place_name": catalog.name_of("place", e.get("place")),
                "share_percent": e.get("share_percent"), "at_least": e.get("at_least", []),
                "output": e.get("output"), "output_unit": e.get("output_unit"),
                "since": e["occurred_from"], "since_to": e["occurred_to"],
                "since_precision": e.get("precision", "day") if "occurred_on" in e else None,
                "since_text": describe_window(e["occurred_from"], e["occurred_to"]),
                "claim_status": e.get("claim_status")}
