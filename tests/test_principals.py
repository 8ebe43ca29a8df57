"""Principals end to end: tokens added with the CLI, a real server, real clients.

Once the store has a token, reads need a reader token and appends a writer one; every
stored event records who appended it; a revoked token's connections are closed with 1008
within a second or two; failed authentications slow down and then close the connection,
and too many from one address get HTTP 429.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed

from .conftest import capture, client, http, run_tracker, seconds
from .conftest import serve_in_process as server


def _token(db: Path, name: str, role: str) -> str:
    done = run_tracker("tokens", "add", name, "--role", role, "--db", str(db))
    token = done.stdout.strip()
    assert token and "\n" not in token, "the token alone on stdout"
    return token


def _get(port: int, path: str, token: str | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}",
                                     headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=seconds(5)) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


async def test_roles_reads_writes_and_who_appended(db):
    writer, reader = _token(db, "alice", "writer"), _token(db, "bob", "reader")
    async with server(db) as (port, _):
        assert (await asyncio.to_thread(http, port, "/healthz"))[0] == 200  # open
        status, body = await asyncio.to_thread(_get, port, "/api/state/territory")
        assert (status, body["code"]) == (401, "unauthorized")
        assert (await asyncio.to_thread(_get, port, "/api/state/territory", reader))[0] == 200
        async with client(port) as anonymous:
            reply = await anonymous.request(op="query", projection="territory")
            assert reply["code"] == "unauthorized", reply
            reply = await anonymous.request(op="append", events=[capture("baghdad", "isis", "2014-06-15")])
            assert reply["code"] == "unauthorized", reply
        async with client(port, additional_headers={"Authorization": f"Bearer {reader}"}) as bob:
            assert (await bob.request(op="query", projection="territory"))["type"] == "snapshot"
            reply = await bob.request(op="append", events=[capture("baghdad", "isis", "2014-06-15")])
            assert (reply["code"], reply["details"]["role"]) == ("forbidden", "reader"), reply
        async with client(port) as alice:
            assert (await alice.request(op="auth", token=writer))["type"] == "authenticated"
            await alice.send(op="subscribe", stream="events", after=0)
            reply = await alice.until(lambda m: m.get("type") == "caught_up")
            head = reply[-1]["position"]
            await alice.send(op="append", events=[capture("baghdad", "isis", "2014-06-15")], ref=1)
            # the reply and the event it pushes, in either order (docs/protocol.md promises none)
            got = await alice.until_each(lambda m: m.get("type") == "appended" and m.get("ref") == 1,
                                         lambda m: m.get("type") == "event" and m["position"] == head + 1)
            [event] = [m for m in got if m.get("type") == "event"]
            assert event["recorded_by"] == "alice", event
        status, page = await asyncio.to_thread(_get, port, f"/api/events?after={head}", reader)
        assert status == 200 and page["events"][0]["recorded_by"] == "alice"
    log = run_tracker("log", "--by", "alice", "--json", "--db", str(db)).stdout.splitlines()
    assert len(log) == 1 and '"recorded_by":"alice"' in log[0]


async def test_a_revoked_token_is_closed_within_seconds(db):
    writer = _token(db, "carol", "writer")
    async with server(db) as (port, _), client(port, additional_headers={"Authorization": f"Bearer {writer}"}) as c:
        assert (await c.request(op="query", projection="arsenal"))["type"] == "snapshot"
        await asyncio.to_thread(run_tracker, "tokens", "revoke", "carol", "--db", str(db))
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(c.ws.recv(), seconds(5))
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
        status, _ = await asyncio.to_thread(_get, port, "/api/catalog", writer)
        assert status == 401
    # a revoked name is never reused
    done = run_tracker("tokens", "add", "carol", "--role", "reader", "--db", str(db), expect=3)
    assert "carol" in done.stderr


async def test_failed_authentications_slow_down_then_close(db):
    _token(db, "dave", "writer")
    async with server(db) as (port, _), client(port) as guesser:
        started = asyncio.get_running_loop().time()
        codes = []
        with pytest.raises(ConnectionClosed):
            for n in range(12):
                await guesser.send(op="auth", token=f"guess-{n}")
                codes.append((await guesser.recv(seconds(10)))["code"])
        assert codes == ["unauthorized"] * 9  # the 10th failure closes the connection
        assert asyncio.get_running_loop().time() - started > 1.0  # 0.05 + 0.1 + ... : guessing is slow
        assert guesser.ws.close_code == 1008


async def test_too_many_failures_from_one_address_get_429(db):
    _token(db, "erin", "writer")
    async with server(db) as (port, _):
        statuses = [(await asyncio.to_thread(_get, port, "/api/catalog", f"wrong-{n}"))[0] for n in range(22)]
        assert statuses[:20] == [401] * 20 and statuses[20:] == [429, 429], statuses


async def test_a_server_without_tokens_records_anonymous_and_the_single_token_records_token(db, tmp_path):
    async with server(db) as (port, tracker), client(port) as c:
        reply = await c.request(op="append", events=[capture("baghdad", "isis", "2014-06-15")])
        [stored] = await tracker.read(reply["positions"][0] - 1, 1)
        assert stored.recorded_by == "anonymous"
    async with server(db, token="single-token-0123") as (port, tracker), \
            client(port, additional_headers={"Authorization": "Bearer single-token-0123"}) as c:
        reply = await c.request(op="append", events=[capture("homs", "isis", "2014-06-16")])
        [stored] = await tracker.read(reply["positions"][0] - 1, 1)
        assert stored.recorded_by == "token"


async def test_append_rate_per_principal_answers_busy(db):
    async with server(db, append_rate=1.0) as (port, _), client(port) as c:
        replies = []
        for n in range(25):
            replies.append(await c.request(op="append", ref=n,
                                           events=[capture("baghdad", "isis", "2014-06-15", notes=f"report {n}")]))
        busy = [r for r in replies if r.get("code") == "busy"]
        assert busy and all(r["details"]["retry_after"] > 0 for r in busy)
        assert sum(1 for r in replies if r["type"] == "appended") >= 20  # the burst went through
