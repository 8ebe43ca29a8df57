"""Moving a log between stores: `tracker export`, `tracker import`, `tracker verify`.

An export is JSON Lines of stored records, `{"position", "id", "recorded_at", "event"}`,
as `tracker log --json` prints them. An import loads them into an empty store keeping all
three, so positions, idempotency ids and knowledge times survive a move from SQLite to
PostgreSQL. `verify` digests the canonical log (position, id, recorded_at, type and the
stored JSON text, byte for byte), so two stores can be compared with one line each.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import ValidationError

from .core.errors import Issue, ValidationFailed
from .core.events import EVENT_ADAPTER
from .core.jsontext import JSONTextError, loads_fast
from .store import EventStore, StoredEvent


async def export(store: EventStore, write: Callable[[str], Any]) -> int:
    count = 0
    async for page in store.iterate(0, page=10_000):
        write("".join(orjson.dumps(_stored_json(s)).decode() + "\n"
                      for s in page))
        count += len(page)
    return count


def _stored_json(stored: StoredEvent) -> dict[str, Any]:
    """A record with its event as stored, never upcast: an import stores these bytes again,
    so the digest of the moved log is the digest of the original."""
    return {"position": stored.position, "id": stored.id,
            "recorded_at": stored.recorded_at.isoformat(timespec="microseconds"), "event": orjson.loads(stored.data)}


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
        records.append(StoredEvent(position, ident, at.astimezone(UTC), event["type"], orjson.dumps(event).decode()))
    if issues:
        raise ValidationFailed(issues)
    return records


async def digest(store: EventStore) -> dict[str, Any]:
    """The count and a SHA-256 of the canonical log: equal logs, equal digests, any backend."""
    sha = hashlib.sha256()
    count = 0
    async for page in store.iterate(0, page=10_000):
        for s in page:
            stamp = s.recorded_at.astimezone(UTC).isoformat(timespec="microseconds")
            sha.update(f"{s.position}\t{s.id}\t{stamp}\t{s.type}\t{s.data}\n".encode())
        count += len(page)
    return {"events": count, "head": await store.head(), "sha256": sha.hexdigest()}
