"""What the test files share: one timeout scale, seeded SQLite stores, the `tracker` command
as a subprocess, a real server on a free loopback port (in this process or as `tracker
serve`), websocket and HTTP clients for it, PostgreSQL databases of their own, and event
builders.

Fixtures here are found by pytest; helpers are imported: `from tests.conftest import ...`.

Timeouts: every wait in the tests is `seconds(n)`, n scaled by TRACKER_TEST_TIMEOUT_SCALE
(default 1) for a slow or loaded machine; browser waits in milliseconds are `ms(n)`. What
the issues require of the system ("within a second") stays a literal bound in the test that
checks it: the scale stretches how long a test waits, not what it accepts.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]

# ---------------------------------------------------------------- timeouts

TIMEOUT_SCALE = float(os.environ.get("TRACKER_TEST_TIMEOUT_SCALE") or 1)
if TIMEOUT_SCALE <= 0:
    raise ValueError(f"TRACKER_TEST_TIMEOUT_SCALE must be a positive number, got {TIMEOUT_SCALE}")


def seconds(n: float) -> float:
    """A wait or timeout of `n` seconds on a normal machine, scaled by TIMEOUT_SCALE."""
    return n * TIMEOUT_SCALE


def ms(n: float) -> int:
    """`seconds` in whole milliseconds, for APIs that take them (Playwright's timeouts)."""
    return round(n * TIMEOUT_SCALE)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """pytest-timeout's per-test limit (pyproject's `timeout`, or --timeout) scales too: set
    here, before pytest-timeout's own pytest_configure reads it."""
    if TIMEOUT_SCALE == 1 or not config.pluginmanager.has_plugin("timeout"):
        return
    limit = config.getoption("timeout", None) or config.getini("timeout")
    if limit:
        config.option.timeout = float(limit) * TIMEOUT_SCALE


# ---------------------------------------------------------------- event builders

SOURCE = [{"publisher": "Test Wire", "url": "https://example.org/wire"}]


def capture(place: str, by: str, day: str, **extra: Any) -> dict[str, Any]:
    """A CityCaptured event as a client sends it (names, not yet ids)."""
    return {"type": "CityCaptured", "occurred_on": day, "place": place, "captured_by": by, "sources": SOURCE, **extra}


def jsonl(*records: object) -> str:
    """JSON Lines: each record dumped, or a string taken as the line it is (malformed on purpose)."""
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records)


# ---------------------------------------------------------------- the `tracker` command


def tracker_env(**extra: str) -> dict[str, str]:
    """This process's environment without the variables that would point a command at another
    store, token or log level than the test says."""
    env = {k: v for k, v in os.environ.items() if k not in ("TRACKER_DB", "TRACKER_DEBUG", "TRACKER_TOKEN")}
    env.update(extra)
    return env


