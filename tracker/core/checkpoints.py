"""The timeline's checkpoints: every projection's state at cut dates, kept two ways.

A state at a cut X is the fold of every fact that starts on or before X (history order is
the fold order, so each extends the one before). A whole copy of every state costs what the
state holds (~0.8 MB at 20,000 entries), so whole copies (`Checkpoint`) are kept only every
so many facts, and each day between two of them keeps only the entries its facts changed
(`Day`): a few hundred references. The state at any complete day is then its whole
checkpoint with the days after it laid over (`states_at`): an answer folds at most the
facts of the day asked about, and memory follows the changes, not days times the state.

Pure: the timeline (timeline.py) builds them and drops the ones a late fact makes stale.
"""

from __future__ import annotations

import bisect
from typing import Any, NamedTuple

from .projections import State


class _Missing:
    """An entry a fold removed, or never had: one object, compared by identity, so a
    pickled timeline (tracker/images.py) names it instead of making another."""

    def __reduce__(self) -> str:
        return "MISSING"

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


class Checkpoint(NamedTuple):
    """`states`: the fold of every fact starting on or before the cut. `settled`: for the
    busy entries (see Timeline.hot) that have facts open at the cut, their state without
    those facts, and the earliest end of those facts: until then they are still pending, so
    an answer takes that state and folds only the entry's facts after the cut, instead of
    folding again from before its earliest pending fact (weeks of a busy place's facts)."""

    cut: str  # X: every fact starting on or before it comes before `folded`
    folded: int  # the index (in history order) of the first fact starting after X
    states: dict[str, State]  # each projection's fold of every fact starting by X
    settled: dict[str, dict[Any, tuple[Any, str]]] | None = None  # name -> key -> (entry or MISSING, first end)


class Day(NamedTuple):
    """A day's facts folded on the checkpoint or day before it: the entries they changed,
    and `settled` as a whole checkpoint has it (each day's is made from the day before's,
    so it costs a few facts a day, and an answer refolds a pending entry from its day)."""

    cut: str
    folded: int
    changed: dict[str, dict[Any, Any]]  # name -> key -> its entry at the end of the day
    gone: dict[str, list[Any]]  # name -> keys the day's facts removed
    settled: dict[str, dict[Any, tuple[Any, str]]] | None = None


def _cut(c: Checkpoint | Day) -> str:
    return c.cut


class Checkpoints:
    def __init__(self, names: list[str]) -> None:
        self.whole: list[Checkpoint] = [Checkpoint("", 0, {n: {} for n in names})]
        self.days: list[Day] = []  # each after the whole checkpoint before it, in cut order
        self._day_cuts: list[str] = []  # their cuts: bisected without a key function (hot path)
        self.dropped = 0

    def __len__(self) -> int:
        return len(self.whole) + len(self.days)

    def last(self) -> Checkpoint | Day:
        """The latest cut kept, whole or day."""
        if self.days and self.days[-1].cut > self.whole[-1].cut:
            return self.days[-1]
        return self.whole[-1]

    def whole_at(self, day: str) -> Checkpoint:
        """The latest whole checkpoint cut on or before `day`."""
        return self.whole[bisect.bisect_right(self.whole, day, key=_cut) - 1]

    def whole_before(self, day: str) -> Checkpoint:
        """The latest whole checkpoint cut before `day`."""
        return self.whole[bisect.bisect_left(self.whole, day, key=_cut) - 1]

    def _days(self, after: str, upto: str, inclusive: bool = True) -> list[Day]:
        lo = bisect.bisect_right(self._day_cuts, after)
        hi = (bisect.bisect_right if inclusive else bisect.bisect_left)(self._day_cuts, upto)
        return self.days[lo:hi]

    def states_at(self, names: list[str], day: str) -> tuple[Checkpoint | Day, dict[str, State]]:
        """The latest cut on or before `day` (whole or day), and the states there: new dicts,
        the caller's."""
        whole = self.whole_at(day)
        days = self._days(whole.cut, day)
        states = {}
        for name in names:
            state = dict(whole.states[name])
            for d in days:
                changed = d.changed.get(name)
                if changed:
                    state.update(changed)
                for key in d.gone.get(name, ()):
                    state.pop(key, None)
            states[name] = state
        return (days[-1] if days else whole), states

    def entry_before(self, name: str, key: Any, day: str) -> tuple[str, Any]:
        """(cut, `key`'s entry or MISSING) at the latest cut before `day`."""
        whole = self.whole_before(day)
        days = self._days(whole.cut, day, inclusive=False)
        for d in reversed(days):
            changed = d.changed.get(name)
            if changed and key in changed:
                return days[-1].cut, changed[key]
            if key in d.gone.get(name, ()):
                return days[-1].cut, MISSING
        return (days[-1].cut if days else whole.cut), whole.states[name].get(key, MISSING)

    def add_whole(self, checkpoint: Checkpoint) -> None:
        self.whole.append(checkpoint)

    def add_day(self, day: Day) -> None:
        self.days.append(day)
        self._day_cuts.append(day.cut)

    def invalidate(self, start: str) -> None:
        """Cuts on or after `start` folded a history that has changed: dropped."""
        while self.whole[-1].cut >= start and len(self.whole) > 1:
            self.whole.pop()
            self.dropped += 1
        while self.days and self.days[-1].cut >= start:
            self.days.pop()
            self._day_cuts.pop()
            self.dropped += 1
