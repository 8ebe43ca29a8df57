"""The storage interface every backend implements, and the records that cross it.

The store knows nothing of event types' meaning: it keeps (id, type, JSON text) in order,
gives each a gapless position and a `recorded_at`, enforces idempotency by id and the
optional `expected_position`, and tells waiters when the head moves. All domain rules
live above it (tracker/service.py), so a new backend is only this interface.

One thing it does read from the JSON: the history key, the top-level `occurred_from` text
if the event has one, else its top-level `occurred_on` (an event dated by a window, or by a
single date), which it indexes so that it can hand the log back in history order as well as
in log order (`read_history`). Events with neither (registrations, retractions) have no key
and are not history. The store compares keys as text, byte for byte: ISO dates sort right,
and what they mean (precision, window ends) is the caller's business.
A replay folds facts in the order they happened, whatever order they were reported in;
with the database doing that sort, a replay streams the log in pages and keeps only the
state, not the log, in memory.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from ..core.errors import InputError
from ..core.tokens import Token


class NewEvent(NamedTuple):
    id: str  # a UUID, canonical lowercase text
    type: str
    data: str  # the canonical JSON text of the event; compared byte for byte for idempotency


class StoredEvent(NamedTuple):
    """NamedTuples, not frozen dataclasses: as immutable, and ~3x cheaper to make (an append
    or a replay makes one per event)."""

    position: int
    id: str
    recorded_at: datetime  # UTC, never decreasing as positions grow
    type: str
    data: str
    recorded_by: str | None = None  # who appended it (a token's name, ...); None: before audit


def check_import(events: Sequence[StoredEvent]) -> None:
    """What every backend's import_events requires of its records; raises InputError."""
    seen: set[str] = set()
    previous: datetime | None = None
    for expected, event in enumerate(events, 1):
        if event.position != expected:
            raise InputError(f"record {expected}: position {event.position} where {expected} was expected; "
                             "an import takes a whole log, positions 1, 2, 3, ... without a gap")
        if event.id in seen:
            raise InputError(f"record {expected}: id {event.id} appears twice")
        if event.recorded_at.tzinfo is None:
            raise InputError(f"record {expected}: recorded_at {event.recorded_at.isoformat()} has no time zone")
        if previous is not None and event.recorded_at < previous:
            raise InputError(f"record {expected}: recorded_at {event.recorded_at.isoformat()} is earlier than the "
                             f"record before it ({previous.isoformat()}); a log's times never decrease")
        seen.add(event.id)
        previous = event.recorded_at


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    cut: str  # the date it is the state at
    head: int  # the log position it is valid up to
    size: int  # bytes


HistoryKey = tuple[str, int]  # (history key, position): where a history read resumes
_NO_LIMIT = (1 << 63) - 1


def history_bounds(after: HistoryKey | None, upto: int | None) -> tuple[str, int, int]:
    """What a backend's history query binds: (history key, position) to start after ('' sorts
    before every date; an event without a key, neither `occurred_from` nor `occurred_on`,
    matches no bound) and the last position."""
    start = after or ("", 0)
    return start[0], start[1], _NO_LIMIT if upto is None else upto