def run_tracker(*args: str, cwd: Path | str | None = None, env: dict[str, str] | None = None,
                stdin: str | None = None, expect: int | None = 0,
                timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`python -m tracker ARGS` as a real process; checks that no traceback leaked and, unless
    `expect` is None, the exit status. `timeout` is in unscaled seconds."""
    done = subprocess.run([sys.executable, "-m", "tracker", *args], cwd=cwd, env=env or tracker_env(),
                          input=stdin, capture_output=True, text=True, timeout=seconds(timeout))
    assert "Traceback" not in done.stderr, done.stderr
    if expect is not None:
        assert done.returncode == expect, \
            f"{args}: exit {done.returncode}\nstdout: {done.stdout}\nstderr: {done.stderr}"
    return done


def tracker_on(db: Path, *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    """`run_tracker` on the store `db`, in its folder unless `cwd` says otherwise."""
    return run_tracker(*args, "--db", str(db), cwd=kw.pop("cwd", db.parent), **kw)


# ---------------------------------------------------------------- SQLite stores


def copy_store(source: Path, target: Path) -> Path:
    """A copy of the SQLite store `source` at `target`, its WAL and shared-memory files included."""
    target.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{source}{suffix}").exists():
            shutil.copy(f"{source}{suffix}", f"{target}{suffix}")
    return target


def stored_rows(db: Path) -> list[tuple[Any, ...]]:
    """Every row of the SQLite store `db`, read from the file itself (what a refused batch must leave alone)."""
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT * FROM events ORDER BY position").fetchall()


def load_report(path: Path) -> Any:
    """A report file parsed as `tracker append` parses it (a tracker.core.reports batch)."""
    from tracker.core.reports import parse

    return parse(path.read_text(encoding="utf-8"), str(path))


async def append_seeds(tracker: Any, reports: list[Path] | None = None) -> None:
    """Append the seed reports (every shipped one unless `reports` says which) to `tracker`
    (a tracker.service.Tracker), in order."""
    from tracker.seeds import seed_files

    for path in seed_files() if reports is None else reports:
        await tracker.append(load_report(path))


def seed_store(path: Path, reports: list[Path] | None = None) -> Path:
    """A SQLite store at `path` holding the seeds (or `reports`), built in this process."""
    from tracker.service import Tracker

    async def build() -> None:
        async with await Tracker.open(str(path)) as tracker:
            await append_seeds(tracker, reports)
    asyncio.run(build())
    return path


@pytest.fixture(scope="session")
def seeded_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One seeded SQLite store for the session: never written to, tests take copies (`db`).
    A module may override it with a store of its own (test_cli seeds through the command; the
    server tests take `first_report_db`)."""
    return seed_store(tmp_path_factory.mktemp("seeded") / "seeded.db")


@pytest.fixture(scope="session")
def first_report_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One store for the session seeded with the first seed report alone, the report as first
    shipped (33 events; its corrections file is test_seeds'), never written to. The server
    tests count on its positions: their modules override `seeded_db` with it, so that `db`
    copies it."""
    from tracker.seeds import seed_files

    return seed_store(tmp_path_factory.mktemp("first-report") / "seeded.db", seed_files()[:1])


@pytest.fixture
def db(seeded_db: Path, tmp_path: Path) -> Path:
    """A private copy of the seeded store, alone in a folder of its own (tmp_path/store)."""
    return copy_store(seeded_db, tmp_path / "store" / "tracker.db")


# ---------------------------------------------------------------- a real server


@asynccontextmanager
async def serve_in_process(db: Path | str, **settings: Any) -> AsyncIterator[tuple[int, Any]]:
    """`tracker serve` in this process on a free loopback port: yields (port, tracker); stops cleanly."""
    from tracker.server import Settings, run
    from tracker.service import Tracker

    tracker = await Tracker.open(str(db))
    loop = asyncio.get_running_loop()
    stop, ready = loop.create_future(), loop.create_future()
    task = asyncio.create_task(run(tracker, Settings(port=0, **settings), ready=ready.set_result, stop=stop))
    try:
        port = await asyncio.wait_for(asyncio.shield(ready), seconds(5))
        yield port, tracker
    finally:
        if not stop.done():
            stop.set_result("test over")
        await asyncio.wait_for(task, seconds(5))
        await tracker.close()


_SERVE_LOGS: dict[int, tuple[threading.Thread, list[str]]] = {}


def start_serve(db: Path | str, *args: str) -> tuple[subprocess.Popen[str], int]:
    """`tracker serve --port 0` as a real process: (the process, the port it says it listens on).
    Its log (stderr, INFO: a line per connection and append) is read from then on by a thread,
    so a busy server never blocks on a full pipe; `serve_log(process)` gives it."""
    process = subprocess.Popen([sys.executable, "-m", "tracker", "serve", "--port", "0", "--db", str(db), *args],
                               stderr=subprocess.PIPE, text=True, env=tracker_env())
    stderr = process.stderr
    assert stderr is not None
    deadline = time.monotonic() + seconds(30)
    lines: list[str] = []
    while time.monotonic() < deadline:
        line = stderr.readline()
        lines.append(line)
        found = re.search(r"at http://127\.0\.0\.1:(\d+)/", line)
        if found:
            drain = threading.Thread(target=lambda: lines.extend(stderr), daemon=True)
            drain.start()
            _SERVE_LOGS[process.pid] = (drain, lines)
            return process, int(found.group(1))
        if not line and process.poll() is not None:
            break
    process.kill()
    raise AssertionError("tracker serve did not start:\n" + "".join(lines))


def serve_lines(process: subprocess.Popen[str]) -> list[str]:
    """The lines a server from `start_serve` has logged so far (the list grows as it logs)."""
    return _SERVE_LOGS[process.pid][1]


def serve_log(process: subprocess.Popen[str]) -> str:
    """What a server from `start_serve` logged, once it has exited."""
    drain, lines = _SERVE_LOGS.pop(process.pid)
    drain.join(seconds(10))
    return "".join(lines)


def stop_process(process: subprocess.Popen[Any]) -> None:
    """SIGTERM, then SIGKILL if it has not exited in time; nothing if it is gone already."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(seconds(10))
        except subprocess.TimeoutExpired:
            process.kill()


class Client:
    """A websocket client of the server's protocol: JSON in, JSON out, every wait bounded."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws

    async def send(self, **message: Any) -> None:
        await self.ws.send(json.dumps(message))

    async def recv(self, timeout: float | None = None) -> dict[str, Any]:
        """The next message; `timeout` in seconds as given (default: seconds(5))."""
        return json.loads(await asyncio.wait_for(self.ws.recv(), seconds(5) if timeout is None else timeout))

    async def request(self, **message: Any) -> dict[str, Any]:
        await self.send(**message)
        return await self.recv()

    async def until(self, predicate: Callable[[dict[str, Any]], bool],
                    timeout: float | None = None) -> list[dict[str, Any]]:
        """Messages up to and including the first that satisfies `predicate`."""
        out = []
        deadline = time.monotonic() + (seconds(5) if timeout is None else timeout)
        while True:
            out.append(await self.recv(max(0.01, deadline - time.monotonic())))
            if predicate(out[-1]):
                return out

    async def until_each(self, *predicates: Callable[[dict[str, Any]], bool],
                         timeout: float | None = None) -> list[dict[str, Any]]:
        """Messages until each predicate has been met by one of them, in whatever order they
        come: a reply and what a subscription pushes, or two subscriptions' messages, are in no
        order docs/protocol.md promises."""
        pending = list(predicates)
        out = []
        deadline = time.monotonic() + (seconds(5) if timeout is None else timeout)
        while pending:
            out.append(await self.recv(max(0.01, deadline - time.monotonic())))
            pending = [p for p in pending if not p(out[-1])]
        return out


@asynccontextmanager
async def client(port: int, **kw: Any) -> AsyncIterator[Client]:
    """A connected Client. Every message it receives, read or not, is checked against
    docs/asyncapi.yaml when the test ends (`messages_match_the_asyncapi_document`)."""
    from websockets.asyncio.client import connect

    from tests.contracts import RecordingConnection

    kw.setdefault("create_connection", RecordingConnection)
    async with connect(f"ws://127.0.0.1:{port}/ws", open_timeout=seconds(5), **kw) as ws:
        yield Client(ws)


@pytest.fixture(autouse=True)
def messages_match_the_asyncapi_document() -> Iterator[None]:
    """After each test, every message its websocket clients received must be one that
    docs/asyncapi.yaml describes: a shape the server sends and the document forgets fails here."""
    from tests.contracts import RECORDER, problems

    RECORDER.take()
    yield
    found = problems(RECORDER.take())
    if found:
        pytest.fail(f"{len(found)} message(s) the AsyncAPI document does not describe:\n" + "\n".join(found[:5]),
                    pytrace=False)


def free_port() -> int:
    """A loopback port free now, for a server process told to listen on it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(port: int, path: str) -> tuple[int, Any]:
    """GET a JSON answer from the server: (status, body), errors included."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=seconds(5)) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


# ---------------------------------------------------------------- PostgreSQL

PG_ENV = "TRACKER_TEST_PG_DSN"
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/postgres"  # a local server, trust auth: as .ci/run and the README


def _local_postgres() -> tuple[str | None, str]:
    """(DSN, what was found): the DSN from TRACKER_TEST_PG_DSN when set; else the default
    address if a server answers there (a second at most); else None and why not."""
    given = os.environ.get(PG_ENV)
    if given:
        return given, f"{PG_ENV}={given}"
    try:
        import asyncpg
    except ModuleNotFoundError:
        return None, "asyncpg is not installed (pip install '.[test,postgres]')"

    async def probe() -> None:
        conn = await asyncpg.connect(PG_DEFAULT, timeout=2)
        await conn.close()

    try:
        asyncio.run(probe())
    except Exception as e:
        return None, f"no PostgreSQL server answered at {PG_DEFAULT} ({type(e).__name__}: {str(e)[:120]})"
    return PG_DEFAULT, f"the local server at {PG_DEFAULT} ({PG_ENV} not set)"


PG_DSN, PG_FOUND = _local_postgres()
PG_EXPLICIT = bool(os.environ.get(PG_ENV))  # tests that stop the server itself run only when asked (test_pg_crash)
PG_HOW = (f"PostgreSQL tests skipped: {PG_FOUND}; start a local server there, or set {PG_ENV} to a server's DSN "
          f"that may create databases, e.g. {PG_ENV}={PG_DEFAULT}")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say plainly which PostgreSQL the suite used, or how many tests it skipped and why."""
    skipped = [r for r in terminalreporter.stats.get("skipped", [])
               if "PostgreSQL" in str(getattr(r, "longrepr", ""))]
    terminalreporter.section("PostgreSQL")
    if PG_DSN:
        note = f"; {len(skipped)} skipped (reasons in the short test summary)" if skipped else ""
        terminalreporter.write_line(f"PostgreSQL tests ran against {PG_FOUND}{note}")
    else:
        terminalreporter.write_line(f"{len(skipped)} PostgreSQL tests skipped: {PG_FOUND}. Start a server there "
                                    f"(trust auth for user postgres) or set {PG_ENV}.", yellow=True)


def pg_server_dsn() -> str:
    """The DSN from the environment; skip when unset (fail when set but unreachable: see pg_admin())."""
    if not PG_DSN:
        pytest.skip(PG_HOW)
    return PG_DSN


def pg_url(dsn: str, *, database: str | None = None, port: int | None = None) -> str:
    """`dsn` naming another database, or another port on the same host."""
    parts = urlsplit(dsn)
    netloc = parts.netloc
    if port is not None:
        netloc = netloc.rsplit(":", 1)[0] + f":{port}"
    return urlunsplit((parts.scheme, netloc, f"/{database}" if database else parts.path, parts.query, ""))


def pg_database_name(dsn: str) -> str:
    return urlsplit(dsn).path.lstrip("/")


async def pg_admin() -> Any:
    """A connection to the server's admin database (an asyncpg.Connection)."""
    import asyncpg

    dsn = pg_server_dsn()
    try:
        return await asyncpg.connect(dsn, timeout=seconds(10))
    except Exception as e:  # set but unreachable: a failure, never a skip
        pytest.fail(f"{PG_ENV} is set but the server cannot be reached ({type(e).__name__}: {e})", pytrace=False)


async def pg_terminate(dsn: str) -> int:
    """Kill every connection to the database `dsn` names but ours (as a restarted server would)."""
    conn = await pg_admin()
    try:
        return await conn.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1 "
            "AND pid <> pg_backend_pid()", pg_database_name(dsn))
    finally:
        await conn.close()


class Databases:
    """Fresh databases with unique names, all dropped at the end."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.server = pg_server_dsn()

    async def create(self) -> str:
        name = f"tracker_test_{uuid.uuid4().hex[:16]}"
        conn = await pg_admin()
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        self.names.append(name)
        return pg_url(self.server, database=name)

    async def drop_all(self) -> None:
        if not self.names:
            return
        conn = await pg_admin()
        try:
            for name in self.names:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()
        self.names.clear()


@pytest.fixture
async def databases() -> AsyncIterator[Databases]:
    """Fresh PostgreSQL databases on demand (`await databases.create()`), dropped after the test."""
    dbs = Databases()
    yield dbs
    await dbs.drop_all()


@pytest.fixture
def pg_dsn() -> Iterator[str]:
    """The DSN of a fresh, empty PostgreSQL database of the test's own, dropped after it. A plain
    fixture (its own event loops), so that tests which run asyncio.run() themselves can use it."""
    dbs = Databases()
    dsn = asyncio.run(dbs.create())
    yield dsn
    asyncio.run(dbs.drop_all())
