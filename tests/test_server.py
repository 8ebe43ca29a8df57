"""The live server end to end: a real websockets server on a free loopback port, real
clients, real SQLite files; `tracker serve`, `tracker append` and `tracker watch` as real
processes where the issue names them.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from websockets.client import ClientProtocol
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.frames import Close
from websockets.protocol import State
from websockets.uri import parse_uri

from tests.conftest import (
    SOURCE,
    Client,
    capture,
    client,
    http,
    run_tracker,
    seconds,
    serve_log,
    start_serve,
    tracker_env,
)
from tests.conftest import serve_in_process as server
from tracker.core.projections import PROJECTIONS
from tracker.core.protocol import apply_update
from tracker.server import Settings
from tracker.server.app import UnsafeBinding, check

LIVE_WITHIN = 1.0  # the issue's bound for an append by another process to reach a subscriber: not scaled


@pytest.fixture(scope="module")
def seeded_db(first_report_db: Path) -> Path:
    """What conftest's `db` copies here: the report as first shipped (33 events; its corrections: test_seeds)."""
    return first_report_db


# ---------------------------------------------------------------- the events stream

async def test_events_backlog_then_live_gapless(db):
    async with server(db) as (port, _), client(port) as a, client(port) as b:
        await a.send(op="subscribe", stream="events", after=0, ref="r1")
        messages = await a.until(lambda m: m["type"] == "caught_up")
        assert messages[0] == {"type": "subscribed", "subscription": messages[0]["subscription"],
                               "stream": "events", "ref": "r1"}
        events = [m for m in messages if m["type"] == "event"]
        assert [m["position"] for m in events] == list(range(1, 34))
        assert messages[-1]["position"] == 33
        reply = await b.request(op="append", ref=7, events=[capture("baghdad", "isis", "2014-06-15"),
                                                            capture("homs", "isis", "2014-06-16")])
        assert (reply["type"], reply["positions"], reply["new"], reply["ref"]) == ("appended", [34, 35], 2, 7)
        live = await a.until(lambda m: m.get("position") == 35)
        assert [(m["position"], m["event"]["place"]) for m in live] == [(34, "baghdad"), (35, "homs")]


async def test_resubscribe_from_last_position_misses_nothing(db):
    async with server(db) as (port, _):
        async with client(port) as a:
            await a.send(op="subscribe", stream="events", after=30)
            got = await a.until(lambda m: m["type"] == "caught_up")
            assert [m["position"] for m in got if m["type"] == "event"] == [31, 32, 33]
        async with client(port) as writer:  # appended while nobody listens
            await writer.request(op="append", events=[capture("baghdad", "isis", "2014-06-15")])
        async with client(port) as a:
            await a.send(op="subscribe", stream="events", after=33)
            got = await a.until(lambda m: m["type"] == "caught_up")
            assert [m["position"] for m in got if m["type"] == "event"] == [34]


async def test_unsubscribe_stops_the_stream(db):
    async with server(db) as (port, _), client(port) as a, client(port) as writer:
        await a.send(op="subscribe", stream="events", after=33)
        sub = (await a.recv())["subscription"]
        assert (await a.recv())["type"] == "caught_up"
        assert await a.request(op="unsubscribe", subscription=sub, ref=1) == \
            {"type": "unsubscribed", "subscription": sub, "ref": 1}
        await writer.request(op="append", events=[capture("baghdad", "isis", "2014-06-15")])
        with pytest.raises(TimeoutError):
            await a.recv(timeout=seconds(0.5))
        error = await a.request(op="unsubscribe", subscription=sub)
        assert (error["type"], error["code"]) == ("error", "bad_request")


