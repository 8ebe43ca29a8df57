"""Wake-up sockets (tracker/store/wake.py): an append by another process wakes a SQLite
server at once, and polling still delivers when the wake-up path is broken.

Real parts: a real server on a loopback port, a real websocket subscriber, `tracker append`
as a real process, real Unix sockets in the folder beside a real SQLite file. Timing is
measured in benchmarks/wake.py; here the store's wake-up counter says which path delivered.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import stat
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import SOURCE, capture, client, run_tracker, seconds
from tests.conftest import serve_in_process as server
from tracker.store.base import NewEvent
from tracker.store.sqlite import SQLiteStore
from tracker.store.wake import SUFFIX, Notifier, folder_of


@pytest.fixture(scope="module")
def seeded_db(first_report_db: Path) -> Path:
    """The report as first shipped: 33 events, so the next append is position 34."""
    return first_report_db


def _report(tmp_path: Path, place: str = "baghdad") -> Path:
    report = tmp_path / f"{place}.json"
    report.write_text(json.dumps({"reported_on": "2014-07-24", "source": SOURCE[0],
                                  "events": [capture(place, "isis", "2014-06-15")]}))
    return report


async def _appended_by_another_process(db: Path, tmp_path: Path) -> tuple[dict, SQLiteStore]:
    """Serve `db`, subscribe at the head, `tracker append` one event from another process:
    the event as the subscriber got it, and the server's store."""
    async with server(db) as (port, tracker), client(port) as sub:
        await sub.send(op="subscribe", stream="events", after=33)
        await sub.until(lambda m: m["type"] == "caught_up")
        await asyncio.to_thread(run_tracker, "append", str(_report(tmp_path)), "--db", str(db))
        event = (await sub.until(lambda m: m["type"] == "event", timeout=seconds(5)))[-1]
        return event, tracker.store


async def test_an_append_by_another_process_wakes_the_server(db, tmp_path):
    event, store = await _appended_by_another_process(db, tmp_path)
    assert event["position"] == 34 and event["event"]["place"] == "baghdad"
    assert store.wakes >= 1  # the append's wake-up reached the server: it did not wait for a poll
    assert store.wake_socket is None  # closed with the store...
    assert not Path(f"{db}{SUFFIX}").exists()  # ...its socket file and the folder removed


async def test_the_fallback_delivers_when_the_wake_path_is_broken(db, tmp_path):
    Path(f"{db}{SUFFIX}").write_text("not a folder")  # no socket can be bound there, nor found by appenders
    async with server(db) as (port, tracker), client(port) as sub:
        await sub.send(op="subscribe", stream="events", after=33)
        await sub.until(lambda m: m["type"] == "caught_up")
        assert tracker.store.wake_socket is None
        done = await asyncio.to_thread(run_tracker, "append", str(_report(tmp_path)), "--db", str(db))
        assert "appended 1 event" in done.stdout  # the append neither failed nor complained
        event = (await sub.until(lambda m: m["type"] == "event", timeout=seconds(5)))[-1]
        assert event["position"] == 34
        assert tracker.store.wakes == 0  # polling delivered it
    assert Path(f"{db}{SUFFIX}").read_text() == "not a folder"


async def test_a_stale_socket_is_removed_and_other_files_left_alone(db, tmp_path):
    folder = Path(f"{db}{SUFFIX}")
    folder.mkdir()
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    dead.bind(str(folder / "1-dead.sock"))  # a server that died without closing: its file stays
    dead.close()
    (folder / "notes.txt").write_text("kept")
    (folder / "file.sock").write_text("kept: not a socket")
    event, store = await _appended_by_another_process(db, tmp_path)
    assert event["position"] == 34 and store.wakes >= 1
    assert sorted(p.name for p in folder.iterdir()) == ["file.sock", "notes.txt"]


def _event(n: int) -> list[NewEvent]:
    return [NewEvent(f"00000000-0000-4000-8000-{n:012d}", "Note", json.dumps({"n": n}))]


async def _woken_by_other_store(path: str, waiter: SQLiteStore, after: int) -> int:
    async with await SQLiteStore.open(path) as writer:
        waiting = asyncio.create_task(waiter.wait(after, timeout=seconds(10)))
        await asyncio.sleep(0)
        await writer.append(_event(after + 1))
        return await asyncio.wait_for(waiting, seconds(5))