class EventStore(ABC):
    """An append-only log. Usable as `async with`; `close()` is idempotent."""

    url: str

    @abstractmethod
    async def append(self, events: Sequence[NewEvent], expected_position: int | None = None,
                     recorded_by: str | None = None) -> list[int]:
        """Append atomically; return each event's position, in order.

        An id already stored with the same data returns its original position and stores
        nothing; with other data it raises IdConflict and nothing of the batch is stored.
        With `expected_position`, raises PositionConflict unless the head is still there
        (a batch whose every event is already stored is a retry and returns its positions).
        `recorded_by` (who appends: a token's name, `local:<user>`, ...) is stored with each
        new event; a retry compares the event data only, and keeps the first appender's.
        """

    @abstractmethod
    async def read(self, after: int = 0, limit: int | None = None,
                   types: Iterable[str] | None = None) -> list[StoredEvent]:
        """Events with position > after, oldest first; at most `limit`; only `types` if given."""

    @abstractmethod
    async def read_history(self, after: HistoryKey | None = None, limit: int = 10_000,
                           upto: int | None = None) -> tuple[list[StoredEvent], HistoryKey | None]:
        """Events that have a history key, in history order: by (key, position), where the key
        is the JSON's top-level `occurred_from` if present, else its top-level `occurred_on`
        (the start of the event's time, as text); strictly after the key `after`, positions
        <= `upto` only if given; at most `limit`. Returns the page and the (key, position) to
        resume from, None once there is no more. Events with neither field are left out."""

    def texts_reader(self) -> Callable[[Sequence[int]], Mapping[int, str]] | None:
        """A blocking read of stored events' texts by position, quick enough for the event
        loop's own thread (an embedded store reading its own file), or None where every read
        is a round trip (a server then keeps each fact's text in memory). What it returns may
        leave out positions the store does not hold."""
        return None

    @abstractmethod
    async def head(self) -> int:
        """The last position, 0 for an empty log."""

    @abstractmethod
    async def lookup(self, ids: Iterable[str]) -> dict[str, StoredEvent]:
        """The stored events among `ids`, by id (the absent ones are left out)."""

    @abstractmethod
    async def wait(self, after: int, timeout: float) -> int:
        """Return the head as soon as it passes `after`, or after `timeout` seconds at most.

        Appends by this store object wake waiters at once; appends by other processes
        are seen within the backend's poll interval (or its notification channel)."""

    @abstractmethod
    async def import_events(self, events: Sequence[StoredEvent]) -> int:
        """Load stored records into an empty log, keeping position, id, recorded_at and recorded_by.

        For moving a log between backends (`tracker import`). All or nothing, in one
        transaction; LogNotEmpty if the log has events; InputError unless the records are
        positions 1..N with distinct ids and never-decreasing recorded_at (check_import)."""

    # -- principals: tokens kept in the store itself, hashed (tracker/core/tokens.py) ---------

    @abstractmethod
    async def add_token(self, name: str, role: str, digest: str) -> Token:
        """Keep a new principal (its token's digest, never the token); TokenExists if the
        name was ever given, revoked or not: a name means one principal, for good."""

    @abstractmethod
    async def tokens(self) -> list[Token]:
        """Every token ever added, revoked ones included, by name."""

    @abstractmethod
    async def revoke_token(self, name: str) -> Token:
        """Revoke a token for good; InputError if no token has that name. Revoking a revoked
        token changes nothing (its first revoked_at stays)."""

    @abstractmethod
    async def tokens_version(self) -> int:
        """A number that grows with every add and every revocation (tokens are never deleted:
        it is their count plus the count of revoked ones): one cheap query, for a server to
        poll every second and reload `tokens()` when it moves, whichever node changed them."""

    # -- snapshots: a cache of folded states, never the truth (tracker/core/snapshot.py) ------

    @abstractmethod
    async def put_snapshot(self, version: str, cut: str, head: int, data: bytes) -> None:
        """Keep the snapshot at `cut` of the log up to `head` (replacing one at that cut), and
        drop every snapshot of another `version`: the code that reads them has changed."""

    @abstractmethod
    async def snapshots(self, version: str) -> list[SnapshotInfo]:
        """The snapshots kept for `version`, by cut (their data left out)."""

    @abstractmethod
    async def get_snapshot(self, version: str, cut: str) -> tuple[int, bytes] | None:
        """(head, data) of the snapshot at `cut`, or None."""

    @abstractmethod
    async def renew_snapshot(self, version: str, cut: str, head: int) -> None:
        """The log up to `head` leaves the snapshot at `cut` as it is: say so (a later check
        reads only what comes after)."""

    @abstractmethod
    async def drop_snapshots(self, from_cut: str = "", to_cut: str | None = None) -> int:
        """Drop the snapshots cut on or after `from_cut` (and on or before `to_cut` if given),
        whatever their version: a late fact or a retraction made those after it stale; the
        oldest go when too many are kept. Returns how many."""

    @abstractmethod
    async def close(self) -> None: ...

    async def iterate(self, after: int = 0, page: int = 10_000, types: Iterable[str] | None = None,
                      upto: int | None = None) -> AsyncIterator[list[StoredEvent]]:
        """Pages of events after `after`, up to `upto`, or the head as it was when iteration started."""
        end = await self.head() if upto is None else upto
        types = tuple(types) if types is not None else None
        while after < end:
            rows = await self.read(after, min(page, end - after), types)
            rows = [row for row in rows if row.position <= end]
            if not rows:
                return
            yield rows
            after = rows[-1].position

    async def iterate_history(self, page: int = 10_000, upto: int | None = None) -> AsyncIterator[list[StoredEvent]]:
        """`read_history` page by page (history order: by the key, the JSON's `occurred_from`
        or else `occurred_on`, then position), up to `upto`, or the head as it was when
        iteration started."""
        end = await self.head() if upto is None else upto
        after: HistoryKey | None = None
        while True:
            rows, after = await self.read_history(after, page, end)
            if rows:
                yield rows
            if after is None:
                return

    async def __aenter__(self) -> EventStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