async def test_append_by_another_process_reaches_subscribers_within_a_second(db, tmp_path):
    report = tmp_path / "late.json"
    report.write_text(json.dumps({"reported_on": "2014-07-24", "source": SOURCE[0],
                                  "events": [capture("baghdad", "isis", "2014-06-15")]}))
    async with server(db) as (port, _), client(port) as a:
        await a.send(op="subscribe", stream="events", after=33)
        await a.send(op="subscribe", projection="territory")
        await a.until(lambda m: m["type"] == "snapshot")
        await asyncio.to_thread(run_tracker, "append", str(report), "--db", str(db))
        appended = time.monotonic()
        got: dict[str, dict] = {}
        while len(got) < 2:  # the event and the territory update, in either order
            message = await a.recv(timeout=max(0.01, LIVE_WITHIN - (time.monotonic() - appended)))
            if message["type"] in ("event", "update"):  # (the events' caught_up may come after the snapshot)
                got.setdefault(message["type"], message)
        assert time.monotonic() - appended < LIVE_WITHIN
        assert got["event"]["position"] == 34 and got["event"]["event"]["place"] == "baghdad"
        assert [e["place"] for e in got["update"]["changed"]] == ["baghdad"]


# ---------------------------------------------------------------- projections

async def _state_now(c: Client, projection: str, as_of, known_at) -> dict:
    reply = await c.request(op="query", projection=projection, as_of=as_of, known_at=known_at)
    assert reply["type"] == "snapshot", reply
    return reply["state"]


def _random_batch(rng: random.Random, n: int) -> list[dict]:
    """Facts of every projection's types, dated all over 2014, so many rewrite history."""
    places = ["mosul", "tikrit", "baghdad", "homs", "deir_ez_zor", "baghdad_airport", "shaar_gas_field"]
    actors = ["isis", "iraqi_forces", "united_states", "syrian_government"]
    out = []
    for _ in range(n):
        day = f"2014-{rng.randint(1, 7):02d}-{rng.randint(1, 19):02d}"
        place, actor, other = rng.choice(places), rng.choice(actors), rng.choice(actors)
        kind = rng.choice(["capture", "assault", "repel", "seize", "deploy", "withdraw"])
        base = {"occurred_on": day, "sources": SOURCE}
        if kind == "capture":
            out.append(capture(place, actor, day))
        elif kind == "assault":
            out.append({"type": "AssaultLaunched", "place": place, "attacker": actor, **base})
        elif kind == "repel":
            out.append({"type": "AssaultRepelled", "place": place, "attacker": actor, "defender": other, **base})
        elif kind == "seize":
            out.append({"type": "AssetSeized", "actor": actor, "asset": rng.choice(["Humvee", "tank", "rifle"]),
                        "quantity": rng.choice([None, rng.randint(1, 500)]), **base})
        else:
            out.append({"type": "ForcesDeployed" if kind == "deploy" else "ForcesWithdrawn", "actor": actor,
                        "place": place, "personnel": rng.choice([None, rng.randint(1, 300)]),
                        "equipment": {"Apache": rng.randint(0, 6)}, **base})
    return out


async def test_updates_applied_to_a_snapshot_equal_a_fresh_query(db):
    """Subscribers at now, at a past date and as known at a past time: after every append
    (late reports of old dates and a retraction included), snapshot + updates == query."""
    views = [(p, as_of, known_at) for p in PROJECTIONS for as_of, known_at in
             ((None, None), ("2014-06-20", None), (None, "2014-07-23"))]
    rng = random.Random(20140610)
    async with server(db) as (port, _), client(port) as sub, client(port) as writer:
        held: dict[str, tuple[str, dict]] = {}
        for projection, as_of, known_at in views:
            await sub.send(op="subscribe", projection=projection, as_of=as_of, known_at=known_at)
            ack, snap = await sub.recv(), await sub.recv()
            assert (ack["type"], snap["type"], snap["position"]) == ("subscribed", "snapshot", 33)
            held[ack["subscription"]] = ((projection, as_of, known_at), snap["state"])
        ids = []
        for step in range(12):
            batch = _random_batch(rng, rng.randint(1, 4))
            if step % 3 == 2:  # a report known since an old date: rewrites what was known then
                batch = [{**e, "reported_on": "2014-07-20"} for e in batch]
            if step == 9:
                batch = [{"type": "EventRetracted", "retracts": ids[2], "reason": "misreported", "sources": SOURCE}]
            reply = await writer.request(op="append", events=batch)
            assert reply["type"] == "appended", reply
            ids += reply["ids"]
            head = reply["positions"][-1]
            # Updates come only for views that changed, so no message says "all sent": the states
            # at `head` (a query answers once the server is there) say what each view must reach.
            fresh = {sub_id: await _state_now(writer, *view) for sub_id, (view, _) in held.items()}

            def reached(fresh: dict[str, dict] = fresh) -> bool:
                return all(state[PROJECTIONS[view[0]].collection] == fresh[sub_id][PROJECTIONS[view[0]].collection]
                           for sub_id, (view, state) in held.items())

            deadline = time.monotonic() + seconds(10)
            while True:  # until every view reached its state (bounded), then until nothing more comes
                try:
                    message = await sub.recv(timeout=seconds(0.3))
                except TimeoutError:
                    if reached() or time.monotonic() > deadline:
                        break
                    continue
                assert message["type"] == "update" and message["position"] <= head
                view, state = held[message["subscription"]]
                held[message["subscription"]] = (view, apply_update(PROJECTIONS[view[0]], state, message["changed"],
                                                                    message["removed"], message["position"],
                                                                    message["as_of"]))
            for sub_id, (view, state) in held.items():
                collection = PROJECTIONS[view[0]].collection
                assert state[collection] == fresh[sub_id][collection], (step, view)


