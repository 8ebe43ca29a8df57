"""The websocket protocol, sans I/O: requests parsed and checked, replies built, states diffed.

The server (tracker/server/) moves bytes; this module decides what they mean, so every
rule of docs/protocol.md is testable without a socket. Messages are JSON text objects;
every request may carry a `ref`, echoed in its reply.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from . import filters, history
from .batch import MAX_EVENT_BYTES
from .dates import parse_as_of, parse_known_at
from .errors import BadQuery, TrackerError
from .filters import EVERYTHING, Filter
from .jsontext import MAX_INT, JSONTextError, loads_fast
from .projections import PROJECTIONS, Projection
from .summary import summarize, summary_parts, when

OPS = ("subscribe", "unsubscribe", "query", "history", "append", "auth", "catalog", "diff")
MAX_MESSAGE_BYTES = MAX_EVENT_BYTES  # a frame over this closes the connection with 1009
MAX_POSITION = MAX_INT  # positions are 64-bit signed integers in every store
MAX_REF_DEPTH = 16  # a `ref` is echoed in the reply: it is checked before anything is done
MAX_REF_BYTES = 1024
MAX_IDEMPOTENCY_KEY = 200  # characters

# The fields each request may carry; any other is refused (`bad_request`, naming the nearest).
# `subscribe` has two forms, each with its own fields.
COMMON_FIELDS = ("op", "ref")
VIEW_FIELDS = ("projection", "as_of", "known_at", "recorded_at")
FIELDS: dict[str, tuple[str, ...]] = {
    "subscribe stream": (*COMMON_FIELDS, "stream", "after", *filters.EVENT_FIELDS),
    "subscribe projection": (*COMMON_FIELDS, *VIEW_FIELDS, *filters.FIELDS),
    "unsubscribe": (*COMMON_FIELDS, "subscription"),
    "query": (*COMMON_FIELDS, *VIEW_FIELDS, *filters.FIELDS),
    "history": (*COMMON_FIELDS, *VIEW_FIELDS, "place", "actor", "limit", "before"),
    "append": (*COMMON_FIELDS, "events", "expected_position", "idempotency_key"),
    "auth": (*COMMON_FIELDS, "token"),
    "catalog": COMMON_FIELDS,
    "diff": (*COMMON_FIELDS, "from", "to", "known_at"),  # its values are checked where it is answered
}


class ProtocolError(TrackerError):
    """A request the server cannot act on; sent back as an error, the connection stays open."""

    def __init__(self, code: str, message: str, **details: object) -> None:
        super().__init__(message, **details)
        self.code = code


@dataclass(frozen=True, slots=True)
class View:
    """What a projection subscriber or query looks at: one projection, at a date, as known then,
    from the log as it stood at `recorded_at` (None: the whole log)."""

    projection: str
    as_of: str | None
    known_at: datetime | None
    recorded_at: datetime | None = None
    filter: Filter = EVERYTHING  # only the entries it keeps (core/filters.py)


@dataclass(frozen=True, slots=True)
class Request:
    op: str
    ref: Any
    body: dict[str, Any]
    view: View | None = None  # for a projection subscribe or a query
    after: int | None = None  # for an events subscribe
    subscription: str | None = None  # for unsubscribe
    events: list[Any] | None = None  # for append
    expected_position: int | None = None
    idempotency_key: str | None = None  # for append: ids derived from it for events without one
    token: str | None = None  # for auth
    filter: Filter = EVERYTHING  # for an events subscribe: only the events it keeps
    entry: tuple | None = None  # for history: the entry's key fields' values
    limit: int | None = None  # for history
    before: int | None = None  # for history: the previous page's `next_before`


def parse_request(text: str | bytes) -> Request:
    """A request from one text frame, or a ProtocolError that says what is wrong and where."""
    if isinstance(text, bytes):
        raise ProtocolError("bad_request", "binary frames are not part of the protocol: send JSON as text")
    try:
        body = loads_fast(text)
    except orjson.JSONDecodeError as e:
        raise ProtocolError("bad_request", f"malformed JSON: {e}") from None
    except JSONTextError as e:
        details = {"field": e.key} if e.key is not None else {}
        raise ProtocolError("bad_request", f"malformed request: {e.msg}", **details) from None
    if not isinstance(body, dict):
        raise ProtocolError("bad_request", f"a request is a JSON object with an 'op', got {_kind(body)}")
    ref = body.get("ref")
    check_ref(ref)
    op = body.get("op")
    if not isinstance(op, str):
        raise ProtocolError("bad_request", "missing 'op': one of " + ", ".join(OPS), ref=ref)
    try:
        return _PARSERS[op](op, ref, body) if op in _PARSERS else _unknown(op, ref)
    except BadQuery as e:
        raise ProtocolError("bad_request", e.message, ref=ref, **e.details) from None


def check_ref(ref: Any) -> None:
    """A `ref` the reply can echo: at most MAX_REF_DEPTH levels deep and MAX_REF_BYTES as JSON.
    Refused before the request is acted on (the refusal does not echo it)."""
    depth = _depth(ref, MAX_REF_DEPTH + 1)
    if depth > MAX_REF_DEPTH:
        raise ProtocolError("bad_request", f"'ref' is nested more than {MAX_REF_DEPTH} levels deep; "
                            "a ref is echoed in the reply: keep it small", field="ref", limit=MAX_REF_DEPTH)
    size = len(orjson.dumps(ref))
    if size > MAX_REF_BYTES:
        raise ProtocolError("bad_request", f"'ref' is {size:,} bytes as JSON, over the {MAX_REF_BYTES:,}-byte "
                            "limit; a ref is echoed in the reply: keep it small", field="ref", limit=MAX_REF_BYTES)


def _depth(value: Any, stop: int) -> int:
    """How deeply `value` nests lists and objects (a scalar: 0), counted up to `stop`."""
    if stop <= 0 or not isinstance(value, dict | list):
        return 0
    children = value.values() if isinstance(value, dict) else value
    return 1 + max((_depth(c, stop - 1) for c in children), default=0)


def nearest(name: str, allowed: Iterable[str]) -> str | None:
    """The allowed name closest to `name` (difflib), or None when none is close."""
    allowed = list(allowed)
    lowered = {a.lower(): a for a in allowed}
    found = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[found[0]] if found else None


def check_fields(given: Iterable[str], allowed: Sequence[str], what: str, noun: str = "field",
                 ref: Any = None) -> None:
    """Refuse the first name in `given` that `allowed` lacks: `bad_request`, with
    `details` {"field": the name, "suggestion": the nearest allowed name or None}.
    `what` names the request ("op 'query'", "GET /api/events"); `noun` what the names are."""
    for name in given:
        if name in allowed:
            continue
        suggestion = nearest(name, allowed)
        hint = f" (did you mean '{suggestion}'?)" if suggestion else ""
        takes = f"it takes {', '.join(allowed)}" if allowed else f"it takes no {noun}s"
        raise ProtocolError("bad_request", f"{what} has no {noun} '{name}'{hint}; {takes}",
                            ref=ref, field=name, suggestion=suggestion)


def after_beyond_head(after: int, head: int, ref: Any = None) -> ProtocolError:
    """The refusal of an `after` past the log's head (an events subscribe, GET /api/events)."""
    return ProtocolError("bad_request", f"'after' is {after}, beyond the log's head at position {head}: positions "
                         f"start at 1 and end at the head, so 'after' is at most {head} (0 for everything)",
                         ref=ref, field="after", head=head)


