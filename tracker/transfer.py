"""Moving a log between stores: `tracker export`, `tracker import`, `tracker verify`.

An export is JSON Lines of stored records, `{"position", "id", "recorded_at", "event"}`
and `"recorded_by"` when the log knows who appended the event, as `tracker log --json` prints
them. An import loads them into an empty store keeping them all, so positions, idempotency ids,
knowledge times and the audit trail survive a move from SQLite to PostgreSQL. An export holds
the log only, never the tokens (`tracker backup` carries them). `verify` digests the canonical
log (position, id, recorded_at, recorded_by when there is one, type and the stored JSON text,
byte for byte), so two stores can be compared with one line each; a log stored before
recorded_by existed has the digest it always had.

`backup` copies a live SQLite store, tokens included, with SQLite's online backup API, and
checks the copy: its digest must equal the source's digest up to the copy's head.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import ValidationError

from .core.errors import InputError, Issue, StoreError, ValidationFailed
from .core.events import EVENT_ADAPTER
from .core.jsontext import JSONTextError, loads_fast
from .store import EventStore, StoredEvent


async def export(store: EventStore, write: Callable[[str], Any],
                 progress: Callable[[int], None] | None = None) -> int:
    """Write the log as JSON Lines; `progress(n)` after each page of n records (a bar, or nothing)."""
    count = 0
    async for page in store.iterate(0, page=10_000):
        write("".join(orjson.dumps(_stored_json(s)).decode() + "\n"
                      for s in page))
        count += len(page)
        if progress is not None:
            progress(len(page))
    return count


def _stored_json(stored: StoredEvent) -> dict[str, Any]:
    """A record with its event as stored, never upcast: an import stores these bytes again,
    so the digest of the moved log is the digest of the original."""
    record: dict[str, Any] = {"position": stored.position, "id": stored.id,
                              "recorded_at": stored.recorded_at.isoformat(timespec="microseconds")}
    if stored.recorded_by is not None:  # an old log's export stays byte for byte what it was
        record["recorded_by"] = stored.recorded_by
    record["event"] = orjson.loads(stored.data)
    return record


def parse_export(text: str, name: str) -> list[StoredEvent]:
    """Stored records from an export's text; every problem found, with its line, or nothing."""
    records: list[StoredEvent] = []
    issues: list[Issue] = []
    last_position = 0  # the previous record's, so one misnumbered line is reported once
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{name}:{number}"
        try:
            record = loads_fast(line)
        except orjson.JSONDecodeError as e:
            issues.append(Issue(where, None, f"malformed JSON: {e}"))
            continue
        except JSONTextError as e:
            issues.append(Issue(where, None, f"refused JSON: {e.msg}"))
            continue
        if not isinstance(record, dict) or not {"position", "id", "recorded_at", "event"} <= record.keys():
            issues.append(Issue(where, None, "expected a stored record {position, id, recorded_at, event}",
                                "export one with tracker export (or tracker log --json)"))
            continue
        position, ident, event = record["position"], record["id"], record["event"]
        by = record.get("recorded_by")
        if by is not None and (not isinstance(by, str) or not by):
            issues.append(Issue(where, "recorded_by", f"expected a principal's name or null, got {by!r}"))
            continue
        if not isinstance(position, int) or isinstance(position, bool) or position < 1:
            issues.append(Issue(where, "position", f"expected a whole number >= 1, got {position!r}"))
            continue
        try:
            at = datetime.fromisoformat(str(record["recorded_at"]).replace("Z", "+00:00"))
            if at.tzinfo is None:
                raise ValueError("no time zone")
        except ValueError as e:
            issues.append(Issue(where, "recorded_at", f"not an ISO time with a zone: {e}"))
            continue
        try:
            EVENT_ADAPTER.validate_python(event)
        except ValidationError as e:
            for err in e.errors(include_url=False):
                field = ".".join(str(p) for p in err["loc"])
                issues.append(Issue(where, f"event.{field}" if field else "event", err["msg"]))
            continue
        if not isinstance(ident, str) or (isinstance(event, dict) and event.get("id", ident) != ident):
            issues.append(Issue(where, "id", f"{ident!r} does not match the event's own id {event.get('id')!r}"))
            continue
        expected, last_position = last_position + 1, position
        if position != expected:
            issues.append(Issue(where, "position", f"{position} where {expected} was expected",
                                "an import takes a whole log: positions 1, 2, 3, ... without a gap"))
            continue
        if records and at < records[-1].recorded_at:
            issues.append(Issue(where, "recorded_at",
                                "earlier than the record before it; a log's times never decrease"))
            continue
        records.append(StoredEvent(position, ident, at.astimezone(UTC), event["type"], orjson.dumps(event).decode(),
                                   by))
    if issues:
        raise ValidationFailed(issues)
    return records