async def test_late_report_of_an_old_date_updates_a_past_view(db):
    async with server(db) as (port, _), client(port) as a, client(port) as writer:
        await a.send(op="subscribe", projection="territory", as_of="2014-06-20")
        await a.recv()
        snapshot = await a.recv()
        assert {p["place"]: p["controller"] for p in snapshot["state"]["places"]}["baghdad"] is None
        await writer.request(op="append", events=[capture("baghdad", "isis", "2014-06-15")])
        update = await a.recv()
        assert update["type"] == "update" and update["removed"] == []
        [entry] = update["changed"]
        assert (entry["place"], entry["controller"], entry["since"]) == ("baghdad", "isis", "2014-06-15")
        await writer.request(op="append", events=[capture("homs", "isis", "2014-07-01")])  # after the view's date
        with pytest.raises(TimeoutError):
            print(await a.recv(timeout=seconds(0.5)))


async def test_query_and_catalog(db):
    async with server(db) as (port, _), client(port) as a:
        reply = await a.request(op="query", projection="arsenal", as_of="2014-05-31", ref="q")
        assert (reply["type"], reply["ref"], reply["key"], reply["state"]["actors"]) == ("snapshot", "q", ["actor"], [])
        catalog = await a.request(op="catalog")
        assert "isis" in {a["actor"] for a in catalog["actors"]}
        assert {"place": "mosul"}.items() <= next(p for p in catalog["places"] if p["place"] == "mosul").items()


# ---------------------------------------------------------------- errors

async def test_every_bad_request_gets_a_specific_error_and_the_connection_stays_usable(db):
    async with server(db) as (port, tracker), client(port) as a:
        cases = [
            ("{not json", "bad_request", "malformed JSON"),
            ("[1, 2]", "bad_request", "a JSON object"),
            (json.dumps({"ref": 1}), "bad_request", "missing 'op'"),
            (json.dumps({"op": "launch"}), "unknown_op", "unknown op 'launch'"),
            (json.dumps({"op": "subscribe", "stream": "tweets"}), "bad_request", "unknown stream"),
            (json.dumps({"op": "subscribe", "stream": "events", "after": -1}), "bad_request", "'after'"),
            (json.dumps({"op": "subscribe", "projection": "weather"}), "bad_request", "unknown projection"),
            (json.dumps({"op": "query", "projection": "territory", "as_of": "June"}), "bad_request", "as_of"),
            (json.dumps({"op": "query", "projection": "territory", "known_at": "soon"}), "bad_request", "known_at"),
            (json.dumps({"op": "append", "events": []}), "bad_request", "non-empty list"),
            (json.dumps({"op": "auth"}), "bad_request", "token"),
        ]
        for text, code, words in cases:
            await a.ws.send(text)
            reply = await a.recv()
            assert (reply["type"], reply["code"]) == ("error", code), text
            assert words in reply["message"], (text, reply["message"])
        await a.ws.send(b"\x00binary")
        assert (await a.recv())["code"] == "bad_request"
        reply = await a.request(op="append", ref="bad", events=[capture("bagdhad", "isis", "2014-06-15"),
                                                                 {"type": "CityCaptured", "place": "mosul"}])
        assert (reply["type"], reply["code"], reply["ref"]) == ("error", "validation_error", "bad")
        issues = reply["details"]["issues"]
        assert {"where": "events[0]", "field": "place"}.items() <= issues[0].items()
        assert "baghdad" in issues[0]["suggestion"]
        assert {i["where"] for i in issues} == {"events[0]", "events[1]"}
        assert await tracker.store.head() == 33, "nothing of a refused batch is stored"
        reply = await a.request(op="append", events=[capture("baghdad", "isis", "2014-06-15")], expected_position=30)
        assert (reply["code"], reply["details"]["head"]) == ("conflict", 33)
        reply = await a.request(op="append", events=[capture("baghdad", "isis", "2014-06-15")], expected_position=33)
        assert reply["positions"] == [34]


