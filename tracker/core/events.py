"""The public event schema: pydantic v2 models, one discriminated union on `type`.

Field names here are the contract (docs/events.md documents each type with an example).
Events are validated once, when appended; the canonical form that is stored is
`canonical(event)`, a plain dict of JSON values. Projections fold those dicts, trusted,
without validating again.
"""

from __future__ import annotations

import re
import uuid
from datetime import date
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict, TypeAdapter, field_validator

from .dates import Precision, parse_date
from .kinds import REGISTRATIONS

_DATES: dict[str, date] = {}  # ISO text -> its date: a log names a few thousand days


def _parse_date(value: object) -> date:
    """`parse_date`, remembering the dates of strings it accepted (an error is never cached,
    so every bad value is checked, and reported, again)."""
    if type(value) is str:
        found = _DATES.get(value)
        if found is None:
            found = parse_date(value)
            if len(_DATES) < 100_000:
                _DATES[value] = found
        return found
    return parse_date(value)


IsoDate = Annotated[date, BeforeValidator(_parse_date)]
MAX_COUNT = (1 << 63) - 1  # counts are stored as JSON that orjson and SQLite read as 64-bit integers
Count = Annotated[int, Strict(), Field(ge=0, le=MAX_COUNT)]

# PostgreSQL reads a stored event's occurred_on out of its JSON, and its JSON functions refuse
# the \u0000 escape anywhere in the text: no string may hold a NUL (in a report, a paste accident).
# A pattern, not a Python validator: pydantic checks it in Rust (batch.py words its error).
NO_NUL = "^[^\x00]*$"
Text = Annotated[str, Field(min_length=1, max_length=10_000, pattern=NO_NUL)]
Ref = Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)]  # an actor or place: id, name or alias

_SLUG = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,63}$")
_HTTP_URL = re.compile(r"^https?://[^\s/]+")


def _slug(value: str) -> str:
    if not _SLUG.match(value):
        raise ValueError(
            f"'{value}' is not a valid id: use 1-64 lowercase letters, digits, '_' or '-', "
            f"e.g. '{re.sub(r'[^a-z0-9]+', '_', value.lower()).strip('_') or 'mosul'}'")
    return value


Slug = Annotated[str, BeforeValidator(lambda v: _slug(v) if isinstance(v, str) else v)]


class Source(BaseModel):
    """Where a fact comes from. At least one per event: a fact without a source is a rumour."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    publisher: Text
    title: Text | None = None
    url: Text | None = None
    published_on: IsoDate | None = None
    quote: Text | None = None

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not _HTTP_URL.match(value):
            raise ValueError(f"'{value}' is not an http(s) URL")
        return value


ClaimStatus = Literal["confirmed", "reported", "claimed"]


class Deaths(BaseModel):
    """Deaths as UCDP GED codes them: a best estimate within low and high. A missing
    estimate is unknown, never zero."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    best: Count | None = None
    low: Count | None = None
    high: Count | None = None


def _mark_references(schema: dict[str, Any], cls: type[BaseModel]) -> None:
    """In the JSON Schema, `"x-reference": "actor" | "place"` on each field that names one
    (an id, name or alias), so that a form can offer the catalog's entries for it, and
    `"x-registers": "actor" | "place"` on the types that add to the catalog."""
    for kind, fields in (("actor", getattr(cls, "ACTOR_FIELDS", ())), ("place", getattr(cls, "PLACE_FIELDS", ()))):
        for name in fields:
            if name in schema.get("properties", {}):
                schema["properties"][name]["x-reference"] = kind
    if not getattr(cls, "WINDOWED", True):
        schema["x-untimed"] = True  # registrations and retractions have no time
    if getattr(cls, "REGISTERS", None):
        schema["x-registers"] = cls.REGISTERS  # type: ignore[attr-defined]


