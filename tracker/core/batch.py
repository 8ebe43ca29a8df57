"""Turning raw records into events fit to store: validate, resolve names, check dates.

Pure: the caller passes the catalog, today's date and the stored events a batch
retracts. Every record is checked and every issue collected, so one run tells the user
all that is wrong; a batch with any issue is refused whole.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from itertools import pairwise
from typing import Any, NamedTuple
from uuid import UUID

import orjson
from pydantic import ValidationError
from pydantic_core import SchemaValidator

from .catalog import Catalog, Kind, UnknownReference
from .dates import window_start
from .errors import Issue, ValidationFailed
from .events import EVENT_TYPES, MAX_COUNT, NO_NUL, REGISTRATIONS, Event, EventRetracted, canonical
from .gc_pause import paused_gc
from .ids import uuid7

MAX_EVENT_BYTES = 1 << 20  # 1 MiB, the websocket message limit too
MAX_INT = MAX_COUNT  # every integer of an event is a Count, which the schema bounds by this


@dataclass(frozen=True, slots=True)
class Item:
    """One raw record and where it came from, for messages."""

    where: str
    data: Any
    size: int | None = None  # bytes of its source text, when known


class Prepared(NamedTuple):
    """A NamedTuple, not a frozen dataclass: as immutable, and cheaper to make (one per event)."""

    id: str
    type: str
    event: dict[str, Any] | None  # canonical, when it was made as a dict (else only its text was)
    where: str
    data: str = ""  # the canonical event as stored: its JSON text


def retract_targets(items: list[Item]) -> list[str]:
    """The ids a batch retracts, so the caller can look them up before `prepare`."""
    out = []
    for item in items:
        if isinstance(item.data, dict) and item.data.get("type") == "EventRetracted":
            target = item.data.get("retracts")
            if isinstance(target, str):
                try:
                    out.append(str(UUID(target)))
                except ValueError:
                    pass
    return out


def prepare(items: list[Item], catalog: Catalog, today: date, stored_types: Mapping[str, str],
            new_id: Callable[[], UUID] = uuid7, stored_known: Mapping[str, date] | None = None) -> list[Prepared]:
    """Validated, resolved, canonical events; raises ValidationFailed listing every issue.

    `stored_types` maps the ids that the batch retracts and that are stored to their type,
    `stored_known` to the day each was known (its reported_on, else the day it was recorded)."""
    registers = any(isinstance(i.data, dict) and isinstance(i.data.get("type"), str)
                    and i.data["type"] in REGISTRATIONS for i in items)
    with paused_gc():  # a batch allocates many short-lived objects and no cycles: collect after it
        # only a batch that registers changes the catalog: only then is a copy of it needed
        return _prepare(items, catalog.copy() if registers else catalog, today, stored_types, new_id,
                        stored_known or {})


def _prepare(items: list[Item], catalog: Catalog, today: date, stored_types: Mapping[str, str],
             new_id: Callable[[], UUID], stored_known: Mapping[str, date]) -> list[Prepared]:
    # `catalog` is the batch's own copy: registrations earlier in the batch count for later records
    issues: list[Issue] = []
    out: list[Prepared] = []
    batch_types: dict[str, str] = {}
    batch_known: dict[str, date] = {}
    names: dict[tuple[Kind, str], str] = {}  # each name the batch uses, resolved once (cleared by a registration)
    for item in items:
        found = _check(item, catalog, today, stored_types, batch_types, stored_known, batch_known, names, new_id)
        if isinstance(found, list):
            issues.extend(found)
            continue
        prepared, known = found
        batch_types[prepared.id] = prepared.type
        batch_known[prepared.id] = known or today
        out.append(prepared)
    if issues:
        raise ValidationFailed(issues)
    return out


def _check(item: Item, catalog: Catalog, today: date, stored_types: Mapping[str, str],
           batch_types: Mapping[str, str], stored_known: Mapping[str, date] | None = None,
           batch_known: Mapping[str, date] | None = None,
           names: dict[tuple[Kind, str], str] | None = None, new_id: Callable[[], UUID] = uuid7,
           ) -> list[Issue] | tuple[Prepared, date | None]:
    """The event fit to store and the day it was known (its reported_on, if given), or its
    issues. The canonical text comes straight from pydantic-core (`to_json`, one pass) when
    the stored form is the validated model as it is: an id given, every reference already an
    id, no registration, a day's date or a window; otherwise `canonical()` makes the dict,
    changed, and its text is made from that."""
    where, data = item.where, item.data
    if not isinstance(data, dict):
        return [Issue(where, None, f"expected an event (a JSON object), got {_kind(data)}")]
    size = item.size if item.size is not None else _size(data)
    if size > MAX_EVENT_BYTES:
        return [Issue(where, None, f"event is {size:,} bytes, over the {MAX_EVENT_BYTES:,}-byte limit",
                      "split long notes or quotes; link the source instead")]
    kind = data.get("type")
    if kind is None:
        return [Issue(where, "type", "missing", f"one of {', '.join(EVENT_TYPES)}")]
    if not isinstance(kind, str):
        return [Issue(where, "type", f"expected the event type's name (a string), got {_kind(kind)}",
                      f"one of {', '.join(EVENT_TYPES)}")]
    model = EVENT_TYPES.get(kind)
    if model is None:
        close = difflib.get_close_matches(str(kind), list(EVENT_TYPES), n=1)
        return [Issue(where, "type", f"unknown event type {kind!r}",
                      f"did you mean '{close[0]}'?" if close else f"one of {', '.join(EVENT_TYPES)}")]
    registers = kind in REGISTRATIONS
    try:
        # A fact is validated without the NUL pattern on every string, and its stored text is
        # searched for the escape instead (below); registrations, with the pattern (they change the catalog).
        event = (model.__pydantic_validator__ if registers else _UNPATTERNED[kind]).validate_python(data)
    except ValidationError:
        return _errors(where, model, data)  # the full validator's list, NUL checks included
    issues, resolved = _resolve_and_check(where, event, catalog, today, stored_types, batch_types,
                                          stored_known, batch_known, names)
    values = event.__dict__
    if (not issues and values["id"] is not None and not registers
            and (values["occurred_on"] is None or values["precision"] == "day")
            and resolved.items() <= values.items()):  # every reference given by its id already
        exclude = _NO_PRECISION if values["occurred_from"] is not None else None  # as canonical() drops it
        text = model.__pydantic_serializer__.to_json(event, exclude_none=True, exclude=exclude)
        if _NUL in text and (errors := _errors(where, model, data)):  # (else a backslash and "u0000": valid)
            return errors
        # The id as given when it is the canonical form already (str(UUID) is slow): the only
        # 36-character text that a UUID field accepts is the hyphenated form.
        ident = data["id"]
        if type(ident) is not str or len(ident) != 36 or ident != ident.lower():
            ident = str(values["id"])
        return Prepared(ident, kind, None, where, text.decode()), values["reported_on"]
    if issues:
        if not registers and _NUL in orjson.dumps(canonical(event)) and (errors := _errors(where, model, data)):
            return errors
        return issues
    found = canonical(event)
    if found.get("occurred_on") and found.get("precision", "day") != "day":
        # A fact known only to a window sorts, and is stored, at the window's first day.
        assert event.occurred_on is not None  # canonical() keeps occurred_on only when it is set
        found["occurred_on"] = window_start(event.occurred_on, event.precision).isoformat()
    found.update(resolved)  # each reference by its id: resolved once, in the check
    if found.get("id") is None:
        found["id"] = str(new_id())
    dumped = orjson.dumps(found)
    if not registers and _NUL in dumped and (errors := _errors(where, model, data)):
        return errors
    if registers:
        clashes = catalog.collisions(found)
        if clashes:
            return [Issue(where, "aliases", "; ".join(clashes), "each name or alias may name one entry only")]
        catalog.register(found)
        if names:
            names.clear()  # a registration may rename: resolve again against the changed catalog
    return Prepared(found["id"], kind, found, where, dumped.decode()), values["reported_on"]


def _time_issues(where: str, event: Event, today: date) -> list[Issue]:
    """A fact's time: occurred_on (with precision) or the window occurred_from..occurred_to,
    one form or the other; registrations and retractions have none."""
    on, start, end, reported = event.occurred_on, event.occurred_from, event.occurred_to, event.reported_on
    if (on is not None and start is None and end is None and on <= today
            and (reported is None or on <= reported <= today) and event.WINDOWED):
        return []  # the common case, a day or a period reported in time: nothing to check below
    issues = []
    windowed = start is not None or end is not None
    if not event.WINDOWED:
        for field in ("occurred_from", "occurred_to"):
            if getattr(event, field) is not None:
                issues.append(Issue(where, field, f"a {event.type} has no time window", "remove it"))
        return issues
    if windowed and on is not None:
        issues.append(Issue(where, "occurred_on", "give either occurred_on (with precision) or occurred_from and "
                            "occurred_to, not both", "keep the window if the source gives a range"))
        return issues
    if windowed:
        if "precision" in event.model_fields_set:
            issues.append(Issue(where, "precision",
                                "a window has no precision: its bounds say how well the time is known",
                                "remove precision"))
        for field in ("occurred_from", "occurred_to"):
            if getattr(event, field) is None:
                issues.append(Issue(where, field, "a window needs both bounds",
                                    "give the latest date the source allows, and say in notes which bound is inferred"))
        if start is None or end is None:
            return issues
        if start > end:
            issues.append(Issue(where, "occurred_to", f"the window ends ({end}) before it starts ({start})",
                                "swap the two dates"))
        first, label = start, "occurred_from"
    elif on is None:
        issues.append(Issue(where, "occurred_on", "required field is missing",
                            "give occurred_on (with precision), or occurred_from and occurred_to for a window"))
        return issues
    else:
        first, label = on, "occurred_on"
    if first > today:
        issues.append(Issue(where, label, f"{first} is later than the recording date {today}",
                            "a report can only record what has already happened"))
    if reported is not None:
        if reported > today:
            issues.append(Issue(where, "reported_on", f"{reported} is later than the recording date {today}"))
        elif reported < first:
            issues.append(Issue(where, "reported_on", f"{reported} is before {label} {first}",
                                "a fact cannot be reported before it happens" if label == "occurred_on"
                                else "a window may not start after the report: end it later instead"))
    return issues


def _figure_issues(where: str, event: Event) -> list[Issue]:
    issues = []
    at_least = getattr(event, "at_least", None)
    if isinstance(at_least, list):
        for i, name in enumerate(at_least):
            head, _, rest = name.partition(".")
            value = getattr(event, head, None) if head in event.FIGURES else None
            if head not in event.FIGURES:
                issues.append(Issue(where, f"at_least[{i}]", f"'{name}' is not a figure of a {event.type}",
                                    f"one of {', '.join(event.FIGURES) or 'none'}"))
            elif isinstance(value, dict) and not rest:
                issues.append(Issue(where, f"at_least[{i}]", f"name one count of {head}",
                                    f"for example '{head}.{next(iter(value), 'NAME')}'"))
            elif value is None or (rest and (not isinstance(value, dict) or value.get(rest) is None)):
                issues.append(Issue(where, f"at_least[{i}]", f"'{name}' gives no number to be a lower bound of"))
    deaths = getattr(event, "deaths", None)
    if deaths is not None:
        known = [(f, getattr(deaths, f)) for f in ("low", "best", "high") if getattr(deaths, f) is not None]
        if not known:
            issues.append(Issue(where, "deaths", "give at least one of best, low, high",
                                "or leave deaths out: unknown"))
        if any(a[1] > b[1] for a, b in pairwise(known)):
            issues.append(Issue(where, "deaths", "estimates must read low <= best <= high",
                                ", ".join(f"{f} {v:,}" for f, v in known)))
    if event.type == "PlaceRegistered":
        geo, approximate = getattr(event, "geo_precision", None), getattr(event, "approximate", False)
        if geo == 1 and approximate:
            issues.append(Issue(where, "geo_precision",
                                "geo_precision 1 (the place itself) contradicts approximate: true",
                                "drop approximate: geo_precision replaces it"))
    return issues


def _resolve_and_check(where: str, event: Event, catalog: Catalog, today: date,
                       stored_types: Mapping[str, str], batch_types: Mapping[str, str],
                       stored_known: Mapping[str, date] | None = None, batch_known: Mapping[str, date] | None = None,
                       names: dict[tuple[Kind, str], str] | None = None) -> tuple[list[Issue], dict[str, str]]:
    """The issues of a validated event, and the id that each of its references names.
    `names`: the batch's memo of what each (kind, text) resolved to; only names the catalog
    knows are kept, so an unknown one is looked up, and reported, every time."""
    stored_known, batch_known = stored_known or {}, batch_known or {}
    names = {} if names is None else names
    issues: list[Issue] = []
    resolved: dict[str, str] = {}
    values = event.__dict__
    for kind, field in _REFERENCES[event.type]:
        text = values[field]
        if text is None:
            continue
        found = names.get((kind, text))
        if found is None:
            try:
                found = names[(kind, text)] = catalog.resolve(kind, text)
            except UnknownReference as e:
                hint = (f"did you mean {' or '.join(repr(s) for s in e.suggestions)}?" if e.suggestions
                        else f"register it first with {'an' if kind == 'actor' else 'a'} "
                             f"{kind.title()}Registered event")
                issues.append(Issue(where, field, f"unknown {kind} '{text}'", hint))
                continue
        resolved[field] = found
    issues += _time_issues(where, event, today)
    if values.get("at_least") is not None or values.get("deaths") is not None or event.type == "PlaceRegistered":
        issues += _figure_issues(where, event)
    if event.claimed_by is not None:
        try:
            resolved["claimed_by"] = catalog.resolve("actor", event.claimed_by)
        except UnknownReference as e:
            issues.append(Issue(where, "claimed_by", f"unknown actor '{event.claimed_by}'",
                                f"did you mean {' or '.join(repr(s) for s in e.suggestions)}?" if e.suggestions
                                else "register it first with an ActorRegistered event"))
        if event.claim_status != "claimed":
            issues.append(Issue(where, "claimed_by", "names who claims the fact, so it needs claim_status \"claimed\"",
                                'add "claim_status": "claimed", or drop claimed_by'))
    if isinstance(event, EventRetracted):  # the model of type "EventRetracted"
        target = str(event.retracts)
        target_type = batch_types.get(target) or stored_types.get(target)
        known = batch_known.get(target) or stored_known.get(target)
        retraction_known = event.reported_on or today
        if target_type is None:
            issues.append(Issue(where, "retracts", f"no stored event has id {target}"))
        elif known is not None and retraction_known < known:
            issues.append(Issue(where, "reported_on", f"the retraction is known on {retraction_known}, before the "
                                f"fact it retracts was known ({known})",
                                f"a correction cannot be known before what it corrects: report it on {known} or later"))
        elif target_type in REGISTRATIONS or target_type == "EventRetracted":
            issues.append(Issue(where, "retracts", f"{target} is a {target_type}, which cannot be retracted",
                                "re-register the actor or place to correct reference data"
                                if target_type in REGISTRATIONS else "append the original event again with a new id"))
    return issues, resolved


def _errors(where: str, model: type[Event], data: Any) -> list[Issue]:
    """The issues that the model's own validator finds in `data` (none if it accepts it)."""
    try:
        model.__pydantic_validator__.validate_python(data)
    except ValidationError as e:
        return [_issue(where, model, err) for err in e.errors(include_url=False)]
    return []