async def test_a_frame_over_the_limit_closes_with_1009(db):
    async with server(db) as (port, _), client(port, max_size=None) as a:
        await a.ws.send(json.dumps({"op": "append", "events": [{"notes": "x" * (1 << 20)}]}))
        with pytest.raises(ConnectionClosed) as closed:
            await a.recv()
        assert closed.value.rcvd.code == 1009


async def test_too_many_events_in_one_append(db):
    async with server(db) as (port, _), client(port) as a:
        reply = await a.request(op="append", events=[{}] * 10_001)
        assert (reply["code"], reply["details"]["limit"]) == ("too_large", 10_000)


# ---------------------------------------------------------------- safety

async def test_appends_need_the_token_when_one_is_set(db):
    token = "s3cret-token"
    async with server(db, token=token) as (port, _):
        async with client(port) as a:
            reply = await a.request(op="append", events=[capture("baghdad", "isis", "2014-06-15")])
            assert reply["code"] == "unauthorized"
            assert (await a.request(op="auth", token="wrong-token"))["code"] == "unauthorized"
            assert (await a.request(op="auth", token=token, ref=2)) == {"type": "authenticated", "ref": 2}
            appended = await a.request(op="append", events=[capture("baghdad", "isis", "2014-06-15")])
            assert appended["positions"] == [34]
            query = await a.request(op="query", projection="territory")  # reads need no token
            assert query["type"] == "snapshot"
        async with client(port, additional_headers={"Authorization": f"Bearer {token}"}) as b:
            assert (await b.request(op="append", events=[capture("homs", "isis", "2014-06-15")]))["positions"] == [35]
        with pytest.raises(InvalidStatus) as refused:
            async with client(port, additional_headers={"Authorization": "Bearer nope"}):
                pass
        assert refused.value.response.status_code == 401


async def test_browser_origins_are_checked(db):
    async with server(db, allow_origins=["https://newsroom.example"]) as (port, _):
        for origin in (f"http://127.0.0.1:{port}", f"http://localhost:{port}", "https://newsroom.example"):
            async with client(port, origin=origin) as a:
                assert (await a.request(op="query", projection="arsenal"))["type"] == "snapshot"
        for origin in ("http://evil.example", f"http://evil.example:{port}", "http://127.0.0.1:1"):
            with pytest.raises(InvalidStatus) as refused:
                async with client(port, origin=origin):
                    pass
            assert refused.value.response.status_code == 403, origin


def test_refuses_to_listen_beyond_loopback_without_a_token():
    with pytest.raises(UnsafeBinding, match="without a write token"):
        check(Settings(host="0.0.0.0"))
    check(Settings(host="0.0.0.0", token="long-enough-token"))
    check(Settings(host="0.0.0.0"), has_tokens=True)  # the store's tokens guard it
    check(Settings(host="::1"))
    with pytest.raises(UnsafeBinding, match="too short"):
        check(Settings(token="abc"))


