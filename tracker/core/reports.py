"""Reading report files into located items: JSON Lines, JSON or YAML, events or reports.

A report is `{"reported_on", "source", "events": [...]}`: an analyst's one article as many
facts. Each event inherits `reported_on` and `sources: [source]` unless it gives its own.
Pure: text in, items out; every item knows its file and line for error messages.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from . import jsontext
from .batch import Item
from .errors import Issue, ValidationFailed
from .jsontext import JSONTextError

REPORT_KEYS = frozenset({"reported_on", "source", "events"})
_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()
# A YAML document's size with every alias expanded, in nodes: anchors and merge keys are
# fine, a few hundred bytes of nested aliases that expand to billions of nodes are not.
MAX_YAML_NODES = 1_000_000


def parse(text: str, name: str) -> list[Item]:
    """Items from one file's text; its suffix picks the format, else its content does."""
    lower = name.lower()
    if lower.endswith((".jsonl", ".ndjson")):
        return _jsonl(text, name)
    if lower.endswith((".yaml", ".yml")):
        return _yaml(text, name)
    if lower.endswith(".json"):
        return _json(text, name)
    stripped = text.lstrip()
    if stripped[:1] in ("{", "["):
        try:
            _loads(text)
        except json.JSONDecodeError as e:
            if e.msg == "Extra data":
                return _jsonl(text, name)
        except JSONTextError:
            pass
        return _json(text, name)
    return _yaml(text, name)


def from_objects(objects: list[Any], name: str = "events") -> list[Item]:
    """Items from already-parsed JSON (the socket's `append`): events, or reports of events."""
    items: list[Item] = []
    issues: list[Issue] = []
    for index, data in enumerate(objects):
        where = f"{name}[{index}]"
        if isinstance(data, dict) and "events" in data and "type" not in data:
            items += [Item(w, d) for w, d in _expand(data, where, lambda i, w=where: f"{w}.events[{i}]", issues)]
        else:
            items.append(Item(where, data))
    if issues:
        raise ValidationFailed(issues)
    return items


def _loads(text: str) -> Any:
    """json.loads, strictly (jsontext.py): a duplicate key, a huge integer or nesting deep
    enough to exhaust the stack is refused input, not a crash or a silent choice."""
    return jsontext.loads(text)


def _jsonl(text: str, name: str) -> list[Item]:
    items: list[Item] = []
    issues: list[Issue] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{name}:{number}"
        try:
            data = _loads(line)
        except json.JSONDecodeError as e:
            issues.append(Issue(where, None, f"malformed JSON: {e.msg} at column {e.colno}"))
            continue
        except JSONTextError as e:
            issues.append(Issue(where, None, f"refused JSON: {e.msg}"))
            continue
        size = len(line.encode())
        if isinstance(data, dict) and "events" in data:
            found = _expand(data, where, lambda i, where=where: f"{where} (events[{i}])", issues)
            items += [Item(w, d, None) for w, d in found]
        else:
            items.append(Item(where, data, size))
    if issues:
        raise ValidationFailed(issues)
    return items


def _json(text: str, name: str) -> list[Item]:
    try:
        data = _loads(text)
    except json.JSONDecodeError as e:
        issue = Issue(f"{name}:{e.lineno}", None, f"malformed JSON: {e.msg} at column {e.colno}")
        raise ValidationFailed([issue]) from None
    except JSONTextError as e:
        raise ValidationFailed([Issue(name, None, f"refused JSON: {e.msg}")]) from None
    start = _skip_ws(text, 0)
    line = lambda offset: text.count("\n", 0, offset) + 1  # noqa: E731
    issues: list[Issue] = []
    if isinstance(data, list):
        offsets = _array_offsets(text, start)
        items = [Item(f"{name}:{line(o)}", d) for o, d in zip(offsets, data, strict=True)]
    elif isinstance(data, dict) and "events" in data:
        member = _member_offset(text, start, "events")
        offsets = _array_offsets(text, member) if member is not None and text[member] == "[" else []
        where = lambda i: f"{name}:{line(offsets[i])} (events[{i}])" if i < len(offsets) else f"{name} (events[{i}])"  # noqa: E731
        items = [Item(w, d) for w, d in _expand(data, f"{name}:{line(start)}", where, issues)]
    else:
        items = [Item(f"{name}:{line(start)}", data)]
    if issues:
        raise ValidationFailed(issues)
    return items


