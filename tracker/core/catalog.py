"""Reference data: the registered actors and places, and how a name finds its id.

Built by folding ActorRegistered / PlaceRegistered events. Reference data is timeless:
the latest registration of an id holds for every date, so names and coordinates can be
corrected by registering again.
"""

from __future__ import annotations

import difflib
from typing import Any, Literal

Kind = Literal["actor", "place"]
_KINDS: dict[str, Kind] = {"ActorRegistered": "actor", "PlaceRegistered": "place"}


class UnknownReference(LookupError):
    def __init__(self, kind: Kind, text: str, suggestions: list[str]) -> None:
        self.kind, self.text, self.suggestions = kind, text, suggestions
        super().__init__(f"unknown {kind} '{text}'")


class Catalog:
    def __init__(self) -> None:
        self.entries: dict[Kind, dict[str, dict[str, Any]]] = {"actor": {}, "place": {}}
        self._names: dict[Kind, dict[str, str]] = {"actor": {}, "place": {}}  # casefolded -> id
        self._labels: dict[Kind, dict[str, list[str]]] = {"actor": {}, "place": {}}  # id -> the labels it owns
        self.version = 0  # grows with every registration: what a rendering cached from it depends on

    @property
    def actors(self) -> dict[str, dict[str, Any]]:
        return self.entries["actor"]

    @property
    def places(self) -> dict[str, dict[str, Any]]:
        return self.entries["place"]

    def copy(self) -> Catalog:
        other = Catalog()
        for kind in ("actor", "place"):
            other.entries[kind] = dict(self.entries[kind])
            other._names[kind] = dict(self._names[kind])
            other._labels[kind] = dict(self._labels[kind])  # lists are replaced, never mutated
        other.version = self.version
        return other

    def name_of(self, kind: Kind, ident: str | None) -> str | None:
        if ident is None:
            return None
        entry = self.entries[kind].get(ident)
        return entry["name"] if entry else ident

    def label(self, kind: str, ident: str) -> str:
        """The name to show for an id: its registered name, else the id itself."""
        entry = self.entries[kind].get(ident)  # type: ignore[index]
        return entry["name"] if entry else ident

    def resolve(self, kind: Kind, text: str) -> str:
        """The id that `text` names (an id, a name or an alias, any case)."""
        found = self._names[kind].get(text.casefold())
        if found is None:
            raise UnknownReference(kind, text, self.close_matches(kind, text))
        return found

    def find(self, kind: Kind, text: str) -> str | None:
        """The id that `text` names (an id, a name or an alias, any case), or None: `resolve`
        without the suggestions, for callers that look many names up."""
        return self._names[kind].get(text.casefold())

    def close_matches(self, kind: Kind, text: str) -> list[str]:
        names = self._names[kind]
        hits = difflib.get_close_matches(text.casefold(), list(names), n=5, cutoff=0.6)
        return list(dict.fromkeys(names[h] for h in hits))[:3]

    def collisions(self, event: dict[str, Any]) -> list[str]:
        """The names of a registration that already name another actor or place of its kind."""
        kind = _KINDS[event["type"]]
        ident = event[kind]
        clashes = []
        for label in [ident, event["name"], *event.get("aliases", ())]:
            owner = self._names[kind].get(label.casefold())
            if owner is not None and owner != ident:
                clashes.append(f"'{label}' already names {kind} '{owner}'")
        return clashes

    def register(self, event: dict[str, Any]) -> None:
        kind = _KINDS[event["type"]]
        ident = event[kind]
        self.version += 1
        names = self._names[kind]
        for label in self._labels[kind].get(ident, ()):
            if names.get(label) == ident:
                del names[label]  # re-registration replaces the old names
        self.entries[kind][ident] = event
        owned = []
        for label in [ident, event["name"], *event.get("aliases", ())]:
            if names.setdefault(label.casefold(), ident) == ident:
                owned.append(label.casefold())
        self._labels[kind][ident] = owned
