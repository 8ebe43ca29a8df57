"""ACLED's CSV export in and out, kept in sync as corrections (docs/acled.md says the mapping).

Pure: the shell hands the file's text and the log's ACLED facts; this module reads the
rows, checks every one (each problem with its line number), registers the actors and places
the rows name that the catalog lacks, maps each row to a tracker fact, and plans the batch
that brings the log in line with the export:
- a row whose fact is not in the log: the fact;
- a row whose fact is in the log as it is: nothing (each fact's id is derived from its
  content, so the same row gives the same id);
- a row whose fact changed: a retraction of the old fact and the new fact;
- with a sync range, a fact of an event date in it whose row is gone: a retraction.
The batch goes to the log in one append: all or nothing.
"""

from __future__ import annotations

import csv
import hashlib
import re
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson

from .catalog import Catalog, Kind
from .errors import Issue, ValidationFailed

COLUMNS = ("event_id_cnty", "event_date", "year", "time_precision", "disorder_type", "event_type", "sub_event_type",
           "actor1", "assoc_actor_1", "inter1", "actor2", "assoc_actor_2", "inter2", "interaction",
           "civilian_targeting", "iso", "region", "country", "admin1", "admin2", "admin3", "location", "latitude",
           "longitude", "geo_precision", "source", "source_scale", "notes", "fatalities", "tags", "timestamp")
# What an import cannot do without; the other columns (older exports lack some) may be missing.
REQUIRED = ("event_id_cnty", "event_date", "time_precision", "event_type", "sub_event_type", "actor1", "country",
            "location", "latitude", "longitude", "geo_precision", "fatalities")
PUBLISHER = "ACLED"
PREFIX = "acled:"
_NAMESPACE = uuid.UUID("0b6f3c1e-5a7d-4c38-9f2e-7a1d2c3b4e5f")
MAX_ROWS = 2_000_000

EVENT_TYPES: dict[str, tuple[str, ...]] = {
    "Battles": ("Armed clash", "Government regains territory", "Non-state actor overtakes territory"),
    "Explosions/Remote violence": ("Chemical weapon", "Air/drone strike", "Suicide bomb",
                                   "Shelling/artillery/missile attack", "Remote explosive/landmine/IED", "Grenade"),
    "Violence against civilians": ("Sexual violence", "Attack", "Abduction/forced disappearance"),
    "Protests": ("Peaceful protest", "Protest with intervention", "Excessive force against protesters"),
    "Riots": ("Violent demonstration", "Mob violence"),
    "Strategic developments": ("Agreement", "Arrests", "Change to group/activity", "Disrupted weapons use",
                               "Headquarters or base established", "Looting/property destruction",
                               "Non-violent transfer of territory", "Other"),
}
_SUBTYPES = {sub.casefold(): (kind, sub) for kind, subs in EVENT_TYPES.items() for sub in subs}
_SUBTYPES["excessive force against protestors"] = ("Protests", "Excessive force against protesters")  # both spellings
_TYPES = {kind.casefold(): kind for kind in EVENT_TYPES}
_TYPES["strategic developments"] = "Strategic developments"
# Kept as tracker facts; the rest are counted and reported as skipped.
CAPTURES = {"Government regains territory", "Non-state actor overtakes territory", "Non-violent transfer of territory"}
SKIPPED = {"Peaceful protest", "Protest with intervention", "Violent demonstration", "Mob violence", "Agreement",
           "Arrests", "Change to group/activity", "Other"}
INTER = {"1": "state forces", "2": "rebel group", "3": "political militia", "4": "identity militia",
         "5": "rioters", "6": "protesters", "7": "civilians", "8": "external/other forces"}
_NOTE = re.compile(r"^ACLED: (?P<type>[^/\n]+(?:/Remote violence)?) / (?P<sub>[^;\n]+); "
                   r"event_date (?P<date>\d{4}-\d\d-\d\d), time_precision (?P<tp>[123])\.(?:\n(?P<rest>.*))?$", re.S)