class StalledClient:
    """A websocket client that subscribes and then never reads: a thin receive buffer on a
    plain socket, driven by websockets' sans-I/O protocol, every socket call in a thread."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.settimeout(seconds(5))
        self.protocol = ClientProtocol(parse_uri(f"ws://127.0.0.1:{port}/ws"))

    def _flush(self) -> None:
        for data in self.protocol.data_to_send():
            if data:
                self.sock.sendall(data)

    def _open(self) -> None:
        self.sock.connect(("127.0.0.1", self.port))
        self.protocol.send_request(self.protocol.connect())
        self._flush()
        while self.protocol.handshake_exc is None and not self.protocol.events_received() \
                and self.protocol.state is not State.OPEN:
            self.protocol.receive_data(self.sock.recv(4096))
        self.protocol.send_text(json.dumps({"op": "subscribe", "stream": "events", "after": 33}).encode())
        self._flush()

    def _drain(self) -> Close | None:
        """Read everything now; the close frame the server sent, if any."""
        deadline = time.monotonic() + seconds(30)
        while time.monotonic() < deadline:
            try:
                data = self.sock.recv(1 << 20)
            except TimeoutError:
                continue
            if not data:
                self.protocol.receive_eof()
                break
            self.protocol.receive_data(data)
            self.protocol.events_received()
            if self.protocol.close_rcvd is not None:
                break
        return self.protocol.close_rcvd

    async def open(self) -> None:
        await asyncio.to_thread(self._open)

    async def drain(self) -> Close | None:
        return await asyncio.to_thread(self._drain)


async def test_a_slow_subscriber_is_closed_and_others_get_everything(db):
    """A client that stops reading lags too far and is closed with 1013; a reading client
    of the same server receives every event, in order, though each burst outgrows the ring."""
    notes = "n" * 9_000  # big events, so the socket buffers fill quickly
    async with server(db, ring=20, max_lag=600) as (port, _), client(port) as fast, client(port) as writer:
        stalled = StalledClient(port)
        await stalled.open()
        await fast.send(op="subscribe", stream="events", after=33)
        await fast.until(lambda m: m["type"] == "caught_up")
        received: list[int] = []

        async def read_fast() -> None:
            while len(received) < 1500:
                m = await fast.recv(timeout=seconds(20))
                if m["type"] == "event":
                    received.append(m["position"])
        reader = asyncio.create_task(read_fast())
        for _ in range(15):
            batch = [capture("baghdad", "isis", "2014-06-15", notes=notes) for _ in range(100)]
            reply = await writer.request(op="append", events=batch)
            assert reply["type"] == "appended", reply
        await asyncio.wait_for(reader, seconds(30))
        assert received == list(range(34, 1534))
        close = await stalled.drain()
        assert close is not None and close.code == 1013, close
        assert "resume" in close.reason
        stalled.sock.close()


# ---------------------------------------------------------------- HTTP

async def test_http_reads(db):
    async with server(db) as (port, tracker):
        status, health = await asyncio.to_thread(http, port, "/healthz")
        assert (status, health) == (200, {"status": "ok", "position": 33})
        status, state = await asyncio.to_thread(http, port, "/api/state/territory?as_of=2014-06-20")
        assert status == 200 and state == await tracker.state("territory", "2014-06-20")
        status, page = await asyncio.to_thread(http, port, "/api/events?after=30&limit=2")
        assert [e["position"] for e in page["events"]] == [31, 32] and page["head"] == 33
        for path, code in (("/api/state/weather", 404), ("/nowhere", 404), ("/api/state/territory?as_of=x", 400),
                           ("/api/events?after=-3", 400), ("/static/../../pyproject.toml", 404)):
            status, error = await asyncio.to_thread(http, port, path)
            assert status == code and error["type"] == "error" and error["message"], path


def test_http_state_matches_the_cli(db):
    cli = run_tracker("state", "deployments", "--json", "--as-of", "2014-07-23", "--db", str(db))

    async def fetch() -> dict:
        async with server(db) as (port, _):
            return (await asyncio.to_thread(http, port, "/api/state/deployments?as_of=2014-07-23"))[1]
    assert asyncio.run(fetch()) == json.loads(cli.stdout)


# ---------------------------------------------------------------- the commands

def start_watch(port: int, *args: str) -> subprocess.Popen[str]:
    """`tracker watch --json ARGS` on the server at `port`, as a real process (stdout and stderr piped)."""
    return subprocess.Popen([sys.executable, "-m", "tracker", "watch", "--url", f"ws://127.0.0.1:{port}/ws", *args,
                             "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=tracker_env())


def test_serve_and_watch_as_processes(db, tmp_path):
    process, port = start_serve(db)
    try:
        watch = start_watch(port, "--after", "31", "--count", "4")
        report = tmp_path / "two.jsonl"
        report.write_text("\n".join(json.dumps(capture(p, "isis", "2014-06-15")) for p in ("baghdad", "homs")))
        shown = []  # the backlog up to caught_up: the append below then reaches the watch live
        while not shown or '"caught_up"' not in shown[-1]:
            line = watch.stdout.readline()
            if not line:  # the watch ended early: its exit and stderr say why, below
                break
            shown.append(line)
        run_tracker("append", str(report), "--db", str(db))
        out, err = watch.communicate(timeout=seconds(30))
        out = "".join(shown) + out
        assert watch.returncode == 0, err
        events = [json.loads(line) for line in out.splitlines() if '"type":"event"' in line]
        assert [e["position"] for e in events] == [32, 33, 34, 35]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=seconds(15)) == 0
        assert "Traceback" not in serve_log(process)
    finally:
        if process.poll() is None:
            process.kill()


def test_serve_refuses_a_public_address_without_a_token(db):
    done = run_tracker("serve", "--host", "0.0.0.0", "--port", "0", "--db", str(db), expect=2)
    assert "without a write token" in done.stderr


def test_watch_reconnects_and_resumes_without_gaps_or_doubles(db, tmp_path):
    """The server goes away and comes back on the same port; what was appended meanwhile
    reaches `tracker watch` once, in order."""
    def append(place: str) -> None:
        report = tmp_path / f"{place}.json"
        report.write_text(json.dumps([capture(place, "isis", "2014-06-15")]))
        run_tracker("append", str(report), "--db", str(db))

    process, port = start_serve(db)
    watch = start_watch(port, "--after", "33", "--count", "3")
    try:
        first = watch.stdout.readline()  # subscribed
        assert '"subscribed"' in first, first
        append("baghdad")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=seconds(15)) == 0
        append("homs")  # while no server runs
        process, _ = start_serve(db, "--port", str(port))
        append("deir_ez_zor")
        out, err = watch.communicate(timeout=seconds(60))
        assert watch.returncode == 0, err
        positions = [json.loads(line)["position"] for line in [first, *out.splitlines()] if '"type":"event"' in line]
        assert positions == [34, 35, 36]
        assert "reconnecting" in err
    finally:
        for p in (process, watch):
            if p.poll() is None:
                p.kill()


class NotReady:
    """What a tracker server still catching up with its log answers every request, a websocket
    handshake included: 503 with its position and head. A plain socket server on loopback."""

    BODY = b'{"status":"catching_up","position":12,"head":33}'

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.answered = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return  # closed
            with conn:
                conn.settimeout(5)
                try:
                    conn.recv(65536)
                    conn.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                                 b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(self.BODY), self.BODY))
                    self.answered += 1
                except OSError:
                    pass

    def close(self) -> None:
        self.listener.close()
        self.thread.join(timeout=5)


def test_watch_waits_out_a_server_that_is_not_ready_and_then_follows_it(db, tmp_path):
    """A 503 at the handshake (a server reading its image or folding its log) is retried like a
    lost connection; once the real server answers, the watch follows it from where it asked."""
    not_ready = NotReady()
    watch = start_watch(not_ready.port, "--after", "33", "--count", "1")
    process = None
    try:
        deadline = time.monotonic() + seconds(20)
        while not_ready.answered < 2 and time.monotonic() < deadline and watch.poll() is None:
            time.sleep(0.05)
        assert watch.poll() is None, watch.communicate()
        assert not_ready.answered >= 2, "the watch did not retry after a 503"
        not_ready.close()
        process, _ = start_serve(db, "--port", str(not_ready.port))
        report = tmp_path / "late.json"
        report.write_text(json.dumps([capture("homs", "isis", "2014-06-15")]))
        run_tracker("append", str(report), "--db", str(db))
        out, err = watch.communicate(timeout=seconds(60))
        assert watch.returncode == 0, err
        assert [json.loads(line)["position"] for line in out.splitlines() if '"type":"event"' in line] == [34]
        assert "not ready (HTTP 503" in err and "Traceback" not in err
    finally:
        not_ready.close()
        for p in (process, watch):
            if p is not None and p.poll() is None:
                p.kill()


async def test_watch_with_a_count_waits_for_the_state_that_comes_after_the_events(db):
    """`--count N --projection P` ends once N events and P's state are printed: the two come on two
    subscriptions, in no promised order. The server's real messages, replayed events first."""
    from websockets.asyncio.server import serve

    from tracker.watch import WatchOptions, watch

    async with server(db) as (port, _), client(port) as a:
        catalog = await a.request(op="catalog", ref="catalog")
        await a.send(op="subscribe", projection="territory", as_of="2014-07-16", ref="projection")
        snapshot = (await a.until(lambda m: m.get("type") == "snapshot"))[-1]
        await a.send(op="subscribe", stream="events", after=20, ref="events")
        events = [m for m in await a.until(lambda m: m.get("position") == 32) if m.get("type") == "event"]
    assert len(events) == 12

    async def events_first(ws):
        for _ in range(3):  # the catalog request and the two subscriptions
            await ws.recv()
        for message in [catalog, *events]:
            await ws.send(json.dumps(message))
        await asyncio.sleep(0.2)
        await ws.send(json.dumps(snapshot))
        await ws.wait_closed()

    lines: list[str] = []
    async with serve(events_first, "127.0.0.1", 0) as scripted:
        scripted_port = scripted.sockets[0].getsockname()[1]
        options = WatchOptions(url=f"ws://127.0.0.1:{scripted_port}/ws", after=20, count=12, projection="territory",
                               as_of="2014-07-16", reconnect=False)
        assert await asyncio.wait_for(watch(options, out=lines.append), seconds(10)) == 32
    [row] = [line for line in "\n".join(lines).splitlines() if line.startswith("Tikrit ")]
    assert "Iraqi Security Forces" in row


