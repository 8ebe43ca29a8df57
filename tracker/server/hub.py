"""The hub: one Tracker per server, kept at the log's head, fanning new events out to subscribers.

One pump task waits on the store (`EventStore.wait`: this process's appends wake it at
once; other processes' within the backend's poll interval, or its notification channel),
asks the service to fold what is new into its timeline (`Tracker.catch_up`) and, in the
same step with no await, moves the hub's head, keeps the new events' serialised bodies in
a ring shared by every client, queues the changes for projection subscribers, and wakes
each client's sender. The hub never reads the store itself: the service is the one path
from the log to the served state.

Event subscribers are pulled, not pushed: each has a cursor (the last position sent) and
its connection's sender takes the next event from the ring, or from the store when the
ring no longer holds it (a backlog, or a burst larger than the ring). So a burst costs
one ring entry, however many subscribers; memory per subscriber is one page at most; a
subscriber is gapless and in order by construction. One that was caught up and then
lags the head by more than `max_lag` is too slow, and is closed (connection.py); it
resumes from its cursor. (A caught-up client whose sender is idle is written to directly
when the hub moves, from the same ring and cursors: connection.py's fast path.)
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

from .. import images
from ..core import filters, protocol
from ..core.errors import StoreError
from ..core.events import REFERENCE_FIELDS, REGISTRATIONS
from ..core.filters import EVERYTHING, Filter
from ..core.gc_pause import paused_gc
from ..core.projections import PROJECTIONS
from ..core.protocol import View
from ..core.records import Record
from ..core.timeline import today
from ..service import Tracker
from .metrics import Metrics

log = structlog.get_logger("tracker.server")

PAGE = 1000  # events per store read, for backlogs and catch-up
PREPARE_SLICE = 1_000  # facts folded into checkpoints between two turns of the loop, at start (~40 ms)
_ALWAYS_RELEVANT = frozenset({*REGISTRATIONS, "EventRetracted"})


class Outbox(Protocol):
    """A connection's sender (tracker/server/connection.py)."""

    def put(self, text: str) -> bool: ...
    def wake(self) -> None: ...


@dataclass(eq=False)
class EventSubscription:
    id: str
    sent: int  # the last position sent to this subscriber: its cursor
    caught_up: bool = False  # reached the head once: from then on it must keep up (max_lag)
    backlog: deque = field(default_factory=deque)  # (position, body, event) read from the store
    prefix: bytes = b""  # the message of the event with `body` is prefix + body[1:] (protocol.event_message)
    filter: Filter = EVERYTHING  # only the events it keeps are sent; the cursor moves past the others

    def __post_init__(self) -> None:
        self.prefix = protocol.event_prefix(self.id)


@dataclass(eq=False)
class ViewSubscription:
    id: str
    outbox: Outbox
    view: View


@dataclass(eq=False)
class ViewState:
    """A view's last rendering, shared by every subscriber of the same view."""

    state: dict[str, Any]
    subscribers: set[ViewSubscription] = field(default_factory=set)


