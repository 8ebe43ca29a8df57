"""Deterministic synthetic events, the same for every side of every comparison.

A world of N actors and M places registered first, then facts of every kind that the
projections fold (captures, assaults, seizures, deployments...), ~300 bytes of canonical
JSON each, dated over several years, mostly in order with a few days' jitter and ~2% late
reports (a fact reported months after it happened, arriving after later facts). Ids are
time-ordered UUIDv7 built from a seeded generator, so two runs make byte-identical logs.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import orjson

from tracker.core.batch import Item
from tracker.core.events import EVENT_TYPES, canonical

START = date(2014, 1, 1)
DAYS = 365 * 9  # facts dated 2014..2022; every date is before "today"
T0_MS = 1_700_000_000_000  # the UUIDv7 clock of the first event: ids grow with the index

PUBLISHERS = ["Reuters", "Associated Press", "Agence France-Presse", "Al Jazeera", "BBC News",
              "The Guardian", "Kurdistan 24", "Rudaw", "Syrian Observatory for Human Rights"]
ASSETS = [("Humvee", "vehicles"), ("T-72 tank", "vehicles"), ("M198 howitzer", "guns"),
          ("small arms ammunition", "tonnes"), ("rifles", None), ("mortar rounds", None)]
METHODS = ["car bomb", "air strike", "artillery", "suicide attack", "drone strike"]
RESOURCES = ["oil", "gas", "wheat", "water"]

# kind -> weight: what a situation log looks like (contest and logistics dominate)
MIX = [("AssaultLaunched", 18), ("CityCaptured", 12), ("AssaultRepelled", 8), ("AssetSeized", 16),
       ("ForcesDeployed", 16), ("ForcesWithdrawn", 10), ("AttackCarriedOut", 12),
       ("CiviliansDisplaced", 5), ("ResourceControlled", 3)]


@dataclass(frozen=True, slots=True)
class World:
    actors: int
    places: int

    @staticmethod
    def for_size(events: int) -> World:
        # One world for every real size, so a longer log is more history of the same places:
        # the state grows with the world, not with the log. Smoke-size logs get a small one.
        return World(60, 2000) if events >= 100_000 else World(20, 200)

    def actor(self, i: int) -> str:
        return f"actor-{i:03d}"

    def place(self, i: int) -> str:
        return f"place-{i:04d}"


def _uuid7(rng: random.Random, index: int) -> str:
    ms = T0_MS + index  # one millisecond per event: strictly increasing ids
    rand = rng.getrandbits(74)
    value = (ms << 80) | (0x7 << 76) | ((rand >> 62) & 0xFFF) << 64 | (0b10 << 62) | (rand & ((1 << 62) - 1))
    return str(uuid.UUID(int=value))


def _source(rng: random.Random, day: date) -> dict[str, Any]:
    publisher = rng.choice(PUBLISHERS)
    slug = rng.getrandbits(40)
    return {"publisher": publisher, "url": f"https://news.example.org/{day.year}/{day.month:02d}/{slug:x}"}


def raw_events(n: int, seed: int = 7, world: World | None = None) -> Iterator[dict[str, Any]]:
    """`n` raw events (as a client sends them, ids included): registrations, then facts; in
    the world of that size unless one is given (the dashboard's figures ask for 5,000 places)."""
    rng = random.Random(seed)
    world = world or World.for_size(n)
    index = 0
    for a in range(world.actors):
        if index >= n:
            return
        yield _canonical_order({"type": "ActorRegistered", "id": _uuid7(rng, index), "actor": world.actor(a),
               "name": f"Actor {a}", "aliases": [f"A{a}"], "kind": rng.choice(["state", "armed group", "militia"]),
               "sources": [_source(rng, START)]})
        index += 1
    for p in range(world.places):
        if index >= n:
            return
        yield _canonical_order({"type": "PlaceRegistered", "id": _uuid7(rng, index), "place": world.place(p),
               "name": f"Place {p}", "kind": rng.choice(["city", "town", "border crossing", "gas field"]),
               "country": rng.choice(["Iraq", "Syria"]), "lat": round(rng.uniform(30, 37), 4),
               "lon": round(rng.uniform(38, 46), 4), "sources": [_source(rng, START)]})
        index += 1
    kinds = [k for k, _ in MIX]
    weights = [w for _, w in MIX]
    facts = n - index
    for f in range(facts):
        day_n = int(DAYS * f / max(facts, 1)) - rng.randint(0, 5)  # a few days of jitter
        if rng.random() < 0.02:
            day_n -= rng.randint(30, 300)  # a late report
        day = START + timedelta(days=max(0, day_n))
        reported = day + timedelta(days=rng.randint(0, 3))
        kind = rng.choices(kinds, weights)[0]
        actor, other = rng.sample(range(world.actors), 2)
        place = world.place(int(rng.paretovariate(1.2) * 7) % world.places)  # some places are hot spots
        event: dict[str, Any] = {"type": kind, "id": _uuid7(rng, index), **_time(rng, day),
                                 "reported_on": reported.isoformat(), "sources": [_source(rng, day)]}
        if kind == "CityCaptured":
            event.update(place=place, captured_by=world.actor(actor), captured_from=world.actor(other))
        elif kind == "AssaultLaunched" or kind == "AssaultRepelled":
            event.update(place=place, attacker=world.actor(actor), defender=world.actor(other))
        elif kind == "AssetSeized":
            asset, unit = rng.choice(ASSETS)
            event.update(actor=world.actor(actor), asset=asset, seized_from=world.actor(other), place=place,
                         **({"quantity": rng.randint(1, 400)} if rng.random() < 0.6 else {}),
                         **({"unit": unit} if unit else {}))
        elif kind in ("ForcesDeployed", "ForcesWithdrawn"):
            event.update(actor=world.actor(actor), place=place, personnel=rng.randint(10, 3000),
                         equipment={"tanks": rng.randint(0, 30)}, units={"battalion": rng.randint(1, 4)})
        elif kind == "AttackCarriedOut":
            event.update(place=place, actor=world.actor(actor), method=rng.choice(METHODS),
                         killed=rng.randint(0, 80), wounded=rng.randint(0, 200))
        elif kind == "CiviliansDisplaced":
            event.update(place=place, group="residents", count=rng.randint(100, 50_000), at_least=True,
                         by=world.actor(actor))
        else:
            event.update(actor=world.actor(actor), resource=rng.choice(RESOURCES), place=place,
                         share_percent=float(rng.randint(5, 100)))
        if rng.random() < 0.3:
            event["notes"] = "Figures unconfirmed by independent sources."
        yield _canonical_order(event)
        index += 1


def _time(rng: random.Random, day: date) -> dict[str, Any]:
    """Mostly a day; as in ACLED-scale data, some facts known only to a week (5%) or a month
    (2%), and some to a window of 2 to 20 days (1%): the as-of figures include pending facts
    and entries folded again when a long window settles."""
    r = rng.random()
    if r < 0.01:
        return {"occurred_from": day.isoformat(), "occurred_to": (day + timedelta(days=rng.randint(2, 20))).isoformat()}
    if r < 0.03:
        return {"occurred_on": day.replace(day=1).isoformat(), "precision": "month"}
    if r < 0.08:
        return {"occurred_on": (day - timedelta(days=day.weekday())).isoformat(), "precision": "week"}
    return {"occurred_on": day.isoformat()}


def _defaults(model: Any) -> dict[str, Any]:
    out = {}
    for name, info in model.model_fields.items():
        if not info.is_required():
            value = info.get_default(call_default_factory=True)
            if value is not None:
                out[name] = value
    return out


_ORDER = {kind: list(model.model_fields) for kind, model in EVENT_TYPES.items()}
_DEFAULTS = {kind: _defaults(model) for kind, model in EVENT_TYPES.items()}


def _canonical_order(event: dict[str, Any]) -> dict[str, Any]:
    """Keys in the order `canonical()` dumps them, every default spelled out, so that
    orjson.dumps(event) is byte for byte what tracker stores for it."""
    defaults = _DEFAULTS[event["type"]]
    if "occurred_from" in event:  # a window has no precision (events.canonical)
        defaults = {k: v for k, v in defaults.items() if k != "precision"}
    return {k: event[k] if k in event else defaults[k] for k in _ORDER[event["type"]]
            if k in event or k in defaults}


def batches(n: int, size: int, seed: int = 7) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for event in raw_events(n, seed):
        batch.append(event)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def items(batch: list[dict[str, Any]]) -> list[Item]:
    return [Item(f"event {e['id']}", e) for e in batch]


Row = tuple[str, str, bytes]  # (id, type, canonical JSON)
_CACHE: dict[int, list[Row]] = {}


def rows(n: int) -> list[Row]:
    """The first `n` events as (id, type, canonical JSON bytes), made once per process.

    Held as bytes, not dicts, so that a million of them cost ~0.5 GB and nothing for the
    garbage collector to scan; each side decodes a batch outside its timed section."""
    for have, cached in _CACHE.items():
        if have >= n and World.for_size(have) == World.for_size(n):
            return cached[:n] if have > n else cached
    made = [(e["id"], e["type"], orjson.dumps(e)) for e in raw_events(n)]
    _CACHE[n] = made
    return made


def batches_of(rows_: list[Row], size: int) -> list[list[Row]]:
    return [rows_[i:i + size] for i in range(0, len(rows_), size)]


def check_canonical(sample: int = 3000) -> None:
    """The generator's JSON is what tracker's validation makes of it (run by --smoke)."""
    for event in raw_events(sample):
        model = EVENT_TYPES[event["type"]].model_validate(event)
        assert orjson.dumps(canonical(model)) == orjson.dumps(event), event
