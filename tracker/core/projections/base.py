"""What every projection is: a pure fold of records into a state, and a rendering of it.

A state is a dict whose values are never mutated in place: `apply` replaces the entry it
changes. So a checkpoint is a shallow `dict(state)` copy, cheap whatever the history.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from ..catalog import Catalog
from ..records import Record

State = dict[Any, Any]
Handler = Callable[[State, Record], None]


Pending = dict[tuple, list[dict[str, Any]]]  # a rendered entry's key -> the pending facts that touch it


class Projection:
    """Folds are per key: a handler reads and writes only the state entry `state_key(event)`
    names, so one key's entry can be folded again alone (the timeline does, when a fact
    known only within a window settles after a checkpoint)."""

    name: str = ""
    collection: str = ""  # the key of the rendered list: "places", "actors", "deployments"
    key_fields: tuple[str, ...] = ()  # the fields that identify a rendered entry
    handlers: ClassVar[dict[str, Handler]] = {}

    def state_key(self, event: dict[str, Any]) -> Any:
        """The state entry that the event's handler reads and writes."""
        raise NotImplementedError

    def entry_key(self, event: dict[str, Any]) -> tuple:
        """The rendered entry the event belongs to (its key fields' values)."""
        return tuple(event[f] for f in self.key_fields)

    @property
    def types(self) -> frozenset[str]:
        return frozenset(self.handlers)

    def apply(self, state: State, record: Record) -> None:
        handler = self.handlers.get(record.event["type"])
        if handler is not None:
            handler(state, record)

    def fold(self, state: State, records: Iterable[Record]) -> State:
        handlers = self.handlers
        for record in records:
            handler = handlers.get(record.event["type"])
            if handler is not None:
                handler(state, record)
        return state

    def render(self, state: State, catalog: Catalog, pending: Pending | None = None) -> list[dict[str, Any]]:
        """Every entry, each with `pending`: the facts touching it whose window holds the
        date asked about (not folded: they may or may not have happened yet). An entry
        with pending facts only is rendered too."""
        raise NotImplementedError

    def key(self, entry: dict[str, Any]) -> tuple:
        """The identity of a rendered entry, so live updates can say what changed."""
        return tuple(entry[f] for f in self.key_fields)


class Rendered:
    """Rendered entries, each kept while its state entry is the same object and the catalog
    the same version: answers at most dates share most entries with a checkpoint, and
    rendering thousands of them costs more than folding them. Kept entries are shared:
    readers never change them (a filter makes new lists, `pending_text` goes only on
    entries with pending facts, which are never kept)."""

    __slots__ = ("_entries", "_for")

    def __init__(self) -> None:
        self._for: tuple[Catalog, int] | None = None
        self._entries: dict[Any, tuple[Any, Any]] = {}

    def of(self, catalog: Catalog) -> dict[Any, tuple[Any, Any]]:
        """key -> (state entry, its rendering), for names as `catalog` gives them now."""
        if self._for is None or self._for[0] is not catalog or self._for[1] != catalog.version:
            self._for, self._entries = (catalog, catalog.version), {}
        return self._entries


class Order:
    """Every state key seen so far, sorted once: an answer lists its keys by filtering this,
    not by sorting thousands of keys again."""

    __slots__ = ("_key", "_known", "_sorted")

    def __init__(self, key: Callable[[Any], Any] | None = None) -> None:
        self._known: set[Any] = set()
        self._sorted: list[Any] = []
        self._key = key

    def of(self, state: State, pending: Pending) -> list[Any]:
        """The keys of `state` and `pending`, in order."""
        if not (state.keys() <= self._known and pending.keys() <= self._known):
            self._known |= state.keys() | pending.keys()
            self._sorted = sorted(self._known, key=self._key)
        return [k for k in self._sorted if k in state or k in pending]


def cite(event: dict[str, Any]) -> list[dict[str, Any]]:
    """The sources of an event, without quotes: enough to link and attribute."""
    return [{k: v for k, v in s.items() if k != "quote"} for s in event.get("sources", ())]


class Amount:
    """A count folded from reports some of which give no number: unknown is never zero."""

    __slots__ = ("added", "removed", "unknown_added", "unknown_removed")

    def __init__(self, added: int = 0, removed: int = 0, unknown_added: int = 0, unknown_removed: int = 0):
        self.added, self.removed = added, removed
        self.unknown_added, self.unknown_removed = unknown_added, unknown_removed

    def plus(self, value: int | None) -> Amount:
        if value is None:
            return Amount(self.added, self.removed, self.unknown_added + 1, self.unknown_removed)
        return Amount(self.added + value, self.removed, self.unknown_added, self.unknown_removed)

    def minus(self, value: int | None) -> Amount:
        if value is None:
            return Amount(self.added, self.removed, self.unknown_added, self.unknown_removed + 1)
        return Amount(self.added, self.removed + value, self.unknown_added, self.unknown_removed)

    @property
    def exact(self) -> bool:
        return not (self.unknown_added or self.unknown_removed)

    @property
    def value(self) -> int | None:
        return max(0, self.added - self.removed) if self.exact else None

    @property
    def known_minimum(self) -> int | None:
        """A lower bound: only when no unknown amount was taken away and something is known."""
        if self.unknown_removed or (self.added == 0 and self.unknown_added):
            return None
        return max(0, self.added - self.removed)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Amount) and (self.added, self.removed, self.unknown_added,
                                              self.unknown_removed) == (other.added, other.removed,
                                                                        other.unknown_added, other.unknown_removed)

    def __repr__(self) -> str:
        return f"Amount({self.added}, {self.removed}, {self.unknown_added}, {self.unknown_removed})"
