"""A serving node's image (tracker/images.py): the timeline kept at a clean shutdown and read
back at the next start is a cache. Read back and caught up with what the log gained since,
it answers as a timeline folded from the log does; an image of another log, of other code,
truncated or foreign is ignored (never run), and the log folded instead."""

from __future__ import annotations

import asyncio
import os
import pickle
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import pytest

from benchmarks import bare, workload
from tests.conftest import append_seeds, free_port, http, seconds, seed_store, stop_process, tracker_env
from tracker import images
from tracker.core.projections import PROJECTIONS
from tracker.core.timeline import Timeline
from tracker.seeds import seed_files
from tracker.service import Tracker


def _answers(timeline: Timeline) -> list:
    """Every projection's rendered state at a spread of dates, now and as known a while back."""
    span = timeline.span()
    assert span is not None
    first, last = date.fromisoformat(span[0]), date.fromisoformat(span[1])
    days = [(first + timedelta(days=d)).isoformat() for d in range(-1, (last - first).days + 2, 3)]
    out = []
    for name in PROJECTIONS:
        for day in days:
            out.append(timeline.render(name, day))
    return out


async def _fresh(path: Path) -> Timeline:
    async with await Tracker.open(str(path)) as tracker:
        return await tracker.catch_up()


def test_an_image_read_back_and_caught_up_answers_as_the_log_does(tmp_path: Path) -> None:
    first, corrections = seed_files()[:2]
    db = seed_store(tmp_path / "t.db", [first])
    image = str(tmp_path / "t.db.image")

    async def scenario() -> None:
        async with await Tracker.open(str(db)) as tracker:
            timeline = await tracker.catch_up()
            while not timeline.prepare(1_000):
                pass
            before = _answers(timeline)
            assert await images.save(tracker.store, timeline, image)
            kept = await images.load(tracker.store, image)
            assert kept is not None and kept.head == timeline.head
            assert _answers(kept) == before
            # the log gains late reports and retractions: the image's checkpoints they make
            # stale are dropped as the catch-up folds them in, as in a node that never stopped
            await append_seeds(tracker, [corrections])
            tracker.timeline = kept
            caught = await tracker.catch_up()
            assert caught.head > timeline.head
            assert _answers(caught) == _answers(await _fresh(db))

    asyncio.run(scenario())


def test_an_image_of_another_log_or_other_code_is_ignored(tmp_path: Path) -> None:
    db = seed_store(tmp_path / "a.db", seed_files()[:1])
    again = seed_store(tmp_path / "again.db", seed_files()[:1])  # the same events, recorded at other times
    other = tmp_path / "b.db"
    bare.build_log(str(other), workload.rows(100))  # other events at the same positions
    image = str(tmp_path / "a.db.image")

    async def scenario() -> None:
        async with await Tracker.open(str(db)) as tracker:
            assert await images.save(tracker.store, await tracker.catch_up(), image)
        for path in (again, other):
            async with await Tracker.open(str(path)) as tracker:
                assert await images.load(tracker.store, image) is None
        empty = tmp_path / "empty.db"
        async with await Tracker.open(str(empty)) as tracker:  # a log shorter than the image's head
            assert await images.load(tracker.store, image) is None

    asyncio.run(scenario())


def test_an_image_made_by_other_code_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = seed_store(tmp_path / "a.db", seed_files()[:1])
    image = str(tmp_path / "a.db.image")

    async def scenario() -> None:
        async with await Tracker.open(str(db)) as tracker:
            timeline = await tracker.catch_up()
            monkeypatch.setattr(images, "code_version", lambda: "another")
            assert await images.save(tracker.store, timeline, image)
            monkeypatch.undo()
            assert await images.load(tracker.store, image) is None
            assert await images.save(tracker.store, timeline, image)  # replaced by this code's
            assert await images.load(tracker.store, image) is not None

    asyncio.run(scenario())


class _Boom:
    def __reduce__(self) -> tuple:
        return (os.system, ("touch " + os.environ["BOOM_PATH"],))