def _unknown(op: str, ref: Any) -> Request:
    raise ProtocolError("unknown_op", f"unknown op '{op}': one of {', '.join(OPS)}", ref=ref, op=op)


def _subscribe(op: str, ref: Any, body: dict[str, Any]) -> Request:
    if "stream" in body and "projection" in body:
        raise ProtocolError("bad_request", "subscribe to a 'stream' or a 'projection', not both", ref=ref)
    if "stream" in body:
        check_fields(body, FIELDS["subscribe stream"], "op 'subscribe' (to the events stream)", ref=ref)
        if body["stream"] != "events":
            raise ProtocolError("bad_request", f"unknown stream {body['stream']!r}: the only stream is \"events\"",
                                ref=ref, field="stream")
        return Request(op, ref, body, after=_position(body, "after", ref, default=0),
                       filter=filters.parse(body.get, events=True))
    if "projection" in body:
        check_fields(body, FIELDS["subscribe projection"], "op 'subscribe' (to a projection)", ref=ref)
        return Request(op, ref, body, view=_view(body, ref, filtered=True))
    check_fields(body, tuple(dict.fromkeys((*FIELDS["subscribe stream"], *FIELDS["subscribe projection"]))),
                 "op 'subscribe'", ref=ref)
    raise ProtocolError("bad_request", 'subscribe needs "stream": "events" or "projection": '
                        + " | ".join(f'"{p}"' for p in PROJECTIONS), ref=ref)


