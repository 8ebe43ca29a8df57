"""The published JSON Schema (2020-12): events, and the report files people write around them.

One document, so that an editor, the dashboard's form (tracker/web/schema.js), an integrator's
validator and `tracker schema` all read the same thing. Its root validates a report file (a
report, one event, or a list of events: what `tracker append` reads, reports.py); `$defs`
name the parts others point at: `Event` (one stored or appended fact), `Report`,
`AppendItem` (a JSON Lines line, an item of the websocket's `append`), and each event type.

The events' definitions come from the pydantic models (events.py), the one source of truth
for their fields; this module only adds what a report file is. Beyond standard JSON Schema:
`"x-reference": "actor" | "place"` on a field that names one, `"x-registers"` on the
registration types, `"x-untimed"` on the types without a time. Only keywords that JSON Schema
draft-07 knows too (no `discriminator`, no `$ref` beside other keywords), so that the AsyncAPI
and OpenAPI documents (docs/) can include its parts as they are. Pure: no I/O.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

from .events import EVENT_ADAPTER, EVENT_TYPES

DIALECT = "https://json-schema.org/draft/2020-12/schema"
# A name, not a place to fetch from: the document is served at /api/schema by every server
# and printed by `tracker schema`; a copy of it is docs/schema.json.
SCHEMA_ID = "urn:tracker:schema"

_DATE = {"type": "string", "format": "date"}


def json_schema() -> dict[str, Any]:
    """The whole document (a fresh copy: callers may change it)."""
    return copy.deepcopy(_document())


@functools.cache
def _document() -> dict[str, Any]:
    events = EVENT_ADAPTER.json_schema()
    defs: dict[str, Any] = events["$defs"]
    for name in EVENT_TYPES:  # `sources` is required of an event, not of one in a report that has a source
        required = [f for f in defs[name].get("required", []) if f != "sources"]
        defs[name]["required"] = required
    types = [ref["$ref"].rsplit("/", 1)[-1] for ref in events["oneOf"]]  # the models' order: the form's
    defs["Event"] = {
        "title": "Event",
        "description": "One reported fact, selected by `type`: as appended (a file, the websocket's `append`) "
                       "and as stored (`tracker log --json`, the websocket's `event` messages). Every event "
                       "names at least one source.",
        **_union(types, ["type", "sources"])}
    defs["ReportEvent"] = {
        "title": "Event in a report",
        "description": "An event inside a report that has a `source`: `sources` and `reported_on` default "
                       "to the report's.",
        **_union(types, ["type"])}
    defs["Report"] = {
        "title": "Report",
        "description": "One article's facts: each event inherits the report's `reported_on` and "
                       "`sources: [source]` unless it gives its own. Without a `source`, every event names "
                       "its own `sources`.",
        "type": "object", "required": ["events"], "additionalProperties": False,
        "properties": {
            "reported_on": {"anyOf": [_DATE, {"type": "null"}],
                            "description": "When the article was published: YYYY-MM-DD."},
            "source": {"anyOf": [{"$ref": "#/$defs/Source"}, {"type": "null"}],
                       "description": "The article the events come from."},
            "events": {"type": "array", "description": "The facts the article states, in any order."},
        },
        "if": {"required": ["source"], "properties": {"source": {"type": "object"}}},
        "then": {"properties": {"events": {"items": {"$ref": "#/$defs/ReportEvent"}}}},
        "else": {"properties": {"events": {"items": {"$ref": "#/$defs/Event"}}}},
    }
    defs["AppendItem"] = {
        "title": "Event or report",
        "description": "A line of a JSON Lines file, or an item of the websocket's `append`: an object with "
                       "`events` is a report, any other an event.",
        "if": {"type": "object", "required": ["events"]},
        "then": {"$ref": "#/$defs/Report"},
        "else": {"$ref": "#/$defs/Event"},
    }
    return {
        "$schema": DIALECT,
        "$id": SCHEMA_ID,
        "title": "tracker report file",
        "description": "A file `tracker append` reads (YAML or JSON): a report (`reported_on`, `source`, "
                       "`events`), one event, or a list of events. Names of actors and places (fields marked "
                       "x-reference) are checked against the catalog when appended, not here.",
        "if": {"type": "array"},
        "then": {"items": {"$ref": "#/$defs/Event"}},
        "else": {"$ref": "#/$defs/AppendItem"},
        "$defs": dict(sorted(defs.items())),
    }


def _union(types: list[str], required: list[str]) -> dict[str, Any]:
    """One of the event types, picked by `type`: `if`/`then` per type rather than `oneOf`, so
    that a validator (an editor's too) names the one field at fault, not every type it is not.
    The `type` enum lists them in the models' order (the dashboard's form offers them so)."""
    return {
        "type": "object", "required": required,
        "properties": {"type": {"enum": types, "description": "What kind of fact: selects the fields."}},
        "allOf": [{"if": {"properties": {"type": {"const": t}}, "required": ["type"]},
                   "then": {"$ref": f"#/$defs/{t}"}} for t in types],
    }
