"""Fuzzing both interfaces of a real server on a free loopback port with Hypothesis.

The property: every websocket frame gets a structured reply (success, or an error with a
specific code, never `internal`) and every HTTP request a JSON answer that is not a 500;
and the log's head moves by exactly what the `appended` replies acknowledge: never a
stored-but-unacknowledged event.

CI runs TRACKER_FUZZ_EXAMPLES (default 1000) cases per test; a nightly run raises it,
e.g. TRACKER_FUZZ_EXAMPLES=50000 pytest tests/test_fuzz.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.sync.client import connect

from tests.conftest import seconds, serve_in_process
from tests.contracts import SyncRecordingConnection
from tracker.core.events import EVENT_TYPES
from tracker.core.protocol import FIELDS, OPS

EXAMPLES = int(os.environ.get("TRACKER_FUZZ_EXAMPLES") or 1000)
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=os.environ.get("TRACKER_FUZZ_RANDOM") is None,
                suppress_health_check=list(HealthCheck), database=None)

scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                    st.sampled_from([2**63 - 1, 2**63, 2**64, -1, 0]), st.floats(allow_nan=False, allow_infinity=False),
                    st.text(max_size=20),
                    st.sampled_from(["2014-06-10", "2014-06", "2014", "9999-12-31T23:59:59-14:00", "mosul", "isis",
                                     "day", "month", "²", "Mosul", "ISIS", "0001-01-01T00:00:00+14:00"]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8),
                                                                                           inner, max_size=4),
                      max_leaves=12)
FIELD_NAMES = sorted({f for fs in FIELDS.values() for f in fs} | {"stream", "idempotency_key"})
EVENT_FIELDS = sorted({f for m in EVENT_TYPES.values() for f in m.model_fields} | {"events", "source"})


@st.composite
def events(draw: st.DrawFn) -> Any:
    event = {"type": draw(st.sampled_from(sorted(EVENT_TYPES)) | values)}
    for name in draw(st.lists(st.sampled_from(EVENT_FIELDS), max_size=6)):
        event[name] = draw(values)
    return event if draw(st.integers(0, 9)) else draw(values)


@st.composite
def requests(draw: st.DrawFn) -> str:
    body: dict[str, Any] = {"op": draw(st.sampled_from(OPS) | values)}
    for name in draw(st.lists(st.sampled_from(FIELD_NAMES) | st.text(max_size=6), max_size=4)):
        body[name] = draw(values)
    if body["op"] == "append" and draw(st.booleans()):
        body["events"] = draw(st.lists(events(), min_size=1, max_size=3))
    if body["op"] == "subscribe" and draw(st.booleans()):
        body["stream"] = "events"
    if draw(st.integers(0, 19)) == 0:  # a request in deep brackets, or with a deep ref
        body["ref"] = draw(st.integers(10, 400).map(lambda n: json.loads("[" * n + "]" * n)))
    text = json.dumps(body)
    if draw(st.integers(0, 19)) == 0:  # a key repeated, or text that is not JSON at all
        text = draw(st.sampled_from([text[:-1] + ', "op": "query"}', text[: len(text) // 2], draw(st.text())]))
    return text


class Server:
    """A server in a thread of its own with its own event loop: Hypothesis drives it synchronously."""

    def __init__(self, db: Any) -> None:
        self.ready = threading.Event()
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self.tracker: Any = None
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self._main(db),), daemon=True)
        self.thread.start()
        assert self.ready.wait(seconds(30))

    async def _main(self, db: Any) -> None:
        self.stop = asyncio.get_running_loop().create_future()
        async with serve_in_process(db) as (port, tracker):
            self.port, self.tracker = port, tracker
            self.ready.set()
            await self.stop

    def head(self) -> int:
        return asyncio.run_coroutine_threadsafe(self.tracker.head(), self.loop).result(seconds(10))

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.stop.set_result, None)
        self.thread.join(seconds(30))


@pytest.fixture
def server(db: Any) -> Iterator[Server]:
    s = Server(db)
    yield s
    s.close()


def _pushed(message: dict[str, Any]) -> bool:
    """A subscription's message (events, caught_up, updates, and a projection subscription's
    snapshot, which follows its `subscribed`), not the reply to the request just sent: a
    query's snapshot has no `subscription`."""
    kind = message.get("type")
    return kind in ("event", "caught_up", "update") or (kind == "snapshot" and "subscription" in message)


def test_fuzz_websocket_ops(server: Server) -> None:
    # every reply is also checked against docs/asyncapi.yaml (conftest): fuzzed requests reach every error shape
    ws = connect(f"ws://127.0.0.1:{server.port}/ws", max_size=None,
                 create_connection=SyncRecordingConnection).__enter__()
    acknowledged = server.head()
    seen: dict[str, int] = {}

    @FUZZ
    @given(requests())
    def check(text: str) -> None:
        nonlocal acknowledged
        ws.send(text)
        reply = json.loads(ws.recv(timeout=seconds(10)))
        while _pushed(reply):  # a subscription's traffic, not a reply
            reply = json.loads(ws.recv(timeout=seconds(10)))
        seen[reply.get("code") or reply["type"]] = seen.get(reply.get("code") or reply["type"], 0) + 1
        assert reply.get("code") != "internal", (text, reply)
        assert reply["type"] in ("error", "appended", "snapshot", "subscribed", "unsubscribed", "catalog",
                                 "authenticated", "diff"), reply
        if reply["type"] == "appended":
            acknowledged += reply["new"]
        assert server.head() == acknowledged, (text, reply)

    try:
        check()
    finally:
        ws.close()
    print("websocket fuzz replies:", seen)


PARAMS = ["after", "limit", "as_of", "known_at", "recorded_at", "projection", "x", "from", "to", "search"]
param_values = st.one_of(st.text(max_size=12), st.integers(-5, 2**70).map(str),
                         st.sampled_from(["²", "%C2%B2", "1" * 5000, "9223372036854775808", "2014-06",
                                          "9999-12-31T23:59:59-14:00", ""]))


@FUZZ
@given(path=st.sampled_from(["/healthz", "/api/state/territory", "/api/state/arsenal", "/api/events",
                             "/api/catalog", "/api/state/nope", "/nope", "/api/diff", "/api/state/territory.geojson",
                             "/api/events.geojson", "/api/chart", "/api/actors", "/api/places"]),
       params=st.lists(st.tuples(st.sampled_from(PARAMS) | st.text(max_size=4), param_values), max_size=3))
def test_fuzz_http_parameters(http_server: Server, path: str, params: list[tuple[str, str]]) -> None:
    query = "&".join(f"{quote(k)}={quote(v)}" for k, v in params)
    try:
        url = f"http://127.0.0.1:{http_server.port}{path}?{query}"
        with urllib.request.urlopen(url, timeout=seconds(10)) as answer:
            status, body = answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as e:
        raw = e.read()
        if len(query) > 4000 and e.code in (400, 413, 414, 431):  # websockets' own request-line limit (8 KiB)
            return
        status, body = e.code, json.loads(raw)
    assert status in (200, 400, 404), (path, query, status, body)
    if status != 200:
        assert body["type"] == "error" and body["code"] != "internal"


@pytest.fixture(scope="module")
def http_server(tmp_path_factory: pytest.TempPathFactory, seeded_db: Any) -> Iterator[Server]:
    from tests.conftest import copy_store

    s = Server(copy_store(seeded_db, tmp_path_factory.mktemp("fuzz") / "tracker.db"))
    yield s
    s.close()
