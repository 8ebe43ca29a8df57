"""Every projection folded at once: one pass over facts in history order, one dict lookup each.

Folding projection by projection walks the facts once per projection; this walks them once
and sends each to the handlers of its type. The timeline's checkpoints and the streaming
replay both use it, so both fold exactly as `Projection.fold` does.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from .projections import Projection, State
from .records import Record


class Fold:
    def __init__(self, projections: Iterable[Projection], states: Mapping[str, State] | None = None,
                 skip: Collection[str] = ()) -> None:
        """`states`: where to start (copied, never changed); `skip`: ids of retracted facts."""
        self.states: dict[str, State] = {}
        self.skip = skip
        # type -> the (handler, state) pairs it feeds
        self._dispatch: dict[str, list[tuple[Any, State]]] = {}
        for projection in projections:
            state = self.states[projection.name] = dict(states[projection.name]) if states else {}
            for kind, handler in projection.handlers.items():
                self._dispatch.setdefault(kind, []).append((handler, state))

    def feed(self, records: Iterable[Record]) -> None:
        """Fold `records`, which come after everything fed before them in history order."""
        dispatch, skip = self._dispatch, self.skip
        for record in records:
            event = record.event
            feeds = dispatch.get(event["type"])
            if feeds is None or (skip and event.get("id") in skip):
                continue
            for handler, state in feeds:
                handler(state, record)

    def snapshot(self) -> dict[str, State]:
        """Shallow copies: states' values are never mutated in place (projections/base.py)."""
        return {name: dict(state) for name, state in self.states.items()}
