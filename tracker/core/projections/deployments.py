"""Deployments: whose forces are where: personnel, equipment and units, withdrawals subtracted."""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple

from ..catalog import Catalog
from ..dates import describe_window
from ..records import Record
from .base import Amount, Handler, Order, Pending, Projection, Rendered, State

_NONE = Amount()
_EMPTY: dict[str, int | None] = {}


class Deployed(NamedTuple):
    personnel: Amount
    equipment: tuple[tuple[str, Amount], ...]
    units: tuple[tuple[str, Amount], ...]
    since: str
    since_precision: str | None
    purposes: tuple[str, ...]
    until: str = ""  # the last day of the first deployment's window

    @property
    def gone(self) -> bool:
        """Everything known to have left, nothing unknown: the entry is removed."""
        if not _zero(self.personnel):
            return False
        for _, a in self.equipment:
            if not _zero(a):
                return False
        return all(_zero(a) for _, a in self.units)


def _zero(a: Amount) -> bool:
    """`a.exact and a.value == 0`, without the properties (the fold's hot path)."""
    return not a.unknown_added and not a.unknown_removed and a.added <= a.removed


def _blank(a: Amount) -> bool:
    """`a == Amount()`: nothing reported at all."""
    return not (a.added or a.removed or a.unknown_added or a.unknown_removed)


def _merge(counts: tuple[tuple[str, Amount], ...], given: dict[str, int | None], sign: int) -> tuple:
    if not given:
        return counts  # already sorted: _merge made it
    if len(given) == 1 and len(counts) <= 1:  # most reports name one kind, the one already there: no dict, no sort
        ((name, value),) = given.items()
        if not counts or counts[0][0] == name:
            current = counts[0][1] if counts else _NONE
            return ((name, current.plus(value) if sign > 0 else current.minus(value)),)
    return _merge_all(counts, given, sign)


def _merge_all(counts: tuple[tuple[str, Amount], ...], given: dict[str, int | None], sign: int) -> tuple:
    merged = dict(counts)
    for name, value in given.items():
        current = merged.get(name, _NONE)
        merged[name] = current.plus(value) if sign > 0 else current.minus(value)
    return tuple(sorted(merged.items()))


def _move(sign: int):
    def handler(state: State, record: Record) -> None:
        e = record.event
        key = (e["actor"], e["place"])
        was = state.get(key)
        if was is None:
            if sign < 0 and not e.get("personnel") and not e.get("equipment") and not e.get("units"):
                return  # withdrawing unknown forces from where none were reported changes nothing
            was = Deployed(_NONE, (), (), e["occurred_from"],
                           e.get("precision", "day") if "occurred_on" in e else None, (), e["occurred_to"])
        equipment, units = e.get("equipment", _EMPTY), e.get("units", _EMPTY)
        personnel = was.personnel.plus(e.get("personnel")) if sign > 0 else was.personnel.minus(e.get("personnel"))
        if "personnel" not in e and _blank(was.personnel) and (equipment or units):
            # equipment or units alone where no personnel was reported: no claim about personnel,
            # either way, so withdrawing what an equipment-only deployment brought removes it
            personnel = was.personnel
        purposes = was.purposes + ((e["purpose"],) if sign > 0 and e.get("purpose") else ())
        now = Deployed(personnel, _merge(was.equipment, equipment, sign),
                       _merge(was.units, units, sign), was.since, was.since_precision, purposes, was.until)
        if now.gone:
            state.pop(key, None)
        else:
            state[key] = now
    return handler


def _counts(pairs: tuple[tuple[str, Amount], ...]) -> dict[str, int | None]:
    return {name: amount.value for name, amount in pairs}


class Deployments(Projection):
    name = "deployments"
    collection = "deployments"
    key_fields = ("actor", "place")
    handlers: ClassVar[dict[str, Handler]] = {"ForcesDeployed": _move(+1), "ForcesWithdrawn": _move(-1)}

    def state_key(self, event: dict[str, Any]) -> Any:
        return (event["actor"], event["place"])

    def __init__(self) -> None:
        self._rendered = Rendered()
        self._order = Order()

    def render(self, state: State, catalog: Catalog, pending: Pending | None = None) -> list[dict[str, Any]]:
        out = []
        pending = pending or {}
        cache = self._rendered.of(catalog)
        for key in self._order.of(state, pending):
            d = state.get(key)
            waiting = pending.get(key)
            if d is not None and not waiting:
                hit = cache.get(key)
                if hit is not None and hit[0] is d:
                    out.append(hit[1])
                    continue
            entry = self._entry(key, d, catalog, waiting or [])
            if d is not None and not waiting:
                cache[key] = (d, entry)
            out.append(entry)
        return out

    @staticmethod
    def _entry(key: tuple[str, str], d: Deployed | None, catalog: Catalog,
               waiting: list[dict[str, Any]]) -> dict[str, Any]:
        actor, place = key
        if d is None:  # pending facts only
            return {"actor": actor, "actor_name": catalog.name_of("actor", actor), "place": place,
                    "place_name": catalog.name_of("place", place), "personnel": None,
                    "personnel_known_minimum": None, "equipment": {}, "units": {}, "since": None,
                    "since_to": None, "since_precision": None, "since_text": None, "purposes": [],
                    "pending": waiting}
        return {
            "actor": actor, "actor_name": catalog.name_of("actor", actor),
            "place": place, "place_name": catalog.name_of("place", place),
            "personnel": d.personnel.value if d.personnel != _NONE else None,
            "personnel_known_minimum": d.personnel.known_minimum if d.personnel != _NONE else None,
            "equipment": _counts(d.equipment), "units": _counts(d.units),
            "since": d.since, "since_to": d.until or d.since, "since_precision": d.since_precision,
            "since_text": describe_window(d.since, d.until or d.since),
            "purposes": list(d.purposes), "pending": waiting}
