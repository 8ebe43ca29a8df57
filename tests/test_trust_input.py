"""The trust issue's input failures, each as a test: replies that broke (internal, HTTP 500,
exit 1), stored-but-unacknowledged appends, denial of service, leaks. Each is refused with a
specific error now; the fuzzing of both interfaces is in test_fuzz.py."""

from __future__ import annotations

import asyncio
import json
import socket
import time

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.conftest import PG_DSN, capture, client, http, run_tracker, seconds, serve_in_process, tracker_env
from tracker.core.errors import StoreUnavailable, ValidationFailed
from tracker.core.ids import idempotent_id
from tracker.core.protocol import ProtocolError, parse_request
from tracker.core.reports import parse
from tracker.server.auth import host_allowed, origin_allowed
from tracker.server.connection import MAX_IN_FLIGHT
from tracker.store.url import mask_secrets, parse_store_url

BIG = 2**63


def raw_get(port: int, path: str, headers: list[tuple[str, str]]) -> tuple[int, dict]:
    """A GET with exactly these headers (repeats included), over a plain socket."""
    lines = [f"GET {path} HTTP/1.1", *(f"{k}: {v}" for k, v in headers), "", ""]
    with socket.create_connection(("127.0.0.1", port), timeout=seconds(5)) as s:
        s.sendall("\r\n".join(lines).encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


# ------------------------------------------------------------ replies that broke

@pytest.mark.parametrize("kind", [[], {}, 3, True])
async def test_a_non_string_event_type_is_a_validation_error(db, kind):
    async with serve_in_process(db) as (port, tracker), client(port) as c:
        head = await tracker.head()
        reply = await c.request(op="append", events=[{"type": kind}], ref="t")
        assert reply["code"] == "validation_error", reply
        assert reply["details"]["issues"][0]["field"] == "type"
        assert await tracker.head() == head


async def test_known_at_whose_offset_overflows_is_refused(db):
    async with serve_in_process(db) as (port, _), client(port) as c:
        reply = await c.request(op="query", projection="territory", known_at="9999-12-31T23:59:59-14:00")
        assert reply["code"] == "bad_request" and reply["details"]["field"] == "known_at", reply
        status, body = await asyncio.to_thread(http, port, "/api/state/territory?known_at=9999-12-31T23:59:59-14:00")
        assert status == 400 and body["details"]["field"] == "known_at"


async def test_positions_of_2_63_or_more_are_refused(db):
    async with serve_in_process(db) as (port, _), client(port) as c:
        for big in (BIG, 2**64, 10**30):
            reply = await c.request(op="subscribe", stream="events", after=big)
            assert reply["code"] == "bad_request" and reply["details"]["field"] == "after", reply
            reply = await c.request(op="append", events=[capture("Mosul", "ISIS", "2014-06-10")],
                                    expected_position=big)
            assert reply["code"] == "bad_request" and reply["details"]["field"] == "expected_position", reply
            for name in ("after", "limit"):
                status, body = await asyncio.to_thread(http, port, f"/api/events?{name}={big}")
                assert status == 400 and body["details"]["field"] == name, body
        assert (await c.request(op="query", projection="arsenal"))["type"] == "snapshot"


@pytest.mark.parametrize("value", ["%C2%B2", "%D9%A3", "1" * 5000, "-1", "1.5", "%20"])
async def test_http_positions_are_ascii_digits_in_range(db, value):
    async with serve_in_process(db) as (port, _):
        status, body = await asyncio.to_thread(http, port, f"/api/events?after={value}")
        assert status == 400 and body["code"] == "bad_request" and body["details"]["field"] == "after", body


async def test_a_header_given_twice_is_a_400(db):
    async with serve_in_process(db) as (port, _):
        host = ("Host", f"127.0.0.1:{port}")
        for name, value in (("Origin", f"http://127.0.0.1:{port}"), ("Host", f"127.0.0.1:{port}"),
                            ("Authorization", "Bearer x")):
            headers = [host, (name, value), (name, value)] if name != "Host" else [host, host]
            for path in ("/ws", "/healthz"):
                status, body = await asyncio.to_thread(raw_get, port, path, headers)
                assert status == 400 and body["details"]["field"] == name, body


async def test_a_5000_digit_integer_is_refused_everywhere(db, tmp_path):
    huge = "1" * 5000
    async with serve_in_process(db) as (port, _), client(port) as c:
        await c.ws.send('{"op":"append","events":[{"type":"AssetSeized","quantity":' + huge + "}]}")
        assert (await c.recv())["code"] == "bad_request"
        status, _ = await asyncio.to_thread(http, port, f"/api/events?limit={huge}")
        assert status == 400
    for name in ("x.json", "x.jsonl"):
        (tmp_path / name).write_text('{"type": "AssetSeized", "quantity": ' + huge + "}\n")
        done = run_tracker("append", str(tmp_path / name), "--db", str(db), expect=2)
        assert "5,000 digits" in done.stderr


@pytest.mark.parametrize("op", ["subscribe", "query"])
async def test_a_projection_that_is_a_list_or_object_is_refused(db, op):  # found by test_fuzz.py
    async with serve_in_process(db) as (port, _), client(port) as c:
        for value in ([], {}):
            reply = await c.request(op=op, projection=value)
            assert reply["code"] == "bad_request" and reply["details"]["field"] == "projection", reply


# ------------------------------------------------------------ stored but never acknowledged

async def test_a_deep_or_large_ref_is_refused_before_anything_is_stored(db):
    async with serve_in_process(db) as (port, tracker), client(port) as c:
        head = await tracker.head()
        deep: object = 1
        for _ in range(300):
            deep = [deep]
        for ref in (deep, [[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]], "x" * 2000):
            await c.send(op="append", events=[capture("Mosul", "ISIS", "2014-06-10")], ref=ref)
            reply = await c.recv()
            assert reply["code"] == "bad_request" and reply["details"]["field"] == "ref", reply
            assert "ref" not in reply
        assert await tracker.head() == head
        ok = [[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]  # 16 levels
        reply = await c.request(op="append", events=[capture("Mosul", "ISIS", "2014-06-10")], ref=ok)
        assert reply["type"] == "appended" and reply["ref"] == ok


async def test_a_pipelining_writer_gets_busy_never_silence(db):
    count = 60
    async with serve_in_process(db) as (port, tracker), client(port) as c:
        head = await tracker.head()
        for i in range(count):
            await c.send(op="append", ref=i, events=[capture("Mosul", "ISIS", "2014-06-10", notes=f"n{i}")])
        replies = {}
        while len(replies) < count:
            reply = await c.recv()
            replies[reply["ref"]] = reply
        busy = [r for r in replies.values() if r.get("code") == "busy"]
        appended = [r for r in replies.values() if r["type"] == "appended"]
        assert busy and all(r["details"]["retry_after"] > 0 for r in busy)
        assert len(busy) + len(appended) == count
        assert await tracker.head() == head + sum(r["new"] for r in appended)  # each stored one acknowledged


async def test_appends_queued_when_the_writer_leaves_are_not_stored(db):
    async with serve_in_process(db) as (port, tracker):
        head = await tracker.head()
        ws = await connect(f"ws://127.0.0.1:{port}/ws")
        for i in range(100):
            await ws.send(json.dumps({"op": "append", "events": [capture("Mosul", "ISIS", "2014-06-10",
                                                                         notes=f"n{i}")]}))
        ws.transport.abort()
        await asyncio.sleep(1.0)
        assert await tracker.head() - head <= MAX_IN_FLIGHT + 1


async def test_a_retry_with_the_same_idempotency_key_stores_nothing_new(db):
    report = {"reported_on": "2014-06-11", "source": {"publisher": "Wire"},
              "events": [capture("Mosul", "ISIS", "2014-06-10"), capture("Tikrit", "ISIS", "2014-06-10")]}
    async with serve_in_process(db) as (port, tracker), client(port) as c:
        first = await c.request(op="append", events=[report], idempotency_key="k-1")
        assert first["new"] == 2
        head = await tracker.head()
        again = await c.request(op="append", events=[report], idempotency_key="k-1")
        assert again["new"] == 0 and again["ids"] == first["ids"] and await tracker.head() == head
        other = await c.request(op="append", events=[report], idempotency_key="k-2")
        assert other["new"] == 2
        for bad in (3, "", "k" * 201):
            reply = await c.request(op="append", events=[report], idempotency_key=bad)
            assert reply["code"] == "bad_request" and reply["details"]["field"] == "idempotency_key"
    async with serve_in_process(db) as (port, tracker), client(port) as c:  # after a restart
        head = await tracker.head()
        again = await c.request(op="append", events=[report], idempotency_key="k-1")
        assert again["new"] == 0 and again["ids"] == first["ids"] and await tracker.head() == head
    # the same on any node: a pure function of the principal, the key and the event's index
    assert first["ids"] == [str(idempotent_id("anonymous", "k-1", i)) for i in range(2)]
    assert idempotent_id("token", "k-1", 0) != idempotent_id("anonymous", "k-1", 0)


# ------------------------------------------------------------ duplicate keys

def test_a_duplicate_key_in_a_frame_is_refused_naming_it():
    with pytest.raises(ProtocolError) as refused:
        parse_request('{"op":"query","projection":"territory","projection":"arsenal"}')
    assert refused.value.code == "bad_request" and refused.value.details["field"] == "projection"
    assert "'projection'" in refused.value.message
    with pytest.raises(ProtocolError, match="'place'"):
        parse_request('{"op":"append","events":[{"type":"CityCaptured","place":"a","place":"b"}]}')


@pytest.mark.parametrize("name", ["x.json", "x.jsonl"])
def test_a_duplicate_key_in_a_file_is_refused_naming_it(db, tmp_path, name):
    (tmp_path / name).write_text('{"type": "CityCaptured", "place": "mosul", "place": "tikrit"}\n')
    done = run_tracker("append", str(tmp_path / name), "--db", str(db), expect=2)
    assert "duplicate key 'place'" in done.stderr


def test_a_duplicate_key_in_an_import_is_refused_naming_it(tmp_path):
    line = ('{"position": 1, "position": 2, "id": "0190a8a0-0000-7000-8000-000000000001", '
            '"recorded_at": "2024-01-01T00:00:00+00:00", "event": {}}\n')
    (tmp_path / "export.jsonl").write_text(line)
    done = run_tracker("import", str(tmp_path / "export.jsonl"), "--db", str(tmp_path / "new.db"), expect=2)
    assert "duplicate key 'position'" in done.stderr


# ------------------------------------------------------------ denial of service

def _bomb(levels: int) -> str:
    text = 'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for i in range(1, levels):
        text += f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]\n"
    return text


@pytest.mark.parametrize("levels", [7, 9, 10])
def test_yaml_aliases_are_bounded_by_the_expanded_size(levels):
    started = time.monotonic()
    with pytest.raises(ValidationFailed, match="expand"):
        parse(_bomb(levels), "bomb.yaml")
    assert time.monotonic() - started < 1.0


def test_a_recursive_yaml_alias_is_refused():
    with pytest.raises(ValidationFailed, match="alias refers"):
        parse("a: &a [1, *a]\n", "loop.yaml")


def test_yaml_anchors_and_merge_keys_still_work():
    text = ("- &base {type: CityCaptured, place: mosul, captured_by: isis, occurred_on: '2014-06-10'}\n"
            "- {<<: *base, place: tikrit}\n")
    items = parse(text, "x.yaml")
    assert [i.data["place"] for i in items] == ["mosul", "tikrit"]
    assert items[1].data["captured_by"] == "isis"


# ------------------------------------------------------------ leaks

@pytest.mark.parametrize("url", [
    "postgresql://bob:hunter2@db.example/tracker",
    "postgresql://bob:hun@ter2@db.example/tracker",
    "postgresql://bob@db.example/tracker?password=hunter2",
    "postgres://db.example/tracker?sslmode=require&password=hunter2&application_name=x",
    "host=db.example password=hunter2 dbname=tracker",
    "host=db.example password='hunter2 x' dbname=tracker",
])
def test_every_form_of_store_password_is_masked(url):
    assert "hunter2" not in parse_store_url(url).text
    assert "hunter2" not in mask_secrets(f"could not connect to {url}: refused")


async def test_store_failures_say_database_unavailable_without_the_url(db, monkeypatch):
    secret = "postgresql://bob@db.example/tracker?password=hunter2"

    async def down(*_args, **_kw):
        raise StoreUnavailable(f"the PostgreSQL store {secret}: reading: connection refused")

    async with serve_in_process(db) as (port, tracker):
        monkeypatch.setattr(tracker, "head", down)
        monkeypatch.setattr(tracker, "read", down)
        for path in ("/healthz", "/api/events"):
            status, body = await asyncio.to_thread(http, port, path)
            assert status == 503 and "hunter2" not in json.dumps(body) and "db.example" not in json.dumps(body)
        assert (await asyncio.to_thread(http, port, "/healthz"))[1]["reason"] == "database unavailable"


@pytest.mark.skipif(PG_DSN is None, reason="needs TRACKER_TEST_PG_DSN")
def test_a_query_string_password_never_reaches_the_logs(pg_dsn):
    import subprocess
    import sys

    url = pg_dsn + ("&" if "?" in pg_dsn else "?") + "password=hunter2"
    process = subprocess.Popen([sys.executable, "-m", "tracker", "serve", "--port", "0", "--db", url],
                               stderr=subprocess.PIPE, text=True, env=tracker_env())
    try:
        lines = []
        assert process.stderr is not None
        while len(lines) < 50:
            line = process.stderr.readline()
            if not line:
                break
            lines.append(line)
            if "Ctrl-C" in line:
                break
        text = "".join(lines)
        assert "serving" in text and "hunter2" not in text, text
    finally:
        process.terminate()
        process.wait(seconds(10))


# ------------------------------------------------------------ origins and hosts

def test_origins_beyond_loopback_are_exactly_the_allowed_list():
    assert not origin_allowed("http://tracker.example", 80, False, [])  # Origin == Host: DNS rebinding
    assert not origin_allowed("https://tracker.example", 443, False, ["https://news.example"])
    assert origin_allowed("https://news.example", 443, False, ["https://news.example"])
    assert host_allowed("tracker.example:8765", ["tracker.example"])
    assert host_allowed("[::1]:8765", ["::1"]) and host_allowed("LOCALHOST", ["localhost"])
    assert not host_allowed("evil.example:8765", ["tracker.example", "127.0.0.1"])
    assert not host_allowed(None, ["127.0.0.1"])


async def test_a_rebound_host_is_refused_and_allow_host_admits_a_name(db):
    async with serve_in_process(db, allow_hosts=["tracker.example"]) as (port, _):
        status, body = await asyncio.to_thread(raw_get, port, "/api/state/arsenal", [("Host", f"evil.example:{port}")])
        assert status == 403 and body["code"] == "forbidden_host"
        status, _ = await asyncio.to_thread(raw_get, port, "/healthz", [("Host", f"tracker.example:{port}")])
        assert status == 200
        # a page served under the allowed name still needs --allow-origin to open the websocket
        with pytest.raises(InvalidStatus) as refused:
            async with client(port, origin=f"http://tracker.example:{port}"):
                pass
        assert refused.value.response.status_code == 403


async def test_beyond_loopback_the_hosts_own_origin_is_refused(db):
    async with serve_in_process(db, host="0.0.0.0", token="long-enough-token",
                                allow_origins=["https://news.example"]) as (port, _):
        with pytest.raises(InvalidStatus) as refused:
            async with client(port, origin=f"http://127.0.0.1:{port}"):
                pass
        assert refused.value.response.status_code == 403
        async with client(port, origin="https://news.example") as c:
            assert (await c.request(op="query", projection="arsenal"))["type"] == "snapshot"