async def test_a_removed_socket_is_bound_again(tmp_path, monkeypatch):
    monkeypatch.setattr(SQLiteStore, "POLL_AWAKE_S", 0.05)
    path = str(tmp_path / "t.db")
    async with await SQLiteStore.open(path) as store:
        await store.wait(0, timeout=0.01)
        first = store.wake_socket
        assert first is not None and stat.S_ISSOCK(first.lstat().st_mode)
        first.unlink()  # a cleaner swept the folder
        deadline = asyncio.get_running_loop().time() + seconds(5)
        while store.wake_socket in (None, first) and asyncio.get_running_loop().time() < deadline:
            await store.wait(0, timeout=0.2)  # a poll tick notices and binds a new socket
        assert store.wake_socket is not None and store.wake_socket != first and store.wake_socket.exists()
        assert await _woken_by_other_store(path, store, 0) == 1
        assert store.wakes >= 1


async def test_every_listening_store_is_woken_and_whoever_may_write_the_log_may_wake_them(tmp_path):
    path = str(tmp_path / "t.db")
    async with await SQLiteStore.open(path) as a, await SQLiteStore.open(path) as b:
        os.chmod(path, 0o664)
        await a.wait(0, timeout=0.01)
        await b.wait(0, timeout=0.01)
        assert a.wake_socket is not None and b.wake_socket is not None and a.wake_socket != b.wake_socket
        assert stat.S_IMODE(a.wake_socket.stat().st_mode) == 0o664
        assert stat.S_IMODE(a.wake_socket.parent.stat().st_mode) == 0o775
        waiting = asyncio.create_task(b.wait(0, timeout=seconds(10)))
        assert await _woken_by_other_store(path, a, 0) == 1
        assert await asyncio.wait_for(waiting, seconds(5)) == 1
        assert a.wakes >= 1 and b.wakes >= 1
    assert not Path(path + SUFFIX).exists()


async def test_a_long_path_is_reached_through_its_folder(tmp_path):
    deep = tmp_path / ("d" * 60) / ("e" * 60)  # longer than a Unix socket address holds
    deep.mkdir(parents=True)
    path = str(deep / "t.db")
    async with await SQLiteStore.open(path) as store:
        await store.wait(0, timeout=0.01)
        if store.wake_socket is None:
            pytest.skip("no /proc/self/fd here: long paths fall back to polling")
        assert len(str(store.wake_socket)) > 108
        assert await _woken_by_other_store(path, store, 0) == 1
        assert store.wakes >= 1


def test_only_a_file_has_a_wake_folder(tmp_path):
    assert folder_of(":memory:") is None and folder_of("file:t.db?mode=ro") is None
    assert folder_of(str(tmp_path / "t.db")) == tmp_path / f"t.db{SUFFIX}"


# ---------------------------------------------------------------- fuzz: whatever the folder holds

_ENTRY = st.sampled_from(["live", "stale", "file", "folder", "link", "dangling"])
_NAME = st.text(st.characters(codec="ascii", categories=("L", "N")), min_size=1, max_size=12)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=st.lists(st.tuples(_NAME, _ENTRY, st.booleans()), max_size=8, unique_by=lambda e: e[0]),
       as_file=st.booleans())
def test_notify_never_raises_and_wakes_exactly_the_live(tmp_path_factory, entries, as_file):
    """A wake-up is sent to every live socket, removes only dead sockets, leaves everything else
    as it was, and never raises, whatever the folder holds (or if it is a file)."""
    base = tmp_path_factory.mktemp("fuzz")
    folder = base / f"t.db{SUFFIX}"
    live: list[socket.socket] = []
    kept: set[str] = set()
    if as_file:
        folder.write_text("x")
    else:
        folder.mkdir()
    try:
        for stem, kind, suffixed in [] if as_file else entries:
            name = stem + (".sock" if suffixed else "")
            target = folder / name
            if kind in ("live", "stale"):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                s.bind(str(target))
                s.setblocking(False)
                if kind == "live":
                    live.append(s)
                    kept.add(name)
                else:
                    s.close()
                    if not suffixed:
                        kept.add(name)  # not named as a wake-up socket: not ours to remove
                continue
            if kind == "file":
                target.write_text("x")
            elif kind == "folder":
                target.mkdir()
            elif kind == "link":
                os.symlink(base, target)
            else:
                os.symlink(base / "nowhere", target)
            kept.add(name)
        notifier = Notifier(folder)
        try:
            notifier.notify()
        finally:
            notifier.close()
        if as_file:
            assert folder.read_text() == "x"
            return
        assert {p.name for p in folder.iterdir()} == kept
        for s, (stem, _kind, suffixed) in zip(live, [e for e in entries if e[1] == "live"], strict=True):
            try:
                got = s.recv(16)
            except BlockingIOError:
                got = b""
            assert got == (b"w" if suffixed else b""), (stem, suffixed)
    finally:
        for s in live:
            s.close()