class Event(BaseModel):
    """Fields every event has. Subclasses name their actor and place references in
    ACTOR_FIELDS / PLACE_FIELDS so that one resolver handles them all.

    A fact's time is `occurred_on` with `precision`, or the window `occurred_from` ..
    `occurred_to` (inclusive): one form or the other, checked in batch.py where each
    problem can name its field. New fields default to None so that an event written by an
    older release dumps to the same canonical text (idempotent re-appends depend on it)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True,
                              json_schema_extra=_mark_references)

    ACTOR_FIELDS: ClassVar[tuple[str, ...]] = ()
    PLACE_FIELDS: ClassVar[tuple[str, ...]] = ()
    FIGURES: ClassVar[tuple[str, ...]] = ()  # the numbers `at_least` may name
    WINDOWED: ClassVar[bool] = True  # a fact with a time; registrations and retractions have none
    REGISTERS: ClassVar[str | None] = None  # "actor" | "place": the catalog entry a registration adds

    type: str
    id: uuid.UUID | None = None
    occurred_on: IsoDate | None = None
    precision: Precision = "day"
    occurred_from: IsoDate | None = None
    occurred_to: IsoDate | None = None
    reported_on: IsoDate | None = None
    sources: Annotated[list[Source], Field(min_length=1)]
    notes: Text | None = None
    claim_status: ClaimStatus | None = None
    claimed_by: Ref | None = None
    # The fact's id in the dataset it was imported from, "acled:IRQ1234" (ACLED's event_id_cnty):
    # a newer export's row is matched to the fact it corrects by it (docs/acled.md).
    external_id: Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)] | None = None


class _Violent(Event):
    """A violent fact: deaths as best/low/high, and which figures are lower bounds. Declared
    here, before the subclasses' own fields: an event that gives neither dumps as before."""

    FIGURES = ("deaths",)
    deaths: Deaths | None = None
    at_least: list[Text] | None = None


class CityCaptured(_Violent):
    """A place (city, border crossing, gas field, airport) changes hands."""

    ACTOR_FIELDS = ("captured_by", "captured_from")
    PLACE_FIELDS = ("place",)
    type: Literal["CityCaptured"]
    place: Ref
    captured_by: Ref
    captured_from: Ref | None = None


class AssaultLaunched(_Violent):
    """An attack on a place begins: the attacker contests it until it captures it or is repelled."""

    ACTOR_FIELDS = ("attacker", "defender")
    PLACE_FIELDS = ("place",)
    type: Literal["AssaultLaunched"]
    place: Ref
    attacker: Ref
    defender: Ref | None = None


class AssaultRepelled(_Violent):
    """An assault ends in failure: control is unchanged, the attacker no longer contests."""

    ACTOR_FIELDS = ("attacker", "defender")
    PLACE_FIELDS = ("place",)
    type: Literal["AssaultRepelled"]
    place: Ref
    attacker: Ref
    defender: Ref


class AssetSeized(Event):
    """An actor takes materiel. `quantity` null means the amount is unknown, never zero."""

    ACTOR_FIELDS = ("actor", "seized_from")
    PLACE_FIELDS = ("place",)
    FIGURES = ("quantity",)
    type: Literal["AssetSeized"]
    actor: Ref
    asset: Text
    quantity: Count | None = None
    unit: Text | None = None
    seized_from: Ref | None = None
    place: Ref | None = None
    at_least: list[Text] | None = None


class _Forces(Event):
    ACTOR_FIELDS = ("actor",)
    PLACE_FIELDS = ("place",)
    FIGURES = ("personnel", "equipment", "units")  # equipment.NAME, units.NAME name one count
    actor: Ref
    place: Ref
    personnel: Count | None = None
    equipment: dict[Text, Count | None] = Field(default_factory=dict)
    units: dict[Text, Count | None] = Field(default_factory=dict)
    purpose: Text | None = None
    at_least: list[Text] | None = None


class ForcesDeployed(_Forces):
    """Forces arrive at a place. `units` counts formations ("Special Forces team": 6)."""

    type: Literal["ForcesDeployed"]


class ForcesWithdrawn(_Forces):
    """Forces leave a place; subtracted from what was deployed there."""

    type: Literal["ForcesWithdrawn"]