async def digest(store: EventStore, upto: int | None = None,
                 progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """The count and a SHA-256 of the canonical log (up to position `upto` if given): equal
    logs, equal digests, any backend.

    One line per event: position, id, recorded_at, type, data, tab-separated. An event with
    a `recorded_by` has it as a field of its own before the type, `by:` and the name as JSON
    text (no event type starts so): the digest of an event without one, and so of every log
    stored before recorded_by existed, is what it always was."""
    sha = hashlib.sha256()
    count = 0
    end = await store.head() if upto is None else min(upto, await store.head())
    async for page in store.iterate(0, page=10_000, upto=end):
        for s in page:
            stamp = s.recorded_at.astimezone(UTC).isoformat(timespec="microseconds")
            by = "" if s.recorded_by is None else f"by:{orjson.dumps(s.recorded_by).decode()}\t"
            sha.update(f"{s.position}\t{s.id}\t{stamp}\t{by}{s.type}\t{s.data}\n".encode())
        count += len(page)
        if progress is not None:
            progress(len(page))
    return {"events": count, "head": end, "sha256": sha.hexdigest()}


async def backup(store: EventStore, path: str) -> dict[str, Any]:
    """Copy a live SQLite store (events and tokens) into the new file `path`, and verify it:
    the copy's digest must equal the source's up to the copy's head (appends may go on
    meanwhile). Returns the copy's digest. Refuses an existing `path`; leaves nothing under it
    if anything fails. A PostgreSQL store is backed up with pg_dump (docs/postgres.md)."""
    from .store import open_store
    from .store.sqlite import SQLiteStore

    if not isinstance(store, SQLiteStore):
        raise InputError(
            f"tracker backup copies SQLite stores; {store.url} is PostgreSQL: back it up with pg_dump "
            "(pg_dump --format=custom --file=tracker.dump DSN; see 'Backup and restore' in docs/postgres.md), "
            "or copy the log alone, without tokens, with tracker export")
    if store.path == ":memory:":
        raise InputError("an in-memory store has no file to back up")
    if os.path.lexists(path):
        raise InputError(f"{path} exists: tracker backup writes a new file, and never over another")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise InputError(f"cannot write {path}: folder {folder} does not exist")
    partial = f"{path}.partial"
    for leftover in (partial, partial + "-wal", partial + "-shm", partial + "-journal"):
        if os.path.lexists(leftover):
            os.unlink(leftover)  # an earlier backup that died half way
    try:
        try:
            await store.backup(partial)
        except OSError as e:
            raise InputError(f"cannot write {path}: {e.strerror or e}") from None
        copy = await open_store(partial)
        try:
            made = await digest(copy)
        finally:
            await copy.close()
        source = await digest(store, upto=made["head"])
        if source != made:
            raise StoreError(f"the backup of {store.url} does not match it (source {source}, copy {made}); "
                             "nothing was left at " + path)
        try:
            os.link(partial, path)  # fails if the name was taken meanwhile: never over another file
        except FileExistsError:
            raise InputError(f"{path} exists: tracker backup writes a new file, and never over another") from None
        except OSError:
            if os.path.lexists(path):
                raise
            os.rename(partial, path)  # a file system without hard links
    finally:
        for leftover in (partial, partial + "-wal", partial + "-shm", partial + "-journal"):
            if os.path.lexists(leftover):
                os.unlink(leftover)
    return made