class Hub:
    def __init__(self, tracker: Tracker, ring: int = 10_000, image: str | None = None) -> None:
        self.tracker = tracker
        self.image = image  # where the timeline is kept between runs (tracker/images.py), if anywhere
        self.head = 0  # folded into the timeline and fanned out
        self.outboxes: set[Outbox] = set()
        self.ring: deque[tuple[int, bytes, dict]] = deque(maxlen=ring)  # (position, body, event), the latest
        self.stamps: deque[float] = deque(maxlen=ring)  # the ring's events' recorded_at (POSIX), for push latency
        self.metrics: Metrics | None = None  # the server's /metrics, when it keeps them
        self.views: dict[View, ViewState] = {}
        self.problem: str | None = None  # why the store cannot be reached, while it cannot
        self._ids = itertools.count(1)
        self._pump: asyncio.Task | None = None
        self.stage = "log"  # while starting: reading its image, the log, then building the timeline's checkpoints

    def new_id(self) -> str:
        return f"s{next(self._ids)}"

    @property
    def ready(self) -> bool:
        """At the log's head once: reads and subscriptions are served from then on."""
        return self._pump is not None

    async def start(self) -> None:
        # an embedded store reads a fact back in microseconds: the node then keeps no fact's text
        texts = self.tracker.store.texts_reader()
        if self.image is not None:
            self.stage = "image"
            kept = await images.load(self.tracker.store, self.image)
            if kept is not None and (texts is not None or kept.keeps_texts):
                self.tracker.timeline = kept  # the log up to its head, checkpoints and all
            elif kept is not None:
                log.warning("image ignored: it holds no texts and this store cannot read them back", image=self.image)
            self.stage = "log"
        if texts is not None:
            self.tracker.timeline.leave_texts(texts)
        await self.tracker.catch_up()  # the rest of the log at once, before anyone subscribes
        # then its checkpoints, a slice at a time (the loop answers /healthz between): else the
        # first answer would fold the whole log again (~40 s at 1M events) while holding the loop
        self.stage = "checkpoints"
        timeline = self.tracker.timeline
        # hundreds of MB of checkpoints that live as long as the process: without the pause, the
        # collector's full passes walk them again and again as they grow; frozen once built
        with paused_gc(keep=lambda: True):
            while not timeline.prepare(PREPARE_SLICE):
                await asyncio.sleep(0)
        self.head = timeline.head
        self._pump = asyncio.create_task(self._run(), name="tracker-hub-pump")

    async def keep_image(self) -> None:
        """At a clean shutdown: the timeline kept for the next start, if it reached the head."""
        if self.image is not None and self.ready:
            try:
                await images.save(self.tracker.store, self.tracker.timeline, self.image)
            except StoreError as e:
                log.warning("image not written", image=self.image, error=str(e))

    async def stop(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
            try:
                await self._pump
            except asyncio.CancelledError:
                pass

    async def _run(self) -> None:
        day = today()
        while True:
            try:
                head = await self.tracker.wait(self.head, timeout=1.0)
                if head > self.head:
                    await self.refresh()
                if today() != day:  # views of "today" move to the new day: windows that ended yesterday settle
                    day = today()
                    self._update_views([v for v in self.views if v.as_of is None])
                if self.problem is not None:
                    log.info("store reachable again", position=self.head)
                    self.problem = None
            except StoreError as e:
                if self.metrics is not None:
                    self.metrics.store_errors.labels("hub").inc()
                if self.problem is None:
                    log.error("store unreachable", error=str(e))
                self.problem = str(e)
                await asyncio.sleep(1.0)

    async def refresh(self) -> int:
        """Fold in everything the log has past the hub's head, through the service, and push it out."""
        await self.tracker.catch_up(self._advance, PAGE)
        return self.head

    def _advance(self, records: list[Record]) -> None:
        """Called by the service right after it folded `records` into the timeline, with no
        await between: head and every subscriber move in step with the timeline."""
        self.head = records[-1].position
        self.ring.extend((r.position, protocol.event_body(r.position, r.recorded_at.isoformat(timespec="microseconds"),
                                                          r.event, r.recorded_by), r.event) for r in records)
        self.stamps.extend(r.recorded_at.timestamp() for r in records)
        types = {r.event["type"] for r in records}
        stale = []
        for view, shown in list(self.views.items()):
            projection = PROJECTIONS[view.projection]
            if types & (projection.types | _ALWAYS_RELEVANT):
                stale.append(view)
            else:
                shown.state = {**shown.state, "position": self.head}
        self._update_views(stale)
        for outbox in list(self.outboxes):
            outbox.wake()

    def _update_views(self, views: list[View]) -> None:
        """Render each view again and send its subscribers what changed."""
        for view in views:
            shown = self.views.get(view)
            if shown is None:
                continue
            projection = PROJECTIONS[view.projection]
            new = self.render(view)
            changed, removed = protocol.diff(projection, shown.state, new)
            moved = new["as_of"] != shown.state.get("as_of")
            shown.state = new
            if changed or removed or moved:
                body = protocol.dumps({"projection": view.projection, "position": new["position"],
                                       "as_of": new["as_of"], "changed": changed, "removed": removed})[1:]
                for sub in list(shown.subscribers):
                    sub.outbox.put(f'{{"type":"update","subscription":"{sub.id}",{body}')

    def render(self, view: View) -> dict[str, Any]:
        timeline = self.tracker.timeline
        answer = timeline.render(view.projection, view.as_of, view.known_at, view.recorded_at)
        return filters.apply(view.projection, PROJECTIONS[view.projection].collection, answer, view.filter,
                             timeline.catalog)

    # Subscriptions. Each returns once the subscriber is registered; no await between the
    # state it is sent and its registration, so it misses no change and sees none twice.

    def subscribe_events(self, outbox: Outbox, after: int, ref: Any = None,
                         flt: Filter = EVERYTHING) -> EventSubscription:
        """A cursor at `after`; the connection's sender sends from there (`next_event`).
        An `after` past the hub's head is refused (the caller refreshes the hub first)."""
        if after > self.head:
            raise protocol.after_beyond_head(after, self.head, ref)
        sub = EventSubscription(self.new_id(), after, filter=flt)
        shown = {"filter": filters.describe(flt)} if flt else {}
        outbox.put(protocol.reply("subscribed", ref, subscription=sub.id, stream="events", **shown))
        log.info("subscribed", subscription=sub.id, stream="events", after=after)
        return sub

    def from_ring(self, position: int) -> tuple[int, bytes, dict] | None:
        """(position, body, event) of the event at `position`, if the ring still holds it."""
        ring = self.ring
        if not ring or not ring[0][0] <= position <= ring[-1][0]:
            return None
        return ring[position - ring[0][0]]

    def next_in_ring(self, sub: EventSubscription, head: int) -> bytes | None:
        """The body of the next event the subscriber takes, if the ring holds it; the cursor
        moves past the events its filter leaves out. None: at `head`, or not in the ring."""
        flt = sub.filter
        while sub.sent < head:
            item = self.from_ring(sub.sent + 1)
            if item is None:
                return None
            if not flt or flt.event(item[2], self.tracker.timeline.catalog):
                return item[1]
            sub.sent += 1
        return None

    def pushed(self, position: int) -> None:
        """The event at `position` was just handed to a subscriber's socket: its push latency
        (recorded_at to now) goes to /metrics, if the ring still holds it (a live delivery)."""
        if self.metrics is None or not self.ring:
            return
        index = position - self.ring[0][0]
        if 0 <= index < len(self.stamps):
            self.metrics.pushed(self.stamps[index])

    async def next_event(self, sub: EventSubscription) -> bytes | None:
        """The body after the subscriber's cursor (past the events its filter leaves out):
        None when it is at the head."""
        while True:
            position = sub.sent + 1
            if position > self.head:
                return None
            item = self.from_ring(position)
            if item is None:
                while sub.backlog and sub.backlog[0][0] < position:
                    sub.backlog.popleft()
                if not sub.backlog:
                    records = await self.tracker.read(sub.sent, min(PAGE, self.head - sub.sent))
                    sub.backlog.extend((r.position, protocol.event_body(
                        r.position, r.recorded_at.isoformat(timespec="microseconds"), r.event, r.recorded_by), r.event)
                        for r in records)
                if not sub.backlog or sub.backlog[0][0] != position:
                    raise StoreError(f"the store has no event at position {position}")  # a gap: never expected
                item = sub.backlog.popleft()
            if not sub.filter or sub.filter.event(item[2], self.tracker.timeline.catalog):
                return item[1]
            sub.sent += 1

    async def subscribe_view(self, outbox: Outbox, view: View, ref: Any = None) -> ViewSubscription:
        await self.refresh()
        sub = ViewSubscription(self.new_id(), outbox, view)
        shown = self.views.get(view)
        if shown is None:
            shown = self.views[view] = ViewState(self.render(view))
        shown.subscribers.add(sub)
        outbox.put(protocol.reply("subscribed", ref, subscription=sub.id, projection=view.projection))
        outbox.put(protocol.snapshot(view, shown.state, sub.id))
        log.info("subscribed", subscription=sub.id, projection=view.projection, as_of=view.as_of,
                 known_at=view.known_at.isoformat() if view.known_at else None,
                 recorded_at=view.recorded_at.isoformat() if view.recorded_at else None)
        return sub

    def unsubscribe(self, sub: ViewSubscription) -> None:
        shown = self.views.get(sub.view)
        if shown is not None:
            shown.subscribers.discard(sub)
            if not shown.subscribers:
                del self.views[sub.view]

    async def query(self, view: View) -> dict[str, Any]:
        await self.refresh()
        shown = self.views.get(view)
        return shown.state if shown is not None else self.render(view)

    async def catalog(self) -> dict[str, Any]:
        await self.refresh()
        catalog = self.tracker.timeline.catalog
        return {"position": self.head,
                "actors": [{"actor": k, **_reference(a)} for k, a in sorted(catalog.actors.items())],
                "places": [{"place": k, **_reference(p)} for k, p in sorted(catalog.places.items())]}


def _reference(registration: dict[str, Any]) -> dict[str, Any]:
    """A catalog entry: what the registration says of its actor or place (events.REFERENCE_FIELDS);
    not its date, sources or notes, which are about the report."""
    return {k: registration[k] for k in REFERENCE_FIELDS[registration["type"]] if k in registration}