@pytest.mark.parametrize("damage", ["truncated", "foreign", "garbage"])
def test_a_damaged_or_foreign_image_is_ignored_and_never_run(tmp_path: Path, damage: str,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    db = seed_store(tmp_path / "a.db", seed_files()[:1])
    image = tmp_path / "a.db.image"
    boom = tmp_path / "boom"
    monkeypatch.setenv("BOOM_PATH", str(boom))

    async def scenario() -> None:
        async with await Tracker.open(str(db)) as tracker:
            timeline = await tracker.catch_up()
            assert await images.save(tracker.store, timeline, str(image))
            data = image.read_bytes()
            if damage == "truncated":
                image.write_bytes(data[:len(data) // 2])
            elif damage == "foreign":  # the right header, then a pickle that names code to run
                with open(image, "rb") as f:
                    header = pickle.load(f)
                image.write_bytes(pickle.dumps(header) + pickle.dumps(_Boom()))
            else:
                image.write_bytes(b"not a pickle at all" * 100)
            assert await images.load(tracker.store, str(image)) is None

    asyncio.run(scenario())
    assert not boom.exists()


def _serve(db: Path, said: Path, *args: str) -> tuple[subprocess.Popen[bytes], int]:
    """`tracker serve` as a real process, its log in `said`, once /healthz answers 200."""
    port = free_port()
    with open(said, "w") as out:
        process = subprocess.Popen([sys.executable, "-m", "tracker", "serve", "--port", str(port), "--db", str(db),
                                    *args], stdout=out, stderr=subprocess.STDOUT, env=tracker_env())
    deadline = time.monotonic() + seconds(30)
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if http(port, "/healthz")[0] == 200:
                return process, port
        except OSError:
            pass
        time.sleep(0.02)
    stop_process(process)
    raise AssertionError("tracker serve did not start:\n" + said.read_text())


def test_serve_keeps_its_image_at_shutdown_and_starts_from_it(tmp_path: Path) -> None:
    db = seed_store(tmp_path / "t.db", seed_files()[:1])
    image = Path(str(db) + images.SUFFIX)
    said = tmp_path / "serve.log"
    process, port = _serve(db, said)
    try:
        status, before = http(port, "/api/state/territory?as_of=2014-06-20")
        assert status == 200
    finally:
        stop_process(process)
    assert process.returncode == 0 and image.exists(), said.read_text()
    # the log gains events while no server runs: the next start reads the image, then folds them
    added = subprocess.run([sys.executable, "-m", "tracker", "append", "--db", str(db), str(seed_files()[1])],
                           env=tracker_env(), capture_output=True, text=True, timeout=seconds(60))
    assert added.returncode == 0, added.stderr
    process, port = _serve(db, said)
    try:
        after = http(port, "/api/state/territory?as_of=2014-06-20")[1]
    finally:
        stop_process(process)
    assert "image read" in said.read_text() and "image ignored" not in said.read_text(), said.read_text()
    fresh = tmp_path / "fresh.db"
    seed_store(fresh, seed_files()[:2])
    process, port = _serve(fresh, said, "--image", "off")
    try:
        assert after == http(port, "/api/state/territory?as_of=2014-06-20")[1]
    finally:
        stop_process(process)
    assert not Path(str(fresh) + images.SUFFIX).exists()
    assert before != after  # the corrections changed that date's answer: the image did not hide them


def test_a_bad_image_option_is_refused(tmp_path: Path) -> None:
    db = seed_store(tmp_path / "t.db", seed_files()[:1])
    done = subprocess.run([sys.executable, "-m", "tracker", "serve", "--db", str(db), "--port", str(free_port()),
                           "--image", str(tmp_path / "missing" / "x.image")],
                          env=tracker_env(), capture_output=True, text=True, timeout=seconds(30))
    assert done.returncode != 0 and "--image" in done.stderr and "does not exist" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_writer_killed_mid_write_leaves_no_litter(tmp_path: Path) -> None:
    db = seed_store(tmp_path / "a.db", seed_files()[:1])
    image = str(tmp_path / "a.db.image")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    leftover = Path(f"{image}.{dead.pid}.tmp")
    leftover.write_bytes(b"half an image")
    alive = Path(f"{image}.{os.getppid()}.tmp")  # a live process's: perhaps writing now
    alive.write_bytes(b"being written")

    async def scenario() -> None:
        async with await Tracker.open(str(db)) as tracker:
            assert await images.save(tracker.store, await tracker.catch_up(), image)
            assert await images.load(tracker.store, image) is not None

    asyncio.run(scenario())
    assert not leftover.exists() and alive.exists()