_MONTHS = {m: i for i, m in enumerate(("january", "february", "march", "april", "may", "june", "july", "august",
                                       "september", "october", "november", "december"), 1)}
_MONTHS.update({m[:3]: i for m, i in list(_MONTHS.items())})


@dataclass(frozen=True, slots=True)
class Row:
    line: int  # where the row starts in the file
    cells: dict[str, str]
    event_date: date
    time_precision: int
    event_type: str
    sub_event_type: str
    lat: float
    lon: float
    geo_precision: int
    fatalities: int
    reported_on: date | None

    @property
    def key(self) -> str:
        return PREFIX + self.cells["event_id_cnty"]


@dataclass
class Plan:
    """The batch to append, in order, and what it does, for the report."""

    items: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (where, event)
    actors: list[dict[str, Any]] = field(default_factory=list)  # registered by this import
    places: list[dict[str, Any]] = field(default_factory=list)
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    gone: int = 0  # facts retracted: their row left the export (sync) or stopped mapping to a fact
    skipped: Counter[str] = field(default_factory=Counter)  # "event type / sub-event type" -> rows

    def summary(self) -> dict[str, Any]:
        return {"events": len(self.items), "new": self.new, "changed": self.changed, "unchanged": self.unchanged,
                "retracted": self.gone, "skipped": dict(sorted(self.skipped.items())),
                "actors_created": [{"actor": a["actor"], "name": a["name"], "kind": a["kind"]} for a in self.actors],
                "places_created": [{"place": p["place"], "name": p["name"]} for p in self.places]}


@dataclass(frozen=True, slots=True)
class Stored:
    """An ACLED fact in the log, current (not retracted)."""

    id: str
    event: dict[str, Any]
    known: date  # its reported_on, else the day it was recorded


def read(text: str, name: str) -> list[Row]:
    """Every row of an ACLED CSV export, checked; ValidationFailed lists each problem with its line."""
    if text.startswith("\ufeff"):
        text = text[1:]  # a byte-order mark, as spreadsheets write
    lines = text.splitlines(keepends=True)
    issues: list[Issue] = []
    rows: list[Row] = []
    try:
        reader = csv.reader(lines, strict=True)
        header = next(reader, None)
        if header is None:
            raise ValidationFailed([Issue(f"{name}:1", None, "the file is empty: expected ACLED's CSV header "
                                          "(event_id_cnty, event_date, ...)")])
        columns = [h.strip().lower() for h in header]
        missing = [c for c in REQUIRED if c not in columns]
        if missing:
            raise ValidationFailed([Issue(f"{name}:1", None, f"not an ACLED export: no column {', '.join(missing)}",
                                          "export the events from ACLED's data export tool as CSV, with its "
                                          "header row")])
        doubled = sorted({c for c in columns if columns.count(c) > 1})
        if doubled:
            raise ValidationFailed([Issue(f"{name}:1", None, f"column {', '.join(doubled)} given twice")])
        seen: dict[str, int] = {}
        start = reader.line_num + 1
        for cells in reader:
            where = f"{name}:{start}"
            if len(rows) + len(issues) >= MAX_ROWS:
                raise ValidationFailed([Issue(where, None, f"more than {MAX_ROWS:,} rows: split the export")])
            if not any(c.strip() for c in cells):
                start = reader.line_num + 1
                continue
            if len(cells) != len(columns):
                issues.append(Issue(where, None, f"{len(cells)} cells where the header has {len(columns)}",
                                    "a cell with a comma or a line break needs double quotes"))
            else:
                row = _row(start, dict(zip(columns, (c.strip() for c in cells), strict=True)), where, issues)
                if row is not None:
                    first = seen.setdefault(row.cells["event_id_cnty"], start)
                    if first != start:
                        issues.append(Issue(where, "event_id_cnty", f"'{row.cells['event_id_cnty']}' is the id of "
                                            f"the row at line {first} too", "an export has each event once"))
                    else:
                        rows.append(row)
            start = reader.line_num + 1
    except csv.Error as e:
        issues.append(Issue(f"{name}:{reader.line_num}", None, f"malformed CSV: {e}"))
    if issues:
        raise ValidationFailed(issues)
    return rows