def _without_nul_pattern(node: Any) -> Any:
    """A copy of a core schema without the NUL pattern on its strings."""
    if isinstance(node, dict):
        return {k: _without_nul_pattern(v) for k, v in node.items() if not (k == "pattern" and v == NO_NUL)}
    if isinstance(node, list):
        return [_without_nul_pattern(v) for v in node]
    return node


def _models_in(node: Any) -> set[type]:
    if isinstance(node, dict):
        found = {node["cls"]} if node.get("type") == "model" else set()
        return found.union(*(_models_in(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_models_in(v) for v in node))
    return set()


def _unpatterned(model: type[Event]) -> SchemaValidator:
    """The model's validator without the NUL pattern. pydantic-core reuses a complete model's
    own validator for a `model` schema of that class (its "prebuilt" validators), which would
    bring the pattern back: the classes read as incomplete while this one is built. (Were that
    to change, the pattern would simply be checked twice.)"""
    schema = model.__pydantic_core_schema__
    classes = _models_in(schema)
    try:
        for cls in classes:
            cls.__pydantic_complete__ = False  # type: ignore[attr-defined]
        return SchemaValidator(_without_nul_pattern(schema), schema.get("config"))
    finally:
        for cls in classes:
            cls.__pydantic_complete__ = True  # type: ignore[attr-defined]


# Each fact type's validator without the NUL pattern, which costs ~0.15 us per string field
# (measured): one search of the stored text for the escape \u0000 replaces them. It makes the
# same model instances; on any failure the full validator is asked for the issues.
_UNPATTERNED: dict[str, SchemaValidator] = {kind: _unpatterned(model) for kind, model in EVENT_TYPES.items()}
_NO_PRECISION = {"precision"}  # never changed (a set: what to_json's exclude takes)
_NUL = b"\\u0000"  # how JSON text, orjson's and pydantic-core's alike, writes a NUL character
_REFERENCES: dict[str, tuple[tuple[Kind, str], ...]] = {
    kind: (*(("actor", f) for f in model.ACTOR_FIELDS), *(("place", f) for f in model.PLACE_FIELDS))
    for kind, model in EVENT_TYPES.items()}


def _issue(where: str, model: type[Event], err: Any) -> Issue:
    loc = err["loc"]
    field = "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p)) for i, p in enumerate(loc)) or None
    kind, message = err["type"], err["msg"].removeprefix("Value error, ")
    if kind == "extra_forbidden":
        close = difflib.get_close_matches(str(loc[-1]), list(model.model_fields), n=1)
        return Issue(where, field, f"unknown field for {model.__name__}",
                     f"did you mean '{close[0]}'?" if close else None)
    if kind == "missing":
        return Issue(where, field, "required field is missing")
    if kind == "string_pattern_mismatch" and (err.get("ctx") or {}).get("pattern") == NO_NUL:
        return Issue(where, field, "contains a NUL character (\\u0000)", "remove it")
    if kind == "less_than_equal" and (err.get("ctx") or {}).get("le") == MAX_INT:
        return Issue(where, field, f"{err.get('input')} is too large to store", f"at most {MAX_INT:,}")
    if kind in ("int_type", "int_parsing", "int_from_float") and "Strict" not in message:
        message = f"expected a whole number, got {err.get('input')!r}"
    return Issue(where, field, message)


def _kind(value: Any) -> str:
    names = {list: "a list", str: "a string", type(None): "null", bool: "a boolean"}
    return names.get(type(value), type(value).__name__)


def _size(data: Any) -> int:
    """Bytes of a record as JSON. orjson refuses integers over 64 bits and nesting over 255
    levels; the stdlib measures those so that validation, not a crash, reports them."""
    try:
        return len(orjson.dumps(data, default=str))
    except orjson.JSONEncodeError:
        return len(json.dumps(data, default=str, ensure_ascii=False).encode())


