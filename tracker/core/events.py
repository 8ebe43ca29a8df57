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
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict, TypeAdapter, field_validator

from .dates import Precision, parse_date

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


class Event(BaseModel):
    """Fields every event has. Subclasses name their actor and place references in
    ACTOR_FIELDS / PLACE_FIELDS so that one resolver handles them all."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    ACTOR_FIELDS: ClassVar[tuple[str, ...]] = ()
    PLACE_FIELDS: ClassVar[tuple[str, ...]] = ()

    type: str
    id: uuid.UUID | None = None
    if TYPE_CHECKING:  # what a reader of any Event gets: registrations and retractions may have no date
        occurred_on: date | None
    else:  # what pydantic validates here: a fact's date is required (the dateless types override it)
        occurred_on: IsoDate
    precision: Precision = "day"
    reported_on: IsoDate | None = None
    sources: Annotated[list[Source], Field(min_length=1)]
    notes: Text | None = None


class CityCaptured(Event):
    """A place (city, border crossing, gas field, airport) changes hands."""

    ACTOR_FIELDS = ("captured_by", "captured_from")
    PLACE_FIELDS = ("place",)
    type: Literal["CityCaptured"]
    place: Ref
    captured_by: Ref
    captured_from: Ref | None = None


class AssaultLaunched(Event):
    """An attack on a place begins: the attacker contests it until it captures it or is repelled."""

    ACTOR_FIELDS = ("attacker", "defender")
    PLACE_FIELDS = ("place",)
    type: Literal["AssaultLaunched"]
    place: Ref
    attacker: Ref
    defender: Ref | None = None


class AssaultRepelled(Event):
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
    type: Literal["AssetSeized"]
    actor: Ref
    asset: Text
    quantity: Count | None = None
    unit: Text | None = None
    seized_from: Ref | None = None
    place: Ref | None = None


class _Forces(Event):
    ACTOR_FIELDS = ("actor",)
    PLACE_FIELDS = ("place",)
    actor: Ref
    place: Ref
    personnel: Count | None = None
    equipment: dict[Text, Count | None] = Field(default_factory=dict)
    units: dict[Text, Count | None] = Field(default_factory=dict)
    purpose: Text | None = None


class ForcesDeployed(_Forces):
    """Forces arrive at a place. `units` counts formations ("Special Forces team": 6)."""

    type: Literal["ForcesDeployed"]


class ForcesWithdrawn(_Forces):
    """Forces leave a place; subtracted from what was deployed there."""

    type: Literal["ForcesWithdrawn"]


class CiviliansDisplaced(Event):
    """Civilians flee or are expelled. `at_least` marks "over a thousand"."""

    ACTOR_FIELDS = ("by",)
    PLACE_FIELDS = ("place",)
    type: Literal["CiviliansDisplaced"]
    place: Ref
    group: Text
    count: Count | None = None
    at_least: bool = False
    by: Ref | None = None


class AttackCarriedOut(Event):
    """A strike or bombing that is not an assault on control of a place."""

    ACTOR_FIELDS = ("actor",)
    PLACE_FIELDS = ("place",)
    type: Literal["AttackCarriedOut"]
    place: Ref
    actor: Ref
    method: Text
    killed: Count | None = None
    wounded: Count | None = None


class ResourceControlled(Event):
    """An actor controls a share of a resource (oil, gas): a level, not a quantity seized."""

    ACTOR_FIELDS = ("actor",)
    PLACE_FIELDS = ("place",)
    type: Literal["ResourceControlled"]
    actor: Ref
    resource: Text
    place: Ref | None = None
    share_percent: Annotated[float, Field(ge=0, le=100)] | None = None
    at_least: bool = False
    output: Count | None = None
    output_unit: Text | None = None


class ActorRegistered(Event):
    """Reference data: an actor's id, name and aliases. Registering an id again updates it."""

    occurred_on: IsoDate | None = None  # reference data and corrections need no date
    type: Literal["ActorRegistered"]
    actor: Slug
    name: Text
    aliases: list[Text] = Field(default_factory=list)
    kind: Text


class PlaceRegistered(Event):
    """Reference data: a place's id, name and coordinates (`approximate` when estimated)."""

    occurred_on: IsoDate | None = None  # reference data and corrections need no date
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


class EventRetracted(Event):
    """The correction path: from its knowledge time on, the retracted event counts in no state."""

    occurred_on: IsoDate | None = None  # reference data and corrections need no date
    type: Literal["EventRetracted"]
    retracts: uuid.UUID
    reason: Text


EVENT_TYPES: dict[str, type[Event]] = {
    cls.model_fields["type"].annotation.__args__[0]: cls  # type: ignore[union-attr]
    for cls in (CityCaptured, AssaultLaunched, AssaultRepelled, AssetSeized, ForcesDeployed,
                ForcesWithdrawn, CiviliansDisplaced, AttackCarriedOut, ResourceControlled,
                ActorRegistered, PlaceRegistered, EventRetracted)
}
REGISTRATIONS = frozenset({"ActorRegistered", "PlaceRegistered"})

AnyEvent = Annotated[
    CityCaptured | AssaultLaunched | AssaultRepelled | AssetSeized | ForcesDeployed | ForcesWithdrawn
    | CiviliansDisplaced | AttackCarriedOut | ResourceControlled | ActorRegistered | PlaceRegistered
    | EventRetracted,
    Field(discriminator="type"),
]
EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(AnyEvent)


def canonical(event: Event) -> dict[str, Any]:
    """The stored form: JSON values, unset optionals left out, so equal facts serialise equally."""
    return event.model_dump(mode="json", exclude_none=True)


def json_schema() -> dict[str, Any]:
    return EVENT_ADAPTER.json_schema()
