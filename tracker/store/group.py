"""Group commit, shared by the backends: `append()` queues its batch and waits; one writer
task per store takes every batch queued meanwhile (up to GROUP_EVENTS events, or one larger
batch) and commits them together; each caller is answered only after that commit.

A backend calls `queued()` from `append()` and implements `_write_loop()` with `take()` and
`answer()`; how a group is committed (its transaction, its per-caller checks) is its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace

from ..core.errors import ConflictError, IdConflict, PositionConflict
from .base import NewEvent

GROUP_EVENTS = 20_000  # a group commit takes queued batches up to this many events (or one larger batch)


@dataclass(slots=True)
class Request:
    events: list[NewEvent]
    expected: int | None
    future: asyncio.Future[list[int]]
    recorded_by: str | None = None  # who appends: stored with each of its new events
    outcome: list[int] | BaseException | None = None
    new: list[tuple[int, NewEvent]] | None = None  # the events it stores now, with their positions (if tracked)


class GroupCommit:
    _queue: list[Request]
    _task: asyncio.Task[None] | None

    async def _write_loop(self) -> None:
        raise NotImplementedError

    async def queued(self, events: Sequence[NewEvent], expected_position: int | None, name: str,
                     recorded_by: str | None = None) -> list[int]:
        loop = asyncio.get_running_loop()
        request = Request(list(events), expected_position, loop.create_future(), recorded_by)
        self._queue.append(request)
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._write_loop(), name=name)
        # shield: a caller that stops waiting cannot undo a commit already under way
        return await asyncio.shield(request.future)

    def take(self) -> list[Request]:
        """The next group: queued requests in order, up to GROUP_EVENTS events."""
        group: list[Request] = []
        size = 0
        while self._queue and (not group or size + len(self._queue[0].events) <= GROUP_EVENTS):
            request = self._queue.pop(0)
            group.append(request)
            size += len(request.events)
        return group


def answer(group: list[Request]) -> None:
    for request in group:
        if request.future.done():  # the caller's task was cancelled: nobody is waiting
            continue
        if isinstance(request.outcome, BaseException):
            request.future.set_exception(request.outcome)
        else:
            request.future.set_result(request.outcome or [])


def plan(request: Request, head: int,
         stored: dict[str, tuple[int, str]]) -> tuple[list[int], list[tuple[int, NewEvent]]]:
    """One caller's batch, as if it ran alone after `head`, given every id stored so far
    (the log's and the earlier requests' of this group): its positions and what is new.
    Raises IdConflict for an id stored with other data, PositionConflict for a stale
    `expected` (unless the whole batch is a retry of stored events)."""
    events, expected = request.events, request.expected
    if not events:
        if expected is not None and expected != head:
            raise PositionConflict(expected, head)
        return [], []
    positions: list[int] = []
    new: list[tuple[int, NewEvent]] = []
    batch: dict[str, tuple[int, str]] = {}
    for event in events:
        known = stored.get(event.id) or batch.get(event.id)
        if known is not None:
            if known[1] != event.data:
                raise IdConflict(event.id, known[0])
            positions.append(known[0])
            continue
        position = head + len(new) + 1
        batch[event.id] = (position, event.data)
        new.append((position, event))
        positions.append(position)
    if expected is not None and expected != head and new:
        raise PositionConflict(expected, head)
    return positions, new


Plan = tuple[list[int], list[tuple[int, NewEvent]]]  # a request's positions, and its new events with theirs


def plan_from_empty(group: list[Request]) -> tuple[list[Plan], int | None] | None:
    """Each request planned as if the log were empty (positions from 1), with the head every
    expected_position then needs (None: any); None if no one head serves them all, or the
    group conflicts within itself (both are then checked against the log instead). A store
    that finds the log holds none of the group's ids, at the head needed, stores each plan
    offset by that head: the common case, without reading the ids back first."""
    head, need = 0, None
    stored: dict[str, tuple[int, str]] = {}
    plans: list[Plan] = []
    for request in group:
        try:
            positions, new = plan(replace(request, expected=None), head, stored)
        except ConflictError:
            return None
        if request.expected is not None and (new or not request.events):
            if request.expected < head or need not in (None, request.expected - head):
                return None
            need = request.expected - head
        for position, event in new:
            stored[event.id] = (position, event.data)
        head += len(new)
        plans.append((positions, new))
    return plans, need