async def test_a_view_of_today_moves_to_the_next_day_at_midnight(db, monkeypatch):
    """At midnight UTC, a view without an as_of date is rendered for the new day: a fact whose
    window ended yesterday settles, and subscribers get the update with the new as_of."""
    from tracker.server import hub as hub_module

    today = {"value": "2014-06-29"}
    monkeypatch.setattr(hub_module, "today", lambda: today["value"])
    monkeypatch.setattr("tracker.core.timeline.today", lambda: today["value"])
    async with server(db) as (port, _), client(port) as a:
        reply = await a.request(op="append", events=[
            {"type": "CityCaptured", "occurred_from": "2014-06-20", "occurred_to": "2014-06-30",
             "reported_on": "2014-06-20", "place": "baghdad", "captured_by": "isis", "sources": SOURCE}])
        assert reply["type"] == "appended", reply
        await a.send(op="subscribe", projection="territory", ref="t")
        snapshot = await a.until(lambda m: m.get("type") == "snapshot")
        baghdad = next(p for p in snapshot[-1]["state"]["places"] if p["place"] == "baghdad")
        assert snapshot[-1]["state"]["as_of"] == "2014-06-29"
        assert baghdad["controller"] is None and [e["type"] for e in baghdad["pending"]] == ["CityCaptured"]
        today["value"] = "2014-06-30"
        updates = await a.until(lambda m: m.get("type") == "update")
        update = updates[-1]
        assert update["as_of"] == "2014-06-30"
        [moved] = [e for e in update["changed"] if e["place"] == "baghdad"]
        assert (moved["controller"], moved["pending"]) == ("isis", [])
