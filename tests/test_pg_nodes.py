"""Scale-out with real processes: two `tracker serve` nodes on one PostgreSQL database.

A subscriber on node B gets what is appended through node A or the CLI within a second;
the database connections killed under it, or the database unreachable for a while (a TCP
proxy in front of PostgreSQL that the test stops and starts), lose nothing: /healthz says
503 with the reason meanwhile, appends fail fast with `unavailable`, and once the database
is back, everything resumes by itself, with the websocket clients still connected.

Needs TRACKER_TEST_PG_DSN (e.g. postgresql://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import uuid
from urllib.parse import urlsplit

import pytest

from tests.conftest import (
    PG_DSN,
    PG_HOW,
    SOURCE,
    capture,
    client,
    http,
    pg_terminate,
    pg_url,
    run_tracker,
    seconds,
    start_serve,
    stop_process,
)
from tracker.seeds import seed_files

pytestmark = pytest.mark.skipif(not PG_DSN, reason=PG_HOW)
LIVE_WITHIN = 1.0  # the bound for an append through one node to reach the other's subscriber: not scaled


class Proxy:
    """A TCP proxy in front of PostgreSQL, on its own thread: `stop()` drops every
    connection and refuses new ones, as a database that went away; `start()` brings it back."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.listener.close()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = None
        self.links: set[asyncio.StreamWriter] = set()

    def _run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(seconds(10))

    async def _pipe(self, reader, writer) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _handle(self, reader, writer) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self.links |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        self.links -= {writer, up_writer}

    async def _start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, reuse_address=True)

    async def _stop(self) -> None:
        self.server.close()
        for writer in list(self.links):
            writer.transport.abort()
        await self.server.wait_closed()

    def start(self) -> None:
        self._run(self._start())

    def stop(self) -> None:
        self._run(self._stop())

    def close(self) -> None:
        if self.server is not None and self.server.is_serving():
            self.stop()
        self.loop.call_soon_threadsafe(self.loop.stop)


async def _expect_event(c, position: int, within: float) -> dict:
    deadline = time.monotonic() + within
    while True:
        message = await c.recv(max(0.01, deadline - time.monotonic()))
        if message["type"] == "event" and message["position"] >= position:
            assert message["position"] == position, message
            return message


def test_two_nodes_one_log(pg_dsn, tmp_path):
    url = pg_dsn
    run_tracker("append", str(seed_files()[0]), "--db", url)  # the report as first shipped: 33 events
    a, port_a = start_serve(url)
    b, port_b = start_serve(url)
    try:
        async def scenario() -> None:
            async with client(port_b) as sub, client(port_a) as writer:
                await sub.send(op="subscribe", stream="events", after=33)
                await sub.until(lambda m: m["type"] == "caught_up")
                started = time.monotonic()
                reply = await writer.request(op="append", events=[capture("baghdad", "isis", "2014-06-15")])
                assert reply["positions"] == [34], reply
                event = await _expect_event(sub, 34, within=LIVE_WITHIN)
                assert event["event"]["place"] == "baghdad" and time.monotonic() - started < LIVE_WITHIN
                report = tmp_path / "cli.json"
                report.write_text(json.dumps([capture("homs", "isis", "2014-06-16")]))
                await asyncio.to_thread(run_tracker, "append", str(report), "--db", url)
                started = time.monotonic()
                await _expect_event(sub, 35, within=LIVE_WITHIN)
                # Kill every database connection of both nodes: they reconnect by themselves.
                assert await pg_terminate(url) >= 2
                event = {"type": "CityCaptured", "id": str(uuid.uuid4()), "occurred_on": "2014-06-17",
                         "place": "tikrit", "captured_by": "iraqi_forces", "sources": SOURCE}
                for _ in range(20):  # a retry with the same id cannot store it twice
                    reply = await writer.request(op="append", events=[event])
                    if reply["type"] == "appended":
                        break
                    assert reply["code"] == "unavailable", reply
                    await asyncio.sleep(seconds(0.25))
                assert reply["positions"] == [36], reply
                await _expect_event(sub, 36, within=seconds(10))
        asyncio.run(scenario())
        assert json.loads(run_tracker("verify", "--json", "--db", url).stdout)["events"] == 36
    finally:
        stop_process(a)
        stop_process(b)


def test_database_unreachable_then_back(pg_dsn, tmp_path):
    url = pg_dsn
    run_tracker("append", str(seed_files()[0]), "--db", url)  # the report as first shipped: 33 events
    target = urlsplit(url)
    proxy = Proxy((target.hostname or "127.0.0.1", target.port or 5432))
    proxy.start()
    node, port = start_serve(pg_url(url, port=proxy.port))
    try:
        async def scenario() -> None:
            async with client(port) as sub, client(port) as writer:
                await sub.send(op="subscribe", stream="events", after=33)
                await sub.until(lambda m: m["type"] == "caught_up")
                assert (await asyncio.to_thread(http, port, "/healthz"))[0] == 200
                proxy.stop()
                deadline = time.monotonic() + seconds(10)
                while (status := await asyncio.to_thread(http, port, "/healthz"))[0] != 503:
                    assert time.monotonic() < deadline, status
                    await asyncio.sleep(seconds(0.2))
                assert status[1]["status"] == "unavailable" and status[1]["reason"]
                event = {"type": "CityCaptured", "id": str(uuid.uuid4()), "occurred_on": "2014-06-17",
                         "place": "tikrit", "captured_by": "iraqi_forces", "sources": SOURCE}
                started = time.monotonic()
                reply = await writer.request(op="append", events=[event])
                assert (reply["type"], reply["code"]) == ("error", "unavailable"), reply
                # a bound on the system, not a wait: not scaled
                assert time.monotonic() - started < 10, "appends fail fast while the database is away"
                report = tmp_path / "cli.json"  # an append by another writer meanwhile, straight to the database
                report.write_text(json.dumps([capture("homs", "isis", "2014-06-16")]))
                await asyncio.to_thread(run_tracker, "append", str(report), "--db", url)
                proxy.start()
                deadline = time.monotonic() + seconds(10)
                while (await asyncio.to_thread(http, port, "/healthz"))[0] != 200:
                    assert time.monotonic() < deadline
                    await asyncio.sleep(seconds(0.2))
                await _expect_event(sub, 34, within=seconds(10))  # caught up with what was appended meanwhile
                reply = await writer.request(op="append", events=[event])  # the retry, same id
                assert reply["positions"] == [35], reply
                await _expect_event(sub, 35, within=seconds(10))
        asyncio.run(scenario())
    finally:
        stop_process(node)
        proxy.close()
