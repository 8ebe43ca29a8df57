"""One websocket client: its sender, its subscriptions, and its requests.

Everything sent to a client goes through its sender: replies and projection updates from
a bounded queue, then events pulled from each event subscription's cursor (hub.py), one
subscription at a time in turn, several events written at once when the ring holds them.
A client whose queue overflows, or whose live cursor lags the head by more than `max_lag`
events, is too slow: it is closed with 1013 (try again later) and resumes from its last
position. So one slow reader never grows the server's memory or delays the others.

The live fast path: when the hub moves and a client's sender is idle (nothing queued, every
event cursor caught up at the previous head) and its socket is not backed up, `wake` writes
the new events straight from the ring, in order from each cursor, the way
`websockets.broadcast` does (no task switch, one socket write per client per move), up to
`PUSH_BYTES`; whatever is left, the sender pulls as before, with flow control.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import replace

import structlog
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from ..core import protocol
from ..core.batch import Item
from ..core.errors import StoreError, TrackerError
from ..core.ids import idempotent_id
from ..core.protocol import ProtocolError, Request
from ..core.reports import from_objects
from . import interop_routes
from .auth import Access, Unauthorized, with_token
from .guard import Guard, address_of
from .hub import EventSubscription, Hub, ViewSubscription

log = structlog.get_logger("tracker.server")

MAX_FAILURES = 10  # failed `auth` ops before the connection is closed with 1008
MAX_APPEND_EVENTS = 10_000  # events per append request; more is `too_large`
MAX_IN_FLIGHT = 8  # appends of one connection received and not yet answered; more get `busy`
PUSH_BYTES = 64 * 1024  # event bytes written to one client per hub move by the fast path, or per sender write


class Outbox:
    def __init__(self, ws: ServerConnection, hub: Hub, limit: int, max_lag: int) -> None:
        self.ws = ws
        self.hub = hub
        self.limit = limit
        self.max_lag = max_lag
        self.queue: deque[str] = deque()
        self.events: dict[str, EventSubscription] = {}  # this client's event cursors
        self._wake = asyncio.Event()
        self.idle = False  # the sender waits for news, having sent everything up to the head
        self.closed = False

    def put(self, text: str) -> bool:
        """Queue a reply or update without waiting; a full queue means the client is too slow."""
        if self.closed:
            return False
        if len(self.queue) >= self.limit:
            self.too_slow(f"more than {self.limit} messages queued")
            return False
        self.queue.append(text)
        self._wake.set()
        return True

    def wake(self) -> None:
        """The hub moved: send what is new, unless a live cursor lags too far (its sender
        may be stuck on a client that does not read: this catches it)."""
        head = self.hub.head
        for sub in self.events.values():
            if sub.caught_up and head - sub.sent > self.max_lag and not self.closed:
                self.too_slow(f"subscription {sub.id} at position {sub.sent}, head {head}")
                return
        if self.idle and not self.queue and not self.closed and self._push(head):
            return
        self._wake.set()

    def _push(self, head: int) -> bool:
        """The fast path (see the module's docstring): True if every cursor reached `head`."""
        ws = self.ws
        if ws.protocol.state is not State.OPEN or ws.transport.get_write_buffer_size() > PUSH_BYTES:
            return False
        written = 0
        try:
            for sub in self.events.values():
                if not sub.caught_up:
                    return False
                prefix = sub.prefix
                while sub.sent < head and written < PUSH_BYTES:
                    body = self.hub.next_in_ring(sub, head)
                    if body is None:
                        break
                    frame = prefix + body[1:]
                    ws.protocol.send_text(frame)
                    written += len(frame)
                    sub.sent += 1
                    self.hub.pushed(sub.sent)
        except Exception as e:  # as broadcast does: a failed write is this client's problem, not the hub's
            log.info("fast path write failed", peer=_peer(ws), error=str(e))
            return False
        finally:
            if written:
                try:
                    ws.send_data()
                except Exception as e:
                    log.info("fast path write failed", peer=_peer(ws), error=str(e))
        return all(sub.sent >= head for sub in self.events.values())

    def too_slow(self, why: str) -> None:
        self.closed = True
        log.warning("subscriber too slow, closing", peer=_peer(self.ws), why=why)
        reason = "too slow: fell behind; reconnect and resume from your last position"
        asyncio.get_running_loop().create_task(self.ws.close(1013, reason))

    async def run(self) -> None:
        """Send until the connection closes: queued messages first, then events in turn."""
        try:
            while not self.closed:
                if self.queue:
                    await self.ws.send(self.queue.popleft())
                    continue
                sent = False
                for sub in list(self.events.values()):
                    body = await self.hub.next_event(sub)
                    if body is None:
                        if not sub.caught_up:
                            sub.caught_up = True
                            self.put(protocol.reply("caught_up", subscription=sub.id, position=sub.sent))
                        continue
                    if sub.id in self.events:  # not unsubscribed meanwhile
                        await self._send_events(sub, body)
                        sent = True
                    if self.queue:
                        break
                if not sent and not self.queue:
                    self._wake.clear()
                    self.idle = True
                    try:
                        await self._wake.wait()
                    finally:
                        self.idle = False
        except ConnectionClosed:
            self.closed = True

    async def _send_events(self, sub: EventSubscription, body: bytes) -> None:
        """The event after the cursor and those after it that the ring holds, up to
        PUSH_BYTES, in one write; then wait until the socket takes them (flow control)."""
        async with self.ws.send_context():
            frame = sub.prefix + body[1:]
            self.ws.protocol.send_text(frame)
            sub.sent += 1
            self.hub.pushed(sub.sent)
            written = len(frame)
            head = self.hub.head
            while sub.sent < head and written < PUSH_BYTES:
                more = self.hub.next_in_ring(sub, head)
                if more is None:
                    break
                frame = sub.prefix + more[1:]
                self.ws.protocol.send_text(frame)
                sub.sent += 1
                self.hub.pushed(sub.sent)
                written += len(frame)


class Client:
    def __init__(self, ws: ServerConnection, hub: Hub, guard: Guard, granted: Access, queue_limit: int,
                 max_lag: int) -> None:
        self.ws = ws
        self.hub = hub
        self.guard = guard
        self.access = granted
        self.failures = 0  # failed `auth` ops on this connection: slower each time, closed at MAX_FAILURES
        self.outbox = Outbox(ws, hub, queue_limit, max_lag)
        self.subscriptions: dict[str, ViewSubscription] = {}
        self.log = log.bind(peer=_peer(ws), connection=str(ws.id)[:8])
        # Appends run one at a time, in order, beside the reader: the reader keeps reading
        # (and answering `busy` beyond MAX_IN_FLIGHT), never blocked behind a commit.
        self.appends: deque[tuple[Request, Access]] = deque()
        self._append_ready = asyncio.Event()
        self._append_seconds = 0.05  # a moving average of an append's time, for `retry_after`
        self._closing = False

    async def serve(self) -> None:
        self.log.info("connected", role=self.access.role, principal=self.access.principal)
        sender = asyncio.create_task(self.outbox.run())
        sender.add_done_callback(self._sender_done)
        self.hub.outboxes.add(self.outbox)
        writer = asyncio.create_task(self._append_loop())
        try:
            async for message in self.ws:
                await self.handle(message)
        except ConnectionClosed:
            pass
        finally:
            # Appends received but not started are dropped: nobody could be told they were stored.
            self._closing = True
            self.appends.clear()
            self._append_ready.set()  # the loop ends after the append it runs, if any
            self.hub.outboxes.discard(self.outbox)
            for sub in self.subscriptions.values():
                self.hub.unsubscribe(sub)
            sender.cancel()
            try:
                await writer  # the append it runs, if any, finishes: the store is not closed under it
            except Exception:
                self.log.exception("append loop failed")
            self.log.info("disconnected", code=self.ws.close_code, reason=self.ws.close_reason)

    async def handle(self, message: str | bytes) -> None:
        ref = None
        try:
            request = protocol.parse_request(message)
            ref = request.ref
            if request.op == "append":
                self._queue_append(request)
            else:
                await getattr(self, f"_{request.op}")(request)
        except TrackerError as e:
            self._refused(e, ref)
        except Exception:
            self.log.exception("request failed")
            self.outbox.put(protocol.error(TrackerError("the server failed to handle this request; it is logged"), ref))

    def _refused(self, e: TrackerError, ref: object) -> None:
        if not isinstance(e, ProtocolError) or e.code not in ("bad_request", "unknown_op", "busy"):
            self.log.info("request refused", code=e.code, error=e.message.splitlines()[0])
        self.outbox.put(protocol.error(e, ref))

    @property
    def principal(self) -> str:
        return self.access.principal

    def revoked(self) -> None:
        """Its token was revoked (on any node): close with 1008 (policy violation)."""
        asyncio.get_running_loop().create_task(self.ws.close(1008, "token revoked"))

    def _queue_append(self, request: Request) -> None:
        """Checked now (with the access the connection has now), run in turn by `_append_loop`;
        beyond MAX_IN_FLIGHT waiting, or past the principal's append rate, refused with `busy`
        at once: never queued unboundedly."""
        self.access.require_write()
        wait = self.guard.rate.take(self.access.principal, self.guard.now())
        if wait is not None:
            raise ProtocolError("busy", f"'{self.access.principal}' appends faster than this server's rate: send "
                                f"it again in {wait} s (with the same idempotency_key)", retry_after=wait)
        events = request.events
        assert events is not None  # protocol._append refuses a request without a non-empty list
        if len(events) > MAX_APPEND_EVENTS:
            raise ProtocolError("too_large", f"{len(events)} events in one append; at most {MAX_APPEND_EVENTS}: "
                                "split the batch (each part is appended atomically)", limit=MAX_APPEND_EVENTS)
        if len(self.appends) >= MAX_IN_FLIGHT:
            retry_after = round(max(0.1, self._append_seconds * len(self.appends)), 1)
            raise ProtocolError("busy", f"{len(self.appends)} appends of this connection are waiting to be "
                                f"stored; this one was not: send it again in {retry_after} s "
                                "(with the same idempotency_key)", retry_after=retry_after, limit=MAX_IN_FLIGHT)
        self.appends.append((request, self.access))
        self._append_ready.set()

    async def _append_loop(self) -> None:
        while not self._closing:
            if not self.appends:
                self._append_ready.clear()
                await self._append_ready.wait()
                continue
            request, granted = self.appends.popleft()
            started = time.monotonic()
            metrics = self.hub.metrics
            try:
                new = await self._append(request, granted)
                if metrics is not None:
                    metrics.appended(new, time.monotonic() - started)
            except TrackerError as e:
                if metrics is not None:
                    metrics.refused(e.code, time.monotonic() - started)
                    if isinstance(e, StoreError):
                        metrics.store_errors.labels("append").inc()
                self._refused(e, request.ref)
            except Exception:
                if metrics is not None:
                    metrics.refused("internal", time.monotonic() - started)
                self.log.exception("append failed")
                self.outbox.put(protocol.error(
                    TrackerError("the server failed to handle this request; it is logged"), request.ref))
            self._append_seconds = 0.8 * self._append_seconds + 0.2 * (time.monotonic() - started)

    async def _subscribe(self, request: Request) -> None:
        self.access.require_read()
        if request.view is not None:
            view_sub = await self.hub.subscribe_view(self.outbox, request.view, request.ref)
            self.subscriptions[view_sub.id] = view_sub
            return
        await self.hub.refresh()  # so `caught_up` means: up to the log's head as of this request
        events_sub = self.hub.subscribe_events(self.outbox, request.after or 0, request.ref, request.filter)
        self.outbox.events[events_sub.id] = events_sub
        self.outbox.wake()

    def _sender_done(self, task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None:
            error = task.exception()
            self.log.error("sending failed", error=str(error))
            asyncio.get_running_loop().create_task(self.ws.close(1011, "the server failed to send; resume later"))

    async def _unsubscribe(self, request: Request) -> None:
        name = request.subscription
        if name in self.outbox.events:
            del self.outbox.events[name]
        elif name in self.subscriptions:
            self.hub.unsubscribe(self.subscriptions.pop(name))
        else:
            raise ProtocolError("bad_request", f"no subscription '{name}' on this connection", subscription=name)
        self.outbox.put(protocol.reply("unsubscribed", request.ref, subscription=name))
        self.log.info("unsubscribed", subscription=name)

    async def _query(self, request: Request) -> None:
        self.access.require_read()
        view = request.view
        assert view is not None  # protocol._query always sets it
        state = await self.hub.query(view)
        self.outbox.put(protocol.snapshot(view, state, ref=request.ref))

    async def _history(self, request: Request) -> None:
        self.access.require_read()
        view, entry = request.view, request.entry
        assert view is not None and entry is not None and request.limit is not None  # protocol._history sets them
        answer = await self.hub.tracker.history(view.projection, entry, view.as_of, view.known_at,
                                                view.recorded_at, request.limit, request.before)
        self.outbox.put(protocol.reply("history", request.ref, **answer))

    async def _catalog(self, request: Request) -> None:
        self.access.require_read()
        self.outbox.put(protocol.reply("catalog", request.ref, **await self.hub.catalog()))

    async def _diff(self, request: Request) -> None:
        self.access.require_read()
        answer = await interop_routes.diff(self.hub, request.body.get)
        self.outbox.put(protocol.reply("diff", request.ref, **answer))

    async def _auth(self, request: Request) -> None:
        assert request.token is not None  # protocol._auth refuses a request without one
        address = address_of(self.ws)
        wait = self.guard.failures.retry_after(address, self.guard.now())
        if wait is not None:
            await self.ws.close(1008, "too many failed authentications from this address")
            return
        try:
            self.access = with_token(self.access, request.token, self.guard.policy)
        except Unauthorized:
            self.access = self.guard.policy.anonymous()
            self.failures += 1
            self.guard.failures.record(address, self.guard.now())
            if self.failures >= MAX_FAILURES:
                self.log.warning("too many failed authentications, closing", failures=self.failures)
                await self.ws.close(1008, "too many failed authentications")
                return
            await asyncio.sleep(min(0.05 * 2 ** (self.failures - 1), 2.0))  # each guess slower than the last
            raise
        self.failures = 0
        self.log.info("authenticated", principal=self.access.principal, role=self.access.role)
        self.outbox.put(protocol.reply("authenticated", request.ref))

    async def _append(self, request: Request, granted: Access) -> int:
        events = request.events
        assert events is not None  # protocol._append refuses a request without a non-empty list
        items = from_objects(events)
        if request.idempotency_key is not None:
            items = with_derived_ids(items, granted.principal, request.idempotency_key)
        result = await self.hub.tracker.append(items, request.expected_position, recorded_by=granted.principal)
        self.log.info("appended", events=len(result.positions), new=result.new,
                      first=min(result.positions, default=None), last=max(result.positions, default=None))
        self.outbox.put(protocol.reply("appended", request.ref, positions=result.positions, new=result.new,
                                       ids=result.ids))
        return int(result.new)


def with_derived_ids(items: list[Item], principal: str, key: str) -> list[Item]:
    """Each event without an id given the id derived from (principal, key, its index)."""
    return [replace(item, data={**item.data, "id": str(idempotent_id(principal, key, index))})
            if isinstance(item.data, dict) and item.data.get("id") is None else item
            for index, item in enumerate(items)]


def _peer(ws: ServerConnection) -> str:
    address = ws.remote_address
    return f"{address[0]}:{address[1]}" if address else "?"
