"""Validation of a big batch shared with one worker process, in parallel with this one.

`prepare()` is CPU-bound Python (~20 us per event) and the GIL keeps it on one core; the
store's transaction waits for it. For a big batch whose records do not depend on one
another, this process validates the first part while a worker process validates the
rest, and the two lists are joined in item order: the same events (and ids, made here
in item order before the split), or the same issues in the same order, as one
`prepare()` of the whole batch. The store then gets the whole batch, as before.

Only a batch with no registration and no retraction qualifies: a registration changes
the catalog for the records after it, and a retraction may name an earlier record of its
batch; each other record is checked against the catalog, today's date and itself alone
(the batch's memo of resolved names only caches the catalog's answers).

The worker is a shell concern (a process, pipes), so it lives here, not in the core. It
is started on the first batch that could use it, in the background (spawn: this process
may run asyncio and threads), and batches are validated in this process until it says
it is ready. It gets the catalog only when it changed since it last got one. If it dies,
errs or falls silent, the batch's part that it had is validated here instead (logged),
and a new worker is started for later batches: a batch is never lost or half-checked.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import traceback
from collections.abc import Callable
from datetime import date
from multiprocessing.connection import Connection
from typing import Any
from uuid import UUID

from .core import batch
from .core.batch import Item, Prepared
from .core.catalog import Catalog
from .core.errors import Issue, ValidationFailed
from .core.ids import uuid7
from .logs import Logger

MIN_ITEMS = 256  # a smaller batch is validated here alone: the hand-off costs more than it saves
OWN_SHARE = 0.5  # of a shared batch, the part this process validates (the first records)
REPLY_SECONDS = 30.0  # a worker silent this long after a batch is taken for dead
MAX_LOSSES = 3  # workers lost after which the pool gives up: every batch is validated here

log = Logger("tracker.validation_pool")


class ValidationPool:
    """This process and one worker, validating a big batch's two parts at once."""

    def __init__(self, min_items: int = MIN_ITEMS, own_share: float = OWN_SHARE) -> None:
        self.min_items, self.own_share = min_items, own_share
        self._process: subprocess.Popen[bytes] | None = None
        self._conn: Connection | None = None
        self._ready = False
        self._sent: tuple[int, int] | None = None  # (id, version) of the catalog the worker holds
        self._batches = 0  # numbers each request, so a reply is matched to its batch
        self._closed = False
        self._losses = 0

    def shares(self, items: list[Item]) -> bool:
        """Whether `items` qualify: big enough, with no registration and no retraction."""
        if len(items) < self.min_items or self._closed:
            return False
        for item in items:
            data = item.data
            if isinstance(data, dict):
                kind = data.get("type")
                if kind in batch.REGISTRATIONS or kind == "EventRetracted":
                    return False
        return True

    def prepare(self, items: list[Item], catalog: Catalog, today: date) -> list[Prepared]:
        """`batch.prepare(items, catalog, today, {})`, the worker validating the later part
        when it is ready. The caller checked `shares(items)`."""
        ids = _ids_for(items)
        if not self._is_ready():
            return batch.prepare(items, catalog, today, {}, new_id=_taking(ids))
        cut = max(1, int(len(items) * self.own_share))
        own, theirs = items[:cut], items[cut:]
        own_ids, their_ids = _split_ids(ids, items, cut)
        self._batches += 1
        number = self._batches
        sent = (id(catalog), catalog.version)
        try:
            assert self._conn is not None
            self._conn.send((number, catalog if sent != self._sent else None, today,
                             [(i.where, i.data, i.size) for i in theirs], their_ids))
            self._sent = sent
        except (OSError, ValueError) as e:
            self._lost(f"sending a batch failed: {e!r}")
            return batch.prepare(items, catalog, today, {}, new_id=_taking(ids))
        issues: list[Issue] = []
        try:
            out = batch.prepare(own, catalog, today, {}, new_id=_taking(own_ids))
        except ValidationFailed as e:
            out, issues = [], e.issues
        found = self._reply(number)
        if found is None:  # the worker failed: its part is validated here
            try:
                rest = batch.prepare(theirs, catalog, today, {}, new_id=_taking(their_ids))
            except ValidationFailed as e:
                rest, issues = [], issues + e.issues
        else:
            rest, their_issues = found
            issues += their_issues
        if issues:
            raise ValidationFailed(issues)
        out.extend(rest)
        return out

    def _is_ready(self) -> bool:
        """Whether the worker has said it is ready; starts it if none runs (not waiting for it)."""
        if self._ready:
            return True
        if self._conn is None:
            self._start()
            return False
        try:
            if self._conn.poll():
                self._ready = self._conn.recv() == "ready"
        except (OSError, EOFError) as e:
            self._lost(f"the worker did not start: {e!r}")
        return self._ready

    def _start(self) -> None:
        """A fresh interpreter (spawned, not forked: this process may run asyncio and threads)
        that imports this module only: multiprocessing's spawn would also run the parent's
        main script in it, and a script without a `__main__` guard would append again."""
        ours, theirs = socket.socketpair()
        code = ("import json, sys; sys.path[:] = json.loads(sys.argv[2]); "
                "from tracker.validation_pool import _serve; _serve(int(sys.argv[1]))")
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-c", code, str(theirs.fileno()), json.dumps(sys.path)],
                pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL)
        except OSError as e:  # (e.g. out of processes): validated here, as before
            log.warning("validation worker failed to start", error=repr(e))
            ours.close()
            self._closed = True
            return
        finally:
            theirs.close()
        self._conn = Connection(ours.detach())

    def _reply(self, number: int) -> tuple[list[Prepared], list[Issue]] | None:
        """The worker's answer to batch `number`, or None if it failed (and is gone)."""
        assert self._conn is not None
        try:
            if not self._conn.poll(REPLY_SECONDS):
                self._lost(f"no answer in {REPLY_SECONDS:.0f} s")
                return None
            answer = self._conn.recv()
        except (OSError, EOFError) as e:
            self._lost(f"the worker is gone: {e!r}")
            return None
        if answer[0] != number or answer[1] == "error":
            self._lost(f"the worker failed: {answer[2] if answer[1] == 'error' else answer!r}")
            return None
        return answer[2], answer[3]

    def _lost(self, why: str) -> None:
        """Drop the worker (a later batch starts another) and say why."""
        self._losses += 1
        self._closed = self._losses >= MAX_LOSSES
        log.warning("validation worker lost; its part of the batch was validated in this process", reason=why,
                    restarts="no more" if self._closed else "on the next big batch")
        self._stop(wait=1.0)

    def _stop(self, wait: float) -> None:
        process, conn = self._process, self._conn
        self._process = self._conn = None
        self._ready, self._sent = False, None
        if conn is not None:
            try:
                conn.send(None)  # asks the worker to end
            except (OSError, ValueError):
                pass
            conn.close()  # (it also ends when this end closes)
        if process is not None:
            try:
                process.wait(wait)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def close(self) -> None:
        """End the worker, if one runs; the pool validates nothing more."""
        self._closed = True
        self._stop(wait=5.0)


