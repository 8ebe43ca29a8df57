"""`tracker export`, `import` and `verify` end to end: a log moves between stores intact."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_tracker as run
from tests.conftest import tracker_on as run_tracker


def test_export_import_verify_round_trip(seeded_db, tmp_path):
    exported = tmp_path / "log.jsonl"
    run_tracker(seeded_db, "export", "-o", str(exported))
    lines = [json.loads(line) for line in exported.read_text().splitlines()]
    assert [r["position"] for r in lines] == list(range(1, len(lines) + 1))
    assert set(lines[0]) == {"position", "id", "recorded_at", "event"}
    copy = tmp_path / "copy.db"
    done = run_tracker(copy, "import", str(exported))
    assert f"imported {len(lines)} events" in done.stdout
    a, b = (json.loads(run_tracker(db, "verify", "--json").stdout) for db in (seeded_db, copy))
    assert a == b and a["events"] == len(lines) and len(a["sha256"]) == 64
    assert run_tracker(copy, "log", "--json").stdout == run_tracker(seeded_db, "log", "--json").stdout
    # Appends go on after the imported head, and the digests part ways.
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps({"type": "CityCaptured", "occurred_on": "2014-06-15", "place": "baghdad",
                                 "captured_by": "isis", "sources": [{"publisher": "t"}]}))
    assert f"position {len(lines) + 1}" in run_tracker(copy, "append", str(extra)).stdout
    assert json.loads(run_tracker(copy, "verify", "--json").stdout)["sha256"] != a["sha256"]


def test_import_refuses_a_store_that_has_events(db, tmp_path):
    exported = tmp_path / "log.jsonl"
    run_tracker(db, "export", "-o", str(exported))
    done = run_tracker(db, "import", str(exported), expect=3)
    assert "needs an empty log" in done.stderr


@pytest.mark.parametrize("change, words", [
    (lambda r: {**r, "position": r["position"] + 1}, "position"),
    (lambda r: {**r, "recorded_at": "yesterday"}, "recorded_at"),
    (lambda r: {**r, "event": {**r["event"], "type": "Rumour"}}, "event"),
    (lambda r: {"position": r["position"]}, "stored record"),
])
def test_a_bad_export_is_refused_whole(seeded_db, tmp_path, change, words):
    exported = tmp_path / "log.jsonl"
    run_tracker(seeded_db, "export", "-o", str(exported))
    records = [json.loads(line) for line in exported.read_text().splitlines()]
    records[1] = change(records[1])
    exported.write_text("\n".join(json.dumps(r) for r in records))
    target = tmp_path / "target.db"
    done = run_tracker(target, "import", str(exported), expect=2)
    assert words in done.stderr and "log.jsonl" in done.stderr
    assert not target.exists() or json.loads(run_tracker(target, "verify", "--json").stdout)["events"] == 0


def test_a_sqlite_log_moves_into_postgresql_intact(seeded_db, tmp_path, pg_dsn):
    url = pg_dsn
    exported = tmp_path / "log.jsonl"
    run_tracker(seeded_db, "export", "-o", str(exported))
    assert "imported" in run("import", str(exported), "--db", url, cwd=tmp_path).stdout
    here = json.loads(run_tracker(seeded_db, "verify", "--json").stdout)
    there = json.loads(run("verify", "--json", "--db", url, cwd=tmp_path).stdout)
    assert here == there and here["events"] > 0
    assert run("state", "territory", "--json", "--db", url, cwd=tmp_path).stdout == \
        run_tracker(seeded_db, "state", "territory", "--json").stdout
    assert run("import", str(exported), "--db", url, cwd=tmp_path, expect=3).stderr