def _row(line: int, cells: dict[str, str], where: str, issues: list[Issue]) -> Row | None:
    found = len(issues)

    def bad(column: str, reason: str, suggestion: str | None = None) -> None:
        issues.append(Issue(where, column, reason, suggestion))

    for column in ("event_id_cnty", "event_type", "sub_event_type", "actor1", "location", "country"):
        if not cells.get(column):
            bad(column, "is empty")
        elif len(cells[column]) > 200 or "\x00" in cells[column]:
            bad(column, "is longer than 200 characters or holds a NUL")
    when = _date(cells.get("event_date", ""))
    if when is None:
        bad("event_date", f"'{cells.get('event_date', '')[:40]}' is not a date",
            "YYYY-MM-DD, as ACLED's API writes it, or '10 June 2014'")
    tp = _int(cells.get("time_precision", ""), 1, 3)
    if tp is None:
        bad("time_precision", f"'{cells.get('time_precision', '')[:20]}' is not 1, 2 or 3")
    gp = _int(cells.get("geo_precision", ""), 1, 3)
    if gp is None:
        bad("geo_precision", f"'{cells.get('geo_precision', '')[:20]}' is not 1, 2 or 3")
    lat, lon = _float(cells.get("latitude", ""), 90), _float(cells.get("longitude", ""), 180)
    if lat is None:
        bad("latitude", f"'{cells.get('latitude', '')[:20]}' is not a latitude (-90 to 90)")
    if lon is None:
        bad("longitude", f"'{cells.get('longitude', '')[:20]}' is not a longitude (-180 to 180)")
    deaths = _int(cells.get("fatalities", ""), 0, 10**9)
    if deaths is None:
        bad("fatalities", f"'{cells.get('fatalities', '')[:20]}' is not a whole number of 0 or more")
    kind = _TYPES.get(cells.get("event_type", "").casefold())
    sub = _SUBTYPES.get(cells.get("sub_event_type", "").casefold())
    if cells.get("event_type") and kind is None:
        bad("event_type", f"unknown event type '{cells['event_type'][:60]}'", "one of " + "; ".join(EVENT_TYPES))
    elif cells.get("sub_event_type") and (sub is None or sub[0] != kind):
        bad("sub_event_type", f"'{cells['sub_event_type'][:60]}' is not a sub-event type of '{kind}'",
            "one of " + "; ".join(EVENT_TYPES.get(kind or "", ())))
    stamp = cells.get("timestamp", "")
    reported = _timestamp(stamp) if stamp else None
    if stamp and reported is None:
        bad("timestamp", f"'{stamp[:30]}' is not a Unix time or a date")
    if len(issues) > found:
        return None
    assert when and tp and gp and lat is not None and lon is not None and deaths is not None and kind and sub
    return Row(line, cells, when, tp, kind, sub[1], lat, lon, gp, deaths, reported)


def _date(text: str) -> date | None:
    text = text.strip()
    if not re.fullmatch(r"\d{4}-\d\d-\d\d", text):
        return _dmy(text)
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _dmy(text: str) -> date | None:
    """'10 June 2014', '10-June-2014', '10-Jun-14' (older exports), '10/06/2014'."""
    parts = re.split(r"[\s/\-]+", text)
    if len(parts) != 3 or not parts[0].isdigit() or not parts[2].isdigit():
        return None
    month = int(parts[1]) if parts[1].isdigit() else _MONTHS.get(parts[1].casefold())
    year = int(parts[2]) + (2000 if len(parts[2]) == 2 else 0)
    if month is None or len(parts[2]) not in (2, 4):
        return None
    try:
        return date(year, month, int(parts[0]))
    except ValueError:
        return None