class CiviliansDisplaced(Event):
    """Civilians flee or are expelled. `at_least: ["count"]` marks "over a thousand" (the
    older `at_least: true` reads the same)."""

    ACTOR_FIELDS = ("by",)
    PLACE_FIELDS = ("place",)
    FIGURES = ("count",)
    type: Literal["CiviliansDisplaced"]
    place: Ref
    group: Text
    count: Count | None = None
    at_least: bool | list[Text] = False
    by: Ref | None = None


class AttackCarriedOut(Event):
    """A strike or bombing that is not an assault on control of a place."""

    ACTOR_FIELDS = ("actor",)
    PLACE_FIELDS = ("place",)
    FIGURES = ("killed", "wounded", "deaths")
    type: Literal["AttackCarriedOut"]
    place: Ref
    actor: Ref
    method: Text
    killed: Count | None = None
    wounded: Count | None = None
    deaths: Deaths | None = None
    at_least: list[Text] | None = None


class ResourceControlled(Event):
    """An actor controls a share of a resource (oil, gas): a level, not a quantity seized."""

    ACTOR_FIELDS = ("actor",)
    PLACE_FIELDS = ("place",)
    FIGURES = ("share_percent", "output")
    type: Literal["ResourceControlled"]
    actor: Ref
    resource: Text
    place: Ref | None = None
    share_percent: Annotated[float, Field(ge=0, le=100)] | None = None
    at_least: bool | list[Text] = False  # true (older form): every figure is a lower bound
    output: Count | None = None
    output_unit: Text | None = None


class ActorRegistered(Event):
    """Reference data: an actor's id, name and aliases. Registering an id again updates it."""

    WINDOWED = False
    REGISTERS = "actor"
    type: Literal["ActorRegistered"]
    actor: Slug
    name: Text
    aliases: list[Text] = Field(default_factory=list)
    kind: Text


class PlaceRegistered(Event):
    """Reference data: a place's id, name and coordinates, with `geo_precision` as ACLED
    codes it: 1 the place itself, 2 near it or a part of a region, 3 only a larger region.
    (The older `approximate: true` reads as 2, false as 1.)"""

    WINDOWED = False
    REGISTERS = "place"
    type: Literal["PlaceRegistered"]
    place: Slug
    name: Text
    aliases: list[Text] = Field(default_factory=list)
    kind: Text
    country: Text
    lat: Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
    lon: Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
    admin1: Text | None = None
    approximate: bool = False
    geo_precision: Annotated[int, Strict(), Field(ge=1, le=3)] | None = None


class EventRetracted(Event):
    """The correction path: from its knowledge time on, the retracted event counts in no state."""

    WINDOWED = False
    type: Literal["EventRetracted"]
    retracts: uuid.UUID
    reason: Text


EVENT_TYPES: dict[str, type[Event]] = {
    cls.model_fields["type"].annotation.__args__[0]: cls  # type: ignore[union-attr]
    for cls in (CityCaptured, AssaultLaunched, AssaultRepelled, AssetSeized, ForcesDeployed,
                ForcesWithdrawn, CiviliansDisplaced, AttackCarriedOut, ResourceControlled,
                ActorRegistered, PlaceRegistered, EventRetracted)
}
# What a registration says about its actor or place: its own fields, not those every event
# has (dates, sources, notes: they are about the report, not the actor or place).
REFERENCE_FIELDS: dict[str, tuple[str, ...]] = {
    t: tuple(f for f in EVENT_TYPES[t].model_fields if f not in Event.model_fields) for t in sorted(REGISTRATIONS)}

AnyEvent = Annotated[
    CityCaptured | AssaultLaunched | AssaultRepelled | AssetSeized | ForcesDeployed | ForcesWithdrawn
    | CiviliansDisplaced | AttackCarriedOut | ResourceControlled | ActorRegistered | PlaceRegistered
    | EventRetracted,
    Field(discriminator="type"),
]
EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(AnyEvent)


def canonical(event: Event) -> dict[str, Any]:
    """The stored form: JSON values, unset optionals left out, so equal facts serialise equally.
    A window has no precision: its bounds say it all."""
    found = event.model_dump(mode="json", exclude_none=True)
    if "occurred_from" in found:
        found.pop("precision", None)
    return found


def json_schema() -> dict[str, Any]:
    return EVENT_ADAPTER.json_schema()
