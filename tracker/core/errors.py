"""The error tree. Every error a user can cause is one of these, with a message to act on.

    TrackerError                      base; `exit_code` is what the CLI exits with
    ├── InputError (2)                the request itself is wrong; retrying it will not help
    │   ├── ValidationFailed          one or more records of a batch are invalid; `.issues`
    │   ├── BadQuery                  a bad --as-of / --known-at / projection name
    │   └── BadStoreURL               a --db / TRACKER_DB value that names no store we support
    ├── ConflictError (3)             the request is valid but collides with the log
    │   ├── IdConflict                an event id already stored with other content
    │   ├── PositionConflict          `expected_position` is no longer the log's head
    │   ├── LogNotEmpty               an import into a log that already has events
    │   └── TokenExists               a token name already given (revoked or not: never reused)
    └── StoreError (4)                the store cannot do its job
        ├── StoreUnavailable          cannot open or reach the store
        ├── StoreNotFound             a reading command pointed at a SQLite file that does not exist
        └── SchemaVersionError        the store was written by a newer tracker

Drivers' own exceptions never cross the store boundary: each backend translates them
(`raise StoreUnavailable(...) from e`), so callers handle one tree whatever the backend.
"""

from __future__ import annotations

from dataclasses import dataclass


class TrackerError(Exception):
    exit_code = 1
    code = "internal"  # stable machine-readable code, used on the wire

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def __str__(self) -> str:
        return self.message


class InputError(TrackerError):
    exit_code = 2
    code = "bad_request"


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem with one record: where it is, which field, why, and what to try."""

    where: str  # "reports.jsonl:3", "report.yaml:12 (events[4])"
    field: str | None
    reason: str
    suggestion: str | None = None

    def __str__(self) -> str:
        text = self.where + ": "
        if self.field:
            text += f"field '{self.field}': "
        text += self.reason
        if self.suggestion:
            text += f" ({self.suggestion})"
        return text

    def as_dict(self) -> dict[str, str | None]:
        return {"where": self.where, "field": self.field, "reason": self.reason, "suggestion": self.suggestion}


class ValidationFailed(InputError):
    """Raised with every issue found in a batch; nothing of the batch is stored."""

    code = "validation_error"

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = list(issues)
        count = len({issue.where for issue in self.issues})
        problems = len(self.issues)
        head = (f"{count} invalid record{'s' if count != 1 else ''}"
                f"{f' ({problems} problems)' if problems != count else ''}; nothing was stored")
        super().__init__(head + "\n" + "\n".join(f"  {issue}" for issue in self.issues),
                         issues=[issue.as_dict() for issue in self.issues])


class BadQuery(InputError):
    pass


class BadStoreURL(InputError):
    pass


class ConflictError(TrackerError):
    exit_code = 3
    code = "conflict"


class IdConflict(ConflictError):
    def __init__(self, event_id: str, position: int) -> None:
        super().__init__(
            f"event id {event_id} is already stored at position {position} with other content; "
            "events are immutable: give the new event a new id, or retract the old one with EventRetracted",
            id=event_id, position=position)


class PositionConflict(ConflictError):
    def __init__(self, expected: int, actual: int) -> None:
        super().__init__(
            f"expected the log's head at position {expected}, but it is at {actual}: "
            "someone appended first; read the new events and retry",
            expected_position=expected, head=actual)


class LogNotEmpty(ConflictError):
    def __init__(self, head: int, where: str) -> None:
        super().__init__(
            f"{where} already holds {head} event{'s' if head != 1 else ''}: an import keeps positions, "
            "so it needs an empty log; import into a new store, or compare the two with tracker verify",
            head=head)


class TokenExists(ConflictError):
    def __init__(self, name: str, revoked: bool) -> None:
        super().__init__(
            f"a token named '{name}' {'was revoked' if revoked else 'already exists'}: a token name is given "
            "once and never reused, so the audit trail (recorded_by) always means one principal; choose another name",
            name=name, revoked=revoked)


class StoreError(TrackerError):
    exit_code = 4
    code = "unavailable"


class StoreUnavailable(StoreError):
    pass


class SchemaVersionError(StoreError):
    code = "schema_version"


class StoreNotFound(StoreError):
    """A command that reads a store was pointed at one that does not exist: refused rather
    than creating an empty one that would answer "nothing recorded"."""

    code = "store_not_found"
