"""The catalog as an analyst reads it: actors and places listed, searched, and given aliases.

Pure: `listing` and `search` turn the catalog into rows; `with_alias` builds the registration
that adds an alias. An alias is recorded as a new registration of the same id (the catalog's
latest registration of an id holds), so it is an event in the log and replays like any other.
"""

from __future__ import annotations

from typing import Any

from .catalog import Catalog, Kind, UnknownReference
from .errors import InputError
from .events import REFERENCE_FIELDS

_TYPE: dict[Kind, str] = {"actor": "ActorRegistered", "place": "PlaceRegistered"}


def listing(catalog: Catalog, kind: Kind, search: str | None = None) -> list[dict[str, Any]]:
    """Every registered actor or place (its id, then what its registration says of it), sorted
    by name; with `search`, only those whose id, name or an alias contains it (any case)."""
    fields = REFERENCE_FIELDS[_TYPE[kind]]
    rows = []
    for ident, entry in catalog.entries[kind].items():
        row = {kind: ident, **{f: entry[f] for f in fields if f in entry and f != kind}}
        row.setdefault("aliases", [])
        if kind == "place":
            row["geo_precision"] = entry.get("geo_precision") or (2 if entry.get("approximate") else 1)
            row.pop("approximate", None)
        rows.append(row)
    if search:
        needle = search.casefold()
        rows = [r for r in rows if any(needle in text.casefold() for text in (r[kind], r["name"], *r["aliases"]))]
    return sorted(rows, key=lambda r: (r["name"].casefold(), r[kind]))


def with_alias(catalog: Catalog, kind: Kind, ref: str, alias: str, source: dict[str, Any]) -> dict[str, Any] | None:
    """The registration that gives `ref` (an id, name or alias) the alias `alias`: its current
    registration with the alias added. None when `ref` already has it."""
    try:
        ident = catalog.resolve(kind, ref)
    except UnknownReference as e:
        hint = f"; did you mean {' or '.join(repr(s) for s in e.suggestions)}?" if e.suggestions else \
            f"; tracker {kind}s --search TEXT lists the {kind}s"
        raise InputError(f"unknown {kind} '{ref}'{hint}") from None
    alias = alias.strip()
    if not alias:
        raise InputError("an alias needs at least one character that is not a space")
    current = catalog.entries[kind][ident]
    try:
        owner: str | None = catalog.resolve(kind, alias)
    except UnknownReference:
        owner = None
    if owner == ident:
        return None
    if owner is not None:
        raise InputError(f"'{alias}' already names {kind} '{owner}' ({catalog.label(kind, owner)}): "
                         f"a name or alias may name one {kind} only")
    fields = REFERENCE_FIELDS[_TYPE[kind]]
    registration: dict[str, Any] = {"type": _TYPE[kind], **{f: current[f] for f in fields if f in current}}
    registration["aliases"] = [*current.get("aliases", []), alias]
    registration["sources"] = [source]
    return registration