def _query(op: str, ref: Any, body: dict[str, Any]) -> Request:
    check_fields(body, FIELDS[op], f"op '{op}'", ref=ref)
    return Request(op, ref, body, view=_view(body, ref, filtered=True))


def _history(op: str, ref: Any, body: dict[str, Any]) -> Request:
    check_fields(body, FIELDS[op], f"op '{op}'", ref=ref)
    view = _view(body, ref)
    return Request(op, ref, body, view=view, entry=history.entry_of(view.projection, body.get),
                   limit=history.limit_of(body.get("limit")), before=_position(body, "before", ref, default=None))


def _unsubscribe(op: str, ref: Any, body: dict[str, Any]) -> Request:
    check_fields(body, FIELDS[op], f"op '{op}'", ref=ref)
    subscription = body.get("subscription")
    if not isinstance(subscription, str):
        raise ProtocolError("bad_request",
                            "unsubscribe needs the 'subscription' id its subscribe was acknowledged with",
                            ref=ref, field="subscription")
    return Request(op, ref, body, subscription=subscription)


def _append(op: str, ref: Any, body: dict[str, Any]) -> Request:
    check_fields(body, FIELDS[op], f"op '{op}'", ref=ref)
    events = body.get("events")
    if not isinstance(events, list) or not events:
        raise ProtocolError("bad_request", "append needs 'events': a non-empty list of events or reports",
                            ref=ref, field="events")
    expected = _position(body, "expected_position", ref, default=None)
    key = body.get("idempotency_key")
    if key is not None and (not isinstance(key, str) or not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY):
        raise ProtocolError("bad_request", "'idempotency_key' must be a string of 1 to "
                            f"{MAX_IDEMPOTENCY_KEY} characters, fresh for each new append and the same on its "
                            f"retries; got {_kind(key) if not isinstance(key, str) else f'{len(key)} characters'}",
                            ref=ref, field="idempotency_key")
    return Request(op, ref, body, events=events, expected_position=expected, idempotency_key=key)


def _auth(op: str, ref: Any, body: dict[str, Any]) -> Request:
    check_fields(body, FIELDS[op], f"op '{op}'", ref=ref)
    token = body.get("token")
    if not isinstance(token, str) or not token:
        raise ProtocolError("bad_request", "auth needs 'token': the server's write token", ref=ref, field="token")
    return Request(op, ref, body, token=token)


def _catalog(op: str, ref: Any, body: dict[str, Any]) -> Request:
    check_fields(body, FIELDS[op], f"op '{op}'", ref=ref)
    return Request(op, ref, body)


_PARSERS = {"subscribe": _subscribe, "unsubscribe": _unsubscribe, "query": _query, "history": _history,
            "append": _append, "auth": _auth, "catalog": _catalog, "diff": _catalog}


def _position(body: dict[str, Any], field: str, ref: Any, default: int | None) -> int | None:
    value = body.get(field, default)
    if value is None and default is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_POSITION:
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:40] + "..."
        raise ProtocolError("bad_request", f"'{field}' must be a log position: a whole number from 0 to "
                            f"{MAX_POSITION} (2^63 - 1), got {shown}", ref=ref, field=field)
    return value


def _view(body: dict[str, Any], ref: Any, filtered: bool = False) -> View:
    name = body.get("projection")
    if not isinstance(name, str) or name not in PROJECTIONS:  # a list or an object is unhashable
        raise ProtocolError("bad_request", f"unknown projection {name!r}: one of {', '.join(PROJECTIONS)}",
                            ref=ref, field="projection")
    return view(name, body.get, ref, filtered)


