"""Arsenal: what each actor holds, by asset and unit, and the resources it controls.

A seizure adds to the seizer; it does not subtract from `seized_from`, whose stock is not
known. Quantities follow `Amount`: a sum while every report gives a number, else null
with the known minimum.
"""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple

from ..catalog import Catalog
from ..records import Record
from .base import Amount, Handler, Projection, State


class Holding(NamedTuple):
    asset: str
    unit: str | None
    amount: Amount
    reports: int
    since: str


class Resource(NamedTuple):
    event: dict[str, Any]  # the latest ResourceControlled: a level replaces the one before


def _seized(state: State, record: Record) -> None:
    e = record.event
    key = ("holding", e["actor"], e["asset"].casefold(), e.get("unit"))
    held = state.get(key)
    if held is None:
        state[key] = Holding(e["asset"], e.get("unit"), Amount().plus(e.get("quantity")), 1, e["occurred_on"])
    else:
        state[key] = held._replace(amount=held.amount.plus(e.get("quantity")), reports=held.reports + 1)


def _controlled(state: State, record: Record) -> None:
    e = record.event
    state[("resource", e["actor"], e["resource"].casefold(), e.get("place"))] = Resource(e)


class Arsenal(Projection):
    name = "arsenal"
    collection = "actors"
    key_fields = ("actor",)
    handlers: ClassVar[dict[str, Handler]] = {"AssetSeized": _seized, "ResourceControlled": _controlled}

    def render(self, state: State, catalog: Catalog) -> list[dict[str, Any]]:
        actors: dict[str, dict[str, Any]] = {}
        for key in sorted(state, key=lambda k: (k[1], k[0], k[2], k[3] or "")):
            kind, actor = key[0], key[1]
            entry = actors.setdefault(actor, {"actor": actor, "name": catalog.name_of("actor", actor),
                                              "holdings": [], "resources": []})
            value = state[key]
            if kind == "holding":
                entry["holdings"].append({
                    "asset": value.asset, "quantity": value.amount.value, "unit": value.unit,
                    "known_minimum": value.amount.known_minimum, "reports": value.reports, "since": value.since})
            else:
                e = value.event
                entry["resources"].append({
                    "resource": e["resource"], "place": e.get("place"),
                    "place_name": catalog.name_of("place", e.get("place")),
                    "share_percent": e.get("share_percent"), "at_least": e.get("at_least", False),
                    "output": e.get("output"), "output_unit": e.get("output_unit"),
                    "since": e["occurred_on"], "since_precision": e.get("precision", "day")})
        return list(actors.values())
