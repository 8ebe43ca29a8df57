"""A serving node's image: its timeline pickled at a clean shutdown, read back at the next start.

Folding a long log into the timeline and its checkpoints is most of a start (at 1M events,
~10 s to read and order the facts, ~24 s to build the checkpoints); reading them back from
an image takes a few seconds. Like the store's snapshots (snapshots.py), an image is a
cache, never the truth:
- it is the timeline of the log up to its `head`, and is used only if the store holds, at
  that position, the same event (id and recording time) and if it was made by the same
  timeline code (a hash of tracker/core's sources and the Python version);
- the events after its head are folded in as at any catch-up: a late report or a
  retraction drops the checkpoints it makes stale, exactly as in a node that never stopped;
- any other log, other code, a truncated or foreign file: the image is ignored with a
  warning and the log folded as if there were none. Removing it changes no answer, only
  how long a start takes.

It is written at a clean shutdown (a node killed with SIGKILL leaves the previous image:
its next start reads that and folds more), to a temporary file renamed in place, so a crash
while writing leaves the previous image or none, never half of one. It is read back with
an unpickler that admits only the timeline's own classes, in a worker thread so that the
loop keeps answering /healthz meanwhile.
"""

from __future__ import annotations

import asyncio
import glob
import hashlib
import os
import pickle
import sys
import time
from functools import cache
from pathlib import Path
from typing import Any

from .core.gc_pause import paused_gc
from .core.timeline import Timeline
from .logs import Logger
from .snapshots import ALLOWED, Unpickler
from .store import EventStore

log = Logger("tracker")

FORMAT = 1
# What reading a damaged or foreign image raises: it is then ignored, at a start or at a shutdown
_UNREADABLE = (OSError, pickle.UnpicklingError, EOFError, AttributeError, TypeError, ValueError, KeyError,
               IndexError, MemoryError)
SUFFIX = ".image"  # beside a SQLite store's file: events.db -> events.db.image


class _ImageUnpickler(Unpickler):
    allowed = ALLOWED | {
        ("tracker.core.timeline", "Timeline"), ("tracker.core.timeline", "Fact"),
        ("tracker.core.timeline", "_Long"), ("tracker.core.catalog", "Catalog"),
        ("tracker.core.checkpoints", "Checkpoints"), ("tracker.core.checkpoints", "Checkpoint"),
        ("tracker.core.checkpoints", "Day"), ("tracker.core.checkpoints", "MISSING"),
        ("array", "array"), ("array", "_array_reconstructor"),
    }


@cache
def code_version() -> str:
    """The timeline code's identity: an image pickled by other code may not fit this one's classes."""
    digest = hashlib.sha256(f"{FORMAT} {sys.version_info[:2]}".encode())
    core = Path(__file__).parent / "core"
    for path in sorted(core.rglob("*.py")):
        digest.update(path.relative_to(core).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def default_path(store: EventStore) -> str | None:
    """Beside a SQLite store's file; None for an in-memory store or a server database (give a path)."""
    path = getattr(store, "path", None)
    if not path or path == ":memory:":
        return None
    return path + SUFFIX


async def _mark(store: EventStore, head: int) -> tuple[str, str] | None:
    """The event at `head`: what an image of the log up to `head` must agree with."""
    if head <= 0:
        return None
    found = await store.read(head - 1, 1)
    if not found or found[0].position != head:
        return None
    return found[0].id, found[0].recorded_at.isoformat()


def _header(path: str) -> dict[str, Any]:
    with open(path, "rb") as f:
        header = _ImageUnpickler(f).load()
    return header if isinstance(header, dict) else {}


def _timeline(path: str) -> Any:
    # millions of objects that live as long as the process: frozen before the collector is back
    with open(path, "rb") as f, paused_gc(keep=lambda: True):
        _ImageUnpickler(f).load()  # the header, checked already
        return _ImageUnpickler(f).load()  # an unpickler of its own: each pickle numbers its memo from 0


async def load(store: EventStore, path: str) -> Timeline | None:
    """The timeline kept at `path` if it is of this log and this code, else None (said in the log)."""
    if not os.path.exists(path):
        return None
    started = time.perf_counter()
    loop = asyncio.get_running_loop()
    try:
        header = await loop.run_in_executor(None, _header, path)
        if header.get("code") != code_version():
            log.warning("image ignored: made by other code", image=path)
            return None
        head = header.get("head")
        if not isinstance(head, int) or await _mark(store, head) != header.get("mark"):
            log.warning("image ignored: not of this log", image=path, head=head)
            return None
        timeline = await loop.run_in_executor(None, _timeline, path)
        if not isinstance(timeline, Timeline) or timeline.head != head:
            log.warning("image ignored: not a timeline of its head", image=path)
            return None
    except _UNREADABLE as e:
        log.warning("image ignored: unreadable", image=path, error=f"{type(e).__name__}: {e}")
        return None
    log.info("image read", image=path, position=head, seconds=round(time.perf_counter() - started, 2))
    return timeline


async def save(store: EventStore, timeline: Timeline, path: str) -> bool:
    """Keep `timeline` at `path` (nothing if it is already there at this head). False, said in
    the log, if it could not be written: the next start folds the log instead."""
    mark = await _mark(store, timeline.head)
    if mark is None:
        return False
    header = {"format": FORMAT, "code": code_version(), "head": timeline.head, "mark": mark}
    try:
        if os.path.exists(path) and _header(path) == header:
            return True
    except _UNREADABLE:  # an unreadable old image is replaced below
        pass
    started = time.perf_counter()
    _sweep(path)
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        with open(temporary, "wb") as f, paused_gc():
            pickle.dump(header, f, protocol=pickle.HIGHEST_PROTOCOL)
            pickle.dump(timeline, f, protocol=pickle.HIGHEST_PROTOCOL)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except (OSError, pickle.PicklingError, RecursionError) as e:
        log.warning("image not written", image=path, error=f"{type(e).__name__}: {e}")
        try:
            os.unlink(temporary)
        except OSError:
            pass
        return False
    log.info("image written", image=path, position=timeline.head, seconds=round(time.perf_counter() - started, 2))
    return True


def _sweep(path: str) -> None:
    """Remove the temporary files of writers killed mid-write (their process gone): an image
    is hundreds of MB at a million events, and a container stopped too soon leaves one."""
    folder, name = os.path.split(os.path.abspath(path))
    for leftover in Path(folder).glob(f"{glob.escape(name)}.*.tmp"):
        pid = leftover.name[len(name) + 1:-len(".tmp")]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            leftover.unlink(missing_ok=True)
        except OSError:  # alive, someone else's: leave it
            pass