def _int(text: str, low: int, high: int) -> int | None:
    text = text.strip()
    if not re.fullmatch(r"[0-9]{1,10}", text):
        return None
    value = int(text)
    return value if low <= value <= high else None


def _float(text: str, limit: float) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if -limit <= value <= limit else None


def _timestamp(text: str) -> date | None:
    if re.fullmatch(r"[0-9]{9,11}", text):
        return datetime.fromtimestamp(int(text), UTC).date()
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError:
        return None


def window(row: Row) -> dict[str, str]:
    """time_precision 1: the day; 2: the week around the date ACLED gives (it codes the middle of
    a reported week or weekend): three days either side; 3: the date's calendar month (ACLED codes
    the middle of a month known only as a month)."""
    day = row.event_date
    if row.time_precision == 1:
        return {"occurred_on": day.isoformat()}
    if row.time_precision == 2:
        start, end = day - timedelta(days=3), day + timedelta(days=3)
    else:
        start = day.replace(day=1)
        end = (day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    return {"occurred_from": start.isoformat(), "occurred_to": end.isoformat()}


def slug(text: str) -> str:
    made = re.sub(r"[^a-z0-9]+", "_", text.casefold()).strip("_")[:56].strip("_")
    return made or "unnamed"


class _Names:
    """The catalog and what this import registers, for resolving the rows' actors and places."""

    def __init__(self, catalog: Catalog, plan: Plan) -> None:
        self.catalog, self.plan = catalog, plan
        self.actors: dict[str, str] = {}  # casefolded ACLED name -> id
        self.places: dict[tuple[str, float, float], str] = {}  # (casefolded location, lat, lon) -> id
        self.taken: set[str] = set()  # ids and casefolded names this import registered
        self.at: dict[tuple[float, float], list[str]] = {}
        for ident, p in catalog.places.items():
            self.at.setdefault((round(p["lat"], 2), round(p["lon"], 2)), []).append(ident)

    def _free(self, kind: Kind, text: str) -> bool:
        return self.catalog.find(kind, text) is None and text.casefold() not in self.taken

    def _unique(self, kind: Kind, base: str) -> str:
        ident, n = base, 1
        while not self._free(kind, ident):
            n += 1
            ident = f"{base}_{n}"
        return ident

    def actor(self, name: str, inter: str, where: str) -> str:
        known = self.actors.get(name.casefold())
        if known is not None:
            return known
        ident = self.catalog.find("actor", name)
        if ident is None:
            ident = self._unique("actor", slug(name))
            kind = INTER.get(inter.strip(), inter.strip().casefold() or "unknown")
            registration = {"type": "ActorRegistered", "actor": ident, "name": name, "kind": kind[:200],
                            "sources": [{"publisher": PUBLISHER}],
                            "notes": "registered by an ACLED import: merge it with an actor the tracker knows by "
                                     "giving that actor this name as an alias (tracker actors alias ID NAME)"}
            self.plan.items.append((where, registration))
            self.plan.actors.append(registration)
            self.taken.update({ident, name.casefold()})
        self.actors[name.casefold()] = ident
        return ident

    def place(self, row: Row, where: str) -> str:
        cells = row.cells
        location = cells["location"]
        key = (location.casefold(), round(row.lat, 4), round(row.lon, 4))
        known = self.places.get(key)
        if known is not None:
            return known
        ident = self._match(location, row.lat, row.lon)
        if ident is None:
            name = location
            for candidate in (location, f"{location} ({cells.get('admin1') or cells['country']})",
                              f"{location} ({row.lat:.4f}, {row.lon:.4f})"):
                if self._free("place", candidate):
                    name = candidate
                    break
            ident = self._unique("place", slug(name))
            registration: dict[str, Any] = {"type": "PlaceRegistered", "place": ident, "name": name,
                                            "kind": "location", "country": cells["country"], "lat": row.lat,
                                            "lon": row.lon, "geo_precision": row.geo_precision,
                                            "sources": [{"publisher": PUBLISHER}]}
            if cells.get("admin1"):
                registration["admin1"] = cells["admin1"]
            self.plan.items.append((where, registration))
            self.plan.places.append(registration)
            self.taken.update({ident, name.casefold()})
        self.places[key] = ident
        return ident

    def _match(self, location: str, lat: float, lon: float) -> str | None:
        """A place the catalog has by this name (or alias) within about 5 km, or at these very coordinates
        under a name that contains it."""
        ident = self.catalog.find("place", location)
        if ident is not None:
            p = self.catalog.places[ident]
            if abs(p["lat"] - lat) <= 0.05 and abs(p["lon"] - lon) <= 0.05:
                return ident
        for ident in self.at.get((round(lat, 2), round(lon, 2)), ()):
            p = self.catalog.places[ident]
            if abs(p["lat"] - lat) < 1e-4 and abs(p["lon"] - lon) < 1e-4 and \
                    location.casefold() in p["name"].casefold():
                return ident
        return None


def fact(row: Row, actor1: str, actor2: str | None, place: str) -> dict[str, Any] | None:
    """The tracker fact a row maps to (references by id), or None for a skipped type."""
    sub, cells = row.sub_event_type, row.cells
    if sub in SKIPPED:
        return None
    deaths = {"deaths": {"best": row.fatalities}} if row.fatalities > 0 else {}
    if sub in CAPTURES:
        body: dict[str, Any] = {"type": "CityCaptured", "place": place, "captured_by": actor1,
                                **({"captured_from": actor2} if actor2 else {}), **deaths}
    elif sub == "Headquarters or base established":
        body = {"type": "ForcesDeployed", "actor": actor1, "place": place,
                "purpose": "headquarters or base established"}
    elif sub == "Disrupted weapons use":
        body = {"type": "AssetSeized", "actor": actor1, "asset": "weapons (disrupted weapons use)", "place": place,
                **({"seized_from": actor2} if actor2 else {})}
    else:
        if sub == "Armed clash":
            method = "armed clash" + (f" with {cells['actor2']}" if cells.get("actor2") else "")
        elif row.event_type == "Violence against civilians":
            method = f"violence against civilians: {sub.casefold()}"
        else:
            method = sub.casefold()
        body = {"type": "AttackCarriedOut", "place": place, "actor": actor1, "method": method, **deaths}
    note = f"ACLED: {row.event_type} / {sub}; event_date {row.event_date.isoformat()}, time_precision " \
           f"{row.time_precision}."
    if cells.get("notes"):
        note += "\n" + cells["notes"][:9000]
    publishers = [PUBLISHER, *dict.fromkeys(s.strip() for s in cells.get("source", "").split(";") if s.strip())]
    sources: list[dict[str, Any]] = [{"publisher": p[:10_000]} for p in dict.fromkeys(publishers)]
    sources[0]["title"] = f"ACLED event {cells['event_id_cnty']}"
    body.update(window(row))
    if row.reported_on is not None:
        body["reported_on"] = row.reported_on.isoformat()
    body.update({"sources": sources, "notes": note, "external_id": row.key})
    digest = hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()
    body["id"] = str(uuid.uuid5(_NAMESPACE, f"{row.key}\n{digest}"))
    return body


def plan(rows: list[Row], catalog: Catalog, stored: Mapping[str, Stored], name: str,
         sync: tuple[date, date] | None = None, today: date | None = None,
         retracted: set[str] | frozenset[str] = frozenset()) -> Plan:
    """The batch that brings the log in line with the export's rows (see the module's doc).
    `retracted`: the ids the log has retracted; a row that changes back to a retracted
    version gets a fresh id, so the fact counts again."""
    out = Plan()
    names = _Names(catalog, out)
    newest = max((r.reported_on for r in rows if r.reported_on), default=today)
    keys = set()
    for row in rows:
        where = f"{name}:{row.line}"
        keys.add(row.key)
        cells = row.cells
        event = None
        if row.sub_event_type not in SKIPPED:
            actor1 = names.actor(cells["actor1"], cells.get("inter1", ""), where)
            actor2 = names.actor(cells["actor2"], cells.get("inter2", ""), where) if cells.get("actor2") else None
            event = fact(row, actor1, actor2 if actor2 != actor1 else None, names.place(row, where))
            generation = 1
            while event is not None and event["id"] in retracted:
                generation += 1
                event["id"] = str(uuid.uuid5(_NAMESPACE, f"{event['id']}\n{generation}"))
        old = stored.get(row.key)
        if event is None:
            out.skipped[f"{row.event_type} / {row.sub_event_type}"] += 1
            if old is not None:
                out.items.append((where, _retraction(old, row.reported_on or newest, f"ACLED re-coded event "
                                                     f"{cells['event_id_cnty']} as {row.sub_event_type}, which "
                                                     "this tracker does not keep as a fact")))
                out.gone += 1
            continue
        if old is None:
            out.new += 1
        elif old.id == event["id"]:
            out.unchanged += 1
            continue
        else:
            out.changed += 1
            out.items.append((where, _retraction(old, row.reported_on or newest,
                                                 f"ACLED changed event {cells['event_id_cnty']}: superseded by "
                                                 f"event {event['id']}")))
        out.items.append((where, event))
    if sync is not None:
        for key, old in sorted(stored.items()):
            if key in keys:
                continue
            day = event_date(old.event)
            if day is not None and sync[0] <= day <= sync[1]:
                out.items.append((f"{name} (--sync)", _retraction(old, newest, f"ACLED event {key[len(PREFIX):]} "
                                  f"of {day} is no longer in the export of {sync[0]} to {sync[1]}")))
                out.gone += 1
    return out


def _retraction(old: Stored, known: date | None, reason: str) -> dict[str, Any]:
    on = max(known, old.known) if known else old.known
    body = {"type": "EventRetracted", "retracts": old.id, "reason": reason, "reported_on": on.isoformat(),
            "sources": [{"publisher": PUBLISHER}]}
    body["id"] = str(uuid.uuid5(_NAMESPACE, f"retract\n{old.id}"))
    return body


def event_date(event: dict[str, Any]) -> date | None:
    """ACLED's event_date of an imported fact (from its notes), else its window's start."""
    found = _NOTE.match(event.get("notes") or "")
    if found:
        return date.fromisoformat(found["date"])
    start = event.get("occurred_on") or event.get("occurred_from")
    return date.fromisoformat(start) if start else None


def current(records: Iterable[Any]) -> dict[str, Stored]:
    """The log's ACLED facts, current (not retracted), by external id: from records in position
    order (each with `.event`, `.recorded_at`, `.known_from`)."""
    found: dict[str, Stored] = {}
    retracted: set[str] = set()
    for r in sorted(records, key=lambda r: r.position):
        e = r.event
        if e["type"] == "EventRetracted":
            retracted.add(e["retracts"])
        elif str(e.get("external_id", "")).startswith(PREFIX):
            found[e["external_id"]] = Stored(e["id"], e, r.known_from.date())
    return {k: s for k, s in found.items() if s.id not in retracted}


# ---------------------------------------------------------------- export


def export_rows(records: Iterable[Any], catalog: Catalog) -> Iterable[list[str]]:
    """The header, then a row per current fact that maps back to ACLED's columns (a fact without a
    place is left out: ACLED's events all have a location)."""
    records = list(records)
    retracted = {r.event["retracts"] for r in records if r.event["type"] == "EventRetracted"}
    yield list(COLUMNS)
    for r in records:
        e = r.event
        if "occurred_from" not in e or e.get("id") in retracted:
            continue
        place = catalog.places.get(e.get("place") or "")
        if place is None:
            continue
        yield _export_row(e, place, catalog)


def _export_row(e: dict[str, Any], place: dict[str, Any], catalog: Catalog) -> list[str]:
    note = _NOTE.match(e.get("notes") or "")
    if note:
        kind, sub, day, tp, rest = note["type"], note["sub"], note["date"], note["tp"], note["rest"] or ""
    else:
        kind, sub = _acled_type(e, catalog)
        start, end = date.fromisoformat(e["occurred_from"]), date.fromisoformat(e["occurred_to"])
        length = (end - start).days
        tp = "1" if length == 0 else "2" if length <= 7 else "3"
        day = (start + timedelta(days=length // 2)).isoformat()
        rest = e.get("notes") or ""
    actor1, actor2 = _actors(e)
    second = catalog.label("actor", actor2) if actor2 else ""
    if e["type"] == "AttackCarriedOut" and e["method"].startswith("armed clash with "):
        second = e["method"].removeprefix("armed clash with ")  # ACLED's actor2, kept in the method
    deaths = (e.get("deaths") or {}).get("best") or e.get("killed") or 0
    external = e.get("external_id") or ""
    reported = e.get("reported_on")
    values = {
        "event_id_cnty": external[len(PREFIX):] if external.startswith(PREFIX) else e["id"],
        "event_date": day, "year": day[:4], "time_precision": tp, "event_type": kind, "sub_event_type": sub,
        "actor1": catalog.label("actor", actor1) if actor1 else "", "inter1": _inter(catalog, actor1),
        "actor2": second, "inter2": _inter(catalog, actor2),
        "country": place.get("country", ""), "admin1": place.get("admin1", ""), "location": place["name"],
        "latitude": f"{place['lat']:.4f}", "longitude": f"{place['lon']:.4f}",
        "geo_precision": str(place.get("geo_precision") or (2 if place.get("approximate") else 1)),
        "source": "; ".join(s["publisher"] for s in e.get("sources", ()) if s["publisher"] != PUBLISHER),
        "notes": rest, "fatalities": str(deaths),
        "timestamp": str(int(datetime.combine(date.fromisoformat(reported), datetime.min.time(), UTC).timestamp()))
        if reported else "",
    }
    return [values.get(c, "") for c in COLUMNS]


def _actors(e: dict[str, Any]) -> tuple[str | None, str | None]:
    t = e["type"]
    if t == "CityCaptured":
        return e["captured_by"], e.get("captured_from")
    if t in ("AssaultLaunched", "AssaultRepelled"):
        return e["attacker"], e.get("defender")
    if t == "AssetSeized":
        return e["actor"], e.get("seized_from")
    if t == "CiviliansDisplaced":
        return e.get("by"), None
    return e.get("actor"), None


def _inter(catalog: Catalog, actor: str | None) -> str:
    if actor is None:
        return ""
    kind = catalog.actors.get(actor, {}).get("kind", "")
    codes = {v: k for k, v in INTER.items()}
    return codes.get(kind, "")


def _acled_type(e: dict[str, Any], catalog: Catalog) -> tuple[str, str]:
    """ACLED's event and sub-event type of a fact the tracker recorded itself."""
    t = e["type"]
    if t == "CityCaptured":
        state = catalog.actors.get(e["captured_by"], {}).get("kind") in ("state forces", "state")
        return "Battles", "Government regains territory" if state else "Non-state actor overtakes territory"
    if t in ("AssaultLaunched", "AssaultRepelled"):
        return "Battles", "Armed clash"
    if t == "AttackCarriedOut":
        method = e["method"].casefold()
        for sub in EVENT_TYPES["Explosions/Remote violence"]:
            if sub.casefold() in method:
                return "Explosions/Remote violence", sub
        return "Battles", "Armed clash"
    if t == "ForcesDeployed":
        return "Strategic developments", "Headquarters or base established"
    if t == "AssetSeized":
        return "Strategic developments", "Looting/property destruction"
    return "Strategic developments", "Other"
