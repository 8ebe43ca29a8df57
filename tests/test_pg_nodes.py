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
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.test_server import SOURCE, _start_serve, capture, client, http

DSN = os.environ.get("TRACKER_TEST_PG_DSN")
pytestmark = pytest.mark.skipif(not DSN, reason="set TRACKER_TEST_PG_DSN=postgresql://postgres@127.0.0.1:5432/postgres "
                                "to run the PostgreSQL scale-out tests")


def _with(dsn: str, *, database: str | None = None, port: int | None = None) -> str:
    parts = urlsplit(dsn)
    netloc = parts.netloc
    if port is not None:
        netloc = netloc.rsplit(":", 1)[0] + f":{port}"
    return urlunsplit((parts.scheme, netloc, f"/{database}" if database else parts.path, parts.query, ""))


@pytest.fixture
def database():
    """A fresh database of its own, dropped afterwards."""
    import asyncpg

    name = f"tracker_nodes_{uuid.uuid4().hex[:12]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(DSN, timeout=10)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()
    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    yield name
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _tracker(*args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "tracker", *args], capture_output=True, text=True, timeout=60)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == expect, done.stderr
    return done


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
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

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


def _kill(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


async def _expect_event(c, position: int, within: float) -> dict:
    deadline = time.monotonic() + within
    while True:
        message = await c.recv(max(0.01, deadline - time.monotonic()))
        if message["type"] == "event" and message["position"] >= position:
            assert message["position"] == position, message
            return message


def test_two_nodes_one_log(database, tmp_path):
    url = _with(DSN, database=database)
    _tracker("seed", "--db", url)
    a, port_a = _start_serve(url)
    b, port_b = _start_serve(url)
    try:
        async def scenario() -> None:
            async with client(port_b) as sub, client(port_a) as writer:
                await sub.send(op="subscribe", stream="events", after=33)
                await sub.until(lambda m: m["type"] == "caught_up")
                started = time.monotonic()
                reply = await writer.request(op="append", events=[capture("baghdad", "isis", "2014-06-15")])
                assert reply["positions"] == [34], reply
                event = await _expect_event(sub, 34, within=1.0)
                assert event["event"]["place"] == "baghdad" and time.monotonic() - started < 1.0
                report = tmp_path / "cli.json"
                report.write_text(json.dumps([capture("homs", "isis", "2014-06-16")]))
                await asyncio.to_thread(_tracker, "append", str(report), "--db", url)
                started = time.monotonic()
                await _expect_event(sub, 35, within=1.0)
                # Kill every database connection of both nodes: they reconnect by themselves.
                import asyncpg
                admin = await asyncpg.connect(DSN)
                try:
                    killed = await admin.fetchval(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = $1 AND pid <> pg_backend_pid()", database)
                finally:
                    await admin.close()
                assert killed >= 2
                event = {"type": "CityCaptured", "id": str(uuid.uuid4()), "occurred_on": "2014-06-17",
                         "place": "tikrit", "captured_by": "iraqi_forces", "sources": SOURCE}
                for _ in range(20):  # a retry with the same id cannot store it twice
                    reply = await writer.request(op="append", events=[event])
                    if reply["type"] == "appended":
                        break
                    assert reply["code"] == "unavailable", reply
                    await asyncio.sleep(0.25)
                assert reply["positions"] == [36], reply
                await _expect_event(sub, 36, within=3.0)
        asyncio.run(scenario())
        assert json.loads(_tracker("verify", "--json", "--db", url).stdout)["events"] == 36
    finally:
        _kill(a)
        _kill(b)


def test_database_unreachable_then_back(database, tmp_path):
    url = _with(DSN, database=database)
    _tracker("seed", "--db", url)
    target = urlsplit(DSN)
    proxy = Proxy((target.hostname or "127.0.0.1", target.port or 5432))
    proxy.start()
    node, port = _start_serve(_with(url, port=proxy.port))
    try:
        async def scenario() -> None:
            async with client(port) as sub, client(port) as writer:
                await sub.send(op="subscribe", stream="events", after=33)
                await sub.until(lambda m: m["type"] == "caught_up")
                assert (await asyncio.to_thread(http, port, "/healthz"))[0] == 200
                proxy.stop()
                deadline = time.monotonic() + 10
                while (status := await asyncio.to_thread(http, port, "/healthz"))[0] != 503:
                    assert time.monotonic() < deadline, status
                    await asyncio.sleep(0.2)
                assert status[1]["status"] == "unavailable" and status[1]["reason"]
                event = {"type": "CityCaptured", "id": str(uuid.uuid4()), "occurred_on": "2014-06-17",
                         "place": "tikrit", "captured_by": "iraqi_forces", "sources": SOURCE}
                started = time.monotonic()
                reply = await writer.request(op="append", events=[event])
                assert (reply["type"], reply["code"]) == ("error", "unavailable"), reply
                assert time.monotonic() - started < 10, "appends fail fast while the database is away"
                report = tmp_path / "cli.json"  # an append by another writer meanwhile, straight to the database
                report.write_text(json.dumps([capture("homs", "isis", "2014-06-16")]))
                await asyncio.to_thread(_tracker, "append", str(report), "--db", url)
                proxy.start()
                deadline = time.monotonic() + 10
                while (await asyncio.to_thread(http, port, "/healthz"))[0] != 200:
                    assert time.monotonic() < deadline
                    await asyncio.sleep(0.2)
                await _expect_event(sub, 34, within=3.0)  # caught up with what was appended meanwhile
                reply = await writer.request(op="append", events=[event])  # the retry, same id
                assert reply["positions"] == [35], reply
                await _expect_event(sub, 35, within=3.0)
        asyncio.run(scenario())
    finally:
        _kill(node)
        proxy.close()
