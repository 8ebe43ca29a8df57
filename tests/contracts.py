"""The published contracts as the tests hold the server to them.

`MessageContract` validates a message the server sent on the websocket against the message of
its `type` in the AsyncAPI document (bundled, as /api/asyncapi.json serves it); `Recorder`
collects every text frame the test clients receive (conftest's `client()` connects with
`RecordingConnection`, test_fuzz's threaded client with `SyncRecordingConnection`), and
conftest checks each test's frames when the test ends. So a
message the server sends in any test, in a shape the document does not give (a new field, a
new type, a new error code), fails that test with a message naming the message, the field and
the file to update.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from websockets.asyncio.client import ClientConnection
from websockets.frames import Frame, Opcode
from websockets.sync.client import ClientConnection as SyncClientConnection

from tracker.contracts import bundle

ASYNCAPI = "docs/asyncapi.yaml"


def server_messages(document: dict[str, Any]) -> dict[str, str]:
    """The messages the server sends, by name -> their pointer: those of `send` operations and
    of every operation's reply."""
    names: dict[str, str] = {}
    for operation in document.get("operations", {}).values():
        refs = list(operation.get("messages", [])) if operation.get("action") == "send" else []
        refs += operation.get("reply", {}).get("messages", [])
        for ref in refs:
            channel_message = _at(document, ref["$ref"])
            pointer = channel_message.get("$ref", ref["$ref"])
            names[pointer.rsplit("/", 1)[-1]] = pointer
    return names


def _at(document: dict[str, Any], ref: str) -> Any:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


class MessageContract:
    """Validators for the server's messages, picked by each message's `type` (its payload's `type` const)."""

    def __init__(self, document: dict[str, Any] | None = None) -> None:
        self.document = document if document is not None else bundle("asyncapi.yaml")
        components = self.document["components"]
        # (message name, the validator that explains, the one that decides: jsonschema_rs, some
        # 200 times faster, so that checking every message of the suite costs little)
        self.by_type: dict[str, list[tuple[str, Draft202012Validator, Any]]] = {}
        for name, pointer in server_messages(self.document).items():
            schema = {"$ref": f"{pointer}/payload", "components": components}
            payload = _at(self.document, f"{pointer}/payload")
            if "$ref" in payload:
                payload = _at(self.document, payload["$ref"])
            kind = payload.get("properties", {}).get("type", {}).get("const")
            if kind is None:
                raise AssertionError(f"{ASYNCAPI}: message '{name}' has no `type` const in its payload; every "
                                     "message the server sends names its type")
            validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
            fast = jsonschema_rs.Draft202012Validator(schema, validate_formats=True)
            self.by_type.setdefault(kind, []).append((name, validator, fast))

    def problem(self, message: Any) -> str | None:
        """None if the document describes `message`; else what is wrong and what to update."""
        kind = message.get("type") if isinstance(message, dict) else None
        candidates = self.by_type.get(kind) if isinstance(kind, str) else None
        if not candidates:
            return (f"the server sent a message of type {kind!r} that {ASYNCAPI} does not document: add it to "
                    f"components/messages, channels.ws.messages and the reply of the operation that sends it "
                    f"(documented types: {', '.join(sorted(self.by_type))}); the message: {_short(message)}")
        if any(fast.is_valid(message) for _, _, fast in candidates):
            return None
        name, validator, fast = candidates[0]
        error = best_match(validator.iter_errors(message))
        if error is None:  # the two validators disagree: say what the deciding one says
            try:
                fast.validate(message)
            except jsonschema_rs.ValidationError as e:
                return self._drift(kind, name, ".".join(map(str, e.instance_path)) or "(the message)", e.message,
                                   "/".join(map(str, e.schema_path)), message)
            return None
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path) or "(the message)"
        return self._drift(kind, name, where, error.message, "/".join(str(p) for p in error.absolute_schema_path),
                           message)

    @staticmethod
    def _drift(kind: str, name: str, where: str, what: str, rule: str, message: Any) -> str:
        return (f"the server sent a {kind!r} message that {ASYNCAPI} does not describe: at {where}: {what} "
                f"(rule {rule}); update components/messages/{name} or the schemas it refers to in {ASYNCAPI} "
                f"(and docs/protocol.md) to the new shape, or fix the server; the message: {_short(message)}")


def _short(message: Any) -> str:
    text = json.dumps(message)
    return text if len(text) <= 600 else text[:600] + "..."


@functools.cache
def contract() -> MessageContract:
    """The document on disk, built once per test session."""
    return MessageContract()


@dataclass
class Recorder:
    """Every text message the test clients received, as sent, since the last `take`."""

    frames: list[bytes] = field(default_factory=list)
    _partial: list[bytes] = field(default_factory=list)

    def frame(self, frame: Frame) -> None:
        if frame.opcode is Opcode.TEXT or (frame.opcode is Opcode.CONT and self._partial):
            self._partial.append(frame.data)
            if frame.fin:
                self.frames.append(b"".join(self._partial))
                self._partial.clear()

    def take(self) -> list[bytes]:
        frames, self.frames = self.frames, []
        self._partial.clear()
        return frames


RECORDER = Recorder()


class RecordingConnection(ClientConnection):
    """A websockets client connection that shows every frame it receives to RECORDER."""

    def process_event(self, event: Any) -> None:
        if self.response is not None and isinstance(event, Frame):
            RECORDER.frame(event)
        super().process_event(event)


class SyncRecordingConnection(SyncClientConnection):
    """The same for websockets' threaded client (`create_connection=` of websockets.sync.client.connect)."""

    def process_event(self, event: Any) -> None:
        if self.response is not None and isinstance(event, Frame):
            RECORDER.frame(event)
        super().process_event(event)


def problems(frames: list[bytes], messages: MessageContract | None = None) -> list[str]:
    """What the document does not describe in these frames, each distinct frame checked once."""
    checker = messages or contract()
    found = []
    for text in dict.fromkeys(frames):
        try:
            message = json.loads(text)
        except ValueError:
            found.append(f"the server sent a text frame that is not JSON: {text[:200]!r}")
            continue
        problem = checker.problem(message)
        if problem is not None:
            found.append(problem)
    return found