def _yaml(text: str, name: str) -> list[Item]:
    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            if node is not None:
                _check_expanded_size(node, name)
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{name}:{mark.line + 1}" if mark else name
        reason = getattr(e, "problem", None) or str(e)
        raise ValidationFailed([Issue(where, None, f"malformed YAML: {reason}")]) from None
    except RecursionError:
        raise ValidationFailed([Issue(name, None, "malformed YAML: nested too deeply")]) from None
    if node is None or data is None:
        return []
    issues: list[Issue] = []
    if isinstance(data, list):
        items = [Item(f"{name}:{n.start_mark.line + 1}", d) for n, d in zip(node.value, data, strict=True)]
    elif isinstance(data, dict) and "events" in data:
        events_node = next((v for k, v in node.value if k.value == "events"), None)
        lines = [n.start_mark.line + 1 for n in events_node.value] if isinstance(events_node, yaml.SequenceNode) else []
        event_at = lambda i: f"{name}:{lines[i]} (events[{i}])" if i < len(lines) else f"{name} (events[{i}])"  # noqa: E731
        items = [Item(w, d) for w, d in _expand(data, f"{name}:{node.start_mark.line + 1}", event_at, issues)]
    else:
        items = [Item(f"{name}:{node.start_mark.line + 1}", data)]
    if issues:
        raise ValidationFailed(issues)
    return items


def _check_expanded_size(root: yaml.Node, name: str) -> None:
    """Refuse a document whose aliases expand past MAX_YAML_NODES nodes, or refer to
    themselves, before constructing it: the composed graph is small, its expansion need not be."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in open_nodes:
            raise ValidationFailed([Issue(f"{name}:{node.start_mark.line + 1}", None,
                                          "malformed YAML: an alias refers to the node that holds it")])
        open_nodes.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            for child in node.value:
                total += size(child)
                if total > MAX_YAML_NODES:
                    break
        elif isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                total += size(k) + size(v)
                if total > MAX_YAML_NODES:
                    break
        open_nodes.discard(key)
        sizes[key] = total
        if total > MAX_YAML_NODES:
            raise ValidationFailed([Issue(f"{name}:{node.start_mark.line + 1}", None,
                                          f"YAML aliases expand this document past {MAX_YAML_NODES:,} nodes",
                                          "write the data out, or use fewer nested aliases")])
        return total

    size(root)


def _expand(report: dict[str, Any], where: str, where_event, issues: list[Issue]) -> list[tuple[str, Any]]:
    """A report's events, each with the report's `reported_on` and source unless it has its own."""
    for key in report:
        if key not in REPORT_KEYS:
            issues.append(Issue(where, str(key), "unknown field for a report",
                                "a report has reported_on, source and events; event fields go inside events"))
    events, source = report.get("events"), report.get("source")
    if not isinstance(events, list):
        issues.append(Issue(where, "events", f"expected a list of events, got {type(events).__name__}"))
        return []
    if source is not None and not isinstance(source, dict):
        issues.append(Issue(where, "source", "expected an object with publisher, title, url, published_on, quote"))
        return []
    out = []
    for index, event in enumerate(events):
        if isinstance(event, dict):
            event = dict(event)
            if "reported_on" in report and "reported_on" not in event:
                event["reported_on"] = report["reported_on"]
            if source is not None and "sources" not in event:
                event["sources"] = [source]
        out.append((where_event(index), event))
    return out


def _skip_ws(text: str, at: int) -> int:
    """The offset of the first character at or after `at` that is not JSON whitespace."""
    match = _WS.match(text, at)
    assert match is not None  # the pattern matches the empty string, so it always matches
    return match.end()


def _array_offsets(text: str, start: int) -> list[int]:
    """Where each element of the JSON array opening at `start` begins (the text parses)."""
    offsets: list[int] = []
    at = _skip_ws(text, start + 1)
    if text[at] == "]":
        return offsets
    while True:
        offsets.append(at)
        _, at = _DECODER.raw_decode(text, at)
        at = _skip_ws(text, at)
        if text[at] != ",":
            return offsets
        at = _skip_ws(text, at + 1)


def _member_offset(text: str, start: int, key: str) -> int | None:
    """Where the value of `key` in the JSON object opening at `start` begins."""
    at = _skip_ws(text, start + 1)
    while text[at] != "}":
        name, at = _DECODER.raw_decode(text, at)
        at = _skip_ws(text, at) + 1  # past ':'
        at = _skip_ws(text, at)
        if name == key:
            return at
        _, at = _DECODER.raw_decode(text, at)
        at = _skip_ws(text, at)
        if text[at] == ",":
            at = _skip_ws(text, at + 1)
    return None