def view(name: str, get: Any, ref: Any = None, filtered: bool = False) -> View:
    """A View of projection `name` from its times, each read with `get(field)` (a request's
    fields, or an HTTP query's parameters): `as_of` a date (YYYY-MM and YYYY mean the end of
    that month or year); `known_at` and `recorded_at` a date (the end of that day, UTC) or a time."""
    times = {}
    for field in ("as_of", "known_at", "recorded_at"):
        value = get(field)
        if value is not None and not isinstance(value, str):
            raise ProtocolError("bad_request", f"'{field}' must be null or an ISO date string, got {value!r}",
                                ref=ref, field=field)
        times[field] = value
    return View(name, parse_as_of(times["as_of"], "as_of"), parse_known_at(times["known_at"], "known_at"),
                parse_known_at(times["recorded_at"], "recorded_at"), filters.parse(get) if filtered else Filter())


def _kind(value: Any) -> str:
    return {list: "a list", str: "a string", type(None): "null", bool: "a boolean",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)


# Replies. Each is built once and, where it is the same for every subscriber, sent as is.

def dumps(message: dict[str, Any]) -> str:
    return orjson.dumps(message).decode()


def reply(kind: str, ref: Any = None, **fields: Any) -> str:
    message = {"type": kind, **fields}
    if ref is not None:
        message["ref"] = ref
    return dumps(message)


def error(err: TrackerError, ref: Any = None) -> str:
    details = {k: v for k, v in err.details.items() if k != "ref"}
    return reply("error", ref if ref is not None else err.details.get("ref"),
                 code=err.code, message=err.message, details=details)


def event_body(position: int, recorded_at: str, event: dict[str, Any], recorded_by: str | None = None) -> bytes:
    """The part of an event message every subscriber shares, serialised once: with the event,
    who appended it (`recorded_by`, null for events stored before the log recorded it), its
    `summary` (what `tracker log` prints), `summary_parts` (the same, references marked) and
    `when` (its "occurred" column)."""
    return orjson.dumps({"position": position, "recorded_at": recorded_at, "recorded_by": recorded_by,
                         "event": event, **described(event)})


def described(event: dict[str, Any]) -> dict[str, Any]:
    """The fields that say an event in prose (summary.py): `summary` and `summary_parts`, what
    happened, and `when`, when it happened ("10 June 2014", "June 2014", "between 3 and 8 June
    2014"; "-" for a registration or retraction), as `tracker log` prints them."""
    return {"summary": summarize(event), "summary_parts": summary_parts(event), "when": when(event)}


def event_prefix(subscription: str) -> bytes:
    """The start of a subscription's event messages: its message is prefix + body[1:]."""
    return b'{"type":"event","subscription":' + orjson.dumps(subscription) + b","


def event_message(subscription: str, body: bytes) -> str:
    """`{"type": "event", "subscription": ..., <body>}` without serialising the body again."""
    return (event_prefix(subscription) + body[1:]).decode()


def snapshot(view: View, state: dict[str, Any], subscription: str | None = None, ref: Any = None) -> str:
    projection = PROJECTIONS[view.projection]
    fields: dict[str, Any] = {"projection": view.projection, "position": state["position"],
                              "key": list(projection.key_fields), "collection": projection.collection, "state": state}
    if subscription is not None:
        fields["subscription"] = subscription
    return reply("snapshot", ref, **fields)


def diff(projection: Projection, old: dict[str, Any], new: dict[str, Any]) -> tuple[list, list]:
    """(changed, removed) between two renderings of one projection: changed entries in full,
    removed ones by their key fields. Applying them to `old` gives `new` exactly."""
    collection, key = projection.collection, projection.key
    before = {key(e): e for e in old[projection.collection]}
    after = {key(e): e for e in new[collection]}
    changed = [e for k, e in after.items() if before.get(k) != e]
    removed = [dict(zip(projection.key_fields, k, strict=True)) for k in before if k not in after]
    return changed, removed


def apply_update(projection: Projection, state: dict[str, Any], changed: list, removed: list,
                 position: int, as_of: str | None = None) -> dict[str, Any]:
    """What a client does with an update: the reference for tests and for `tracker watch`.
    `as_of`: the update's, when given (a view of today moves to the next day at midnight UTC)."""
    key = projection.key
    entries = {key(e): e for e in state[projection.collection]}
    for r in removed:
        entries.pop(tuple(r[f] for f in projection.key_fields), None)
    for e in changed:
        entries[key(e)] = e
    moved = {"as_of": as_of} if as_of is not None else {}
    return {**state, "position": position, **moved,
            projection.collection: [entries[k] for k in sorted(entries, key=_sortable)]}


def _sortable(key: tuple) -> tuple:
    return tuple("" if k is None else str(k) for k in key)