def _ids_for(items: list[Item]) -> list[UUID | None]:
    """An id for each record that gives none, made in item order as `prepare()` alone would."""
    return [uuid7() if isinstance(i.data, dict) and i.data.get("id") is None else None for i in items]


def _split_ids(ids: list[UUID | None], items: list[Item], cut: int) -> tuple[list[UUID | None], list[UUID | None]]:
    return ids[:cut], ids[cut:]


def _taking(ids: list[UUID | None]) -> Callable[[], UUID]:
    """`new_id` for prepare(): the ids made beforehand, in order (a fresh one if they run out)."""
    made = iter([i for i in ids if i is not None])
    return lambda: next(made, None) or uuid7()


def _serve(fd: int) -> None:
    """The worker: validates each batch it is sent against the last catalog it was sent,
    until told to end or its parent is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's Ctrl-C is the parent's to handle
    conn = Connection(fd)
    conn.send("ready")
    catalog = Catalog()
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return  # the parent is gone
        if request is None:
            return
        number, sent, today, rows, ids = request
        if sent is not None:
            catalog = sent
        try:
            items = [Item(*row) for row in rows]
            try:
                answer: tuple[Any, ...] = (number, "ok", batch.prepare(items, catalog, today, {},
                                                                     new_id=_taking(ids)), [])
            except ValidationFailed as e:
                answer = (number, "ok", [], e.issues)
        except Exception:
            answer = (number, "error", traceback.format_exc())
        try:
            conn.send(answer)
        except OSError:
            return  # the parent is gone
