"""Bad input through the real `tracker` command: exit status 2, one clear message naming
the record, the field and the reason, no traceback, and nothing of the batch stored.

Every bad record comes last, after good ones that would register and use a new actor:
the batch must still be refused whole.
"""

from __future__ import annotations

import json
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from tests.conftest import copy_store, jsonl, run_tracker, stored_rows, tracker_env

SRC = [{"publisher": "Reuters"}]
GOOD = [
    {"type": "ActorRegistered", "actor": "kataib_hezbollah", "name": "Kata'ib Hezbollah", "aliases": ["KH"],
     "kind": "militia", "sources": SRC},
    {"type": "AssaultLaunched", "occurred_on": "2014-06-14", "place": "tikrit",
     "attacker": "KH", "sources": SRC},
]
AFTER_TODAY = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()  # later than today in any zone


def run(*args: str, cwd: Path, env: dict[str, str] | None = None,
        stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """The command, whatever its exit status (each test says what it expects)."""
    return run_tracker(*args, cwd=cwd, env=env, stdin=stdin, expect=None)


def refused(done: subprocess.CompletedProcess[str]) -> list[str]:
    """The issue lines of a refused batch, after checking the shape of the refusal."""
    assert done.returncode == 2, f"exit {done.returncode}\nstdout: {done.stdout}\nstderr: {done.stderr}"
    assert "Traceback" not in done.stderr and done.stdout == ""
    first, *issues = done.stderr.splitlines()
    assert first.startswith("tracker: error: ") and first.endswith("; nothing was stored"), done.stderr
    assert done.stderr.count("tracker:") == 1  # one message
    assert issues and all(line.startswith("  ") for line in issues), done.stderr
    return [line.strip() for line in issues]


def error(done: subprocess.CompletedProcess[str]) -> str:
    """The one-line message of a refused command that names no record."""
    assert done.returncode == 2, f"exit {done.returncode}\nstdout: {done.stdout}\nstderr: {done.stderr}"
    assert "Traceback" not in done.stderr and done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("tracker: error: "), done.stderr
    return lines[0]


def capture(**fields: object) -> dict:
    return {"type": "CityCaptured", "occurred_on": "2014-06-10", "place": "mosul", "captured_by": "isis",
            "sources": SRC, **fields}


def without(record: dict, key: str) -> dict:
    return {k: v for k, v in record.items() if k != key}


BAD_RECORDS = [  # (case, the bad record, its field, a phrase of the reason)
    ("malformed JSON", '{"type": "CityCaptured", "occurred_on": "2014-06-10",', None, "malformed JSON"),
    ("unknown type", capture(type="CityCapture"), "type",
     "unknown event type 'CityCapture' (did you mean 'CityCaptured'?)"),
    ("missing field", without(capture(), "captured_by"), "captured_by", "required field is missing"),
    ("extra field", capture(captured_at="2014-06-10"), "captured_at", "unknown field for CityCaptured"),
    ("negative quantity", {"type": "AssetSeized", "occurred_on": "2014-06-10", "actor": "isis", "asset": "Humvee",
                           "quantity": -5, "sources": SRC}, "quantity", "greater than or equal to 0"),
    ("count as text", {"type": "AssetSeized", "occurred_on": "2014-06-10", "actor": "isis", "asset": "Humvee",
                       "quantity": "12", "sources": SRC}, "quantity", "expected a whole number, got '12'"),
    ("count too large", {"type": "AssetSeized", "occurred_on": "2014-06-10", "actor": "isis", "asset": "Humvee",
                         "quantity": 10 ** 30, "sources": SRC}, "quantity", "too large to store"),
    ("impossible date", capture(occurred_on="2014-13-45"), "occurred_on", "'2014-13-45' is not a real calendar date"),
    ("day-first date", capture(occurred_on="14/06/2014"), "occurred_on", "expected an ISO date YYYY-MM-DD"),
    ("timestamp number", capture(occurred_on=1402444800), "occurred_on", "expected an ISO date YYYY-MM-DD"),
    ("date and time", capture(occurred_on="2014-06-10T08:00:00"), "occurred_on", "expected an ISO date YYYY-MM-DD"),
    ("in the future", capture(occurred_on=AFTER_TODAY), "occurred_on", "is later than the recording date"),
    ("reported in the future", capture(reported_on=AFTER_TODAY), "reported_on", "is later than the recording date"),
    ("reported before it occurred", capture(occurred_on="2014-06-10", reported_on="2014-06-09"), "reported_on",
     "2014-06-09 is before occurred_on 2014-06-10"),
    ("no source", capture(sources=[]), "sources", "at least 1 item"),
    ("source without publisher", capture(sources=[{"title": "x"}]), "sources[0].publisher",
     "required field is missing"),
    ("unknown place", capture(place="Mosull"), "place", "unknown place 'Mosull' (did you mean 'mosul'?)"),
    ("unknown actor", capture(captured_by="Islamic Stat"), "captured_by",
     "unknown actor 'Islamic Stat' (did you mean 'isis'?)"),
    ("unknown actor, no close match", capture(captured_by="zzz"), "captured_by",
     "unknown actor 'zzz' (register it first with an ActorRegistered event)"),
    ("event over 1 MiB", capture(notes="x" * 1_100_000), None, "over the 1,048,576-byte limit"),
    ("NUL character", capture(notes="pasted\u0000text"), "notes", "contains a NUL character (\\u0000) (remove it)"),
    ("retraction of an unknown id", {"type": "EventRetracted", "retracts": "0190c5a0-0000-7000-8000-000000000000",
                                     "reason": "wrong", "sources": SRC}, "retracts",
     "no stored event has id 0190c5a0-0000-7000-8000-000000000000"),
    ("retraction of a registration", {"type": "EventRetracted", "retracts": "2fd8b9b3-f4b2-5633-b574-59c8a7ac0033",
                                      "reason": "wrong", "sources": SRC}, "retracts", "cannot be retracted"),
    ("alias naming another actor", {"type": "ActorRegistered", "actor": "daesh", "name": "Daesh",
                                    "aliases": ["Islamic State in Iraq and Syria"], "kind": "armed group",
                                    "sources": SRC}, "aliases",
     "'Islamic State in Iraq and Syria' already names actor 'isis'"),
    ("alias naming an actor earlier in the batch", {"type": "ActorRegistered", "actor": "hezbollah_brigades",
                                                    "name": "Hezbollah Brigades", "aliases": ["kh"],
                                                    "kind": "militia", "sources": SRC}, "aliases",
     "'kh' already names actor 'kataib_hezbollah'"),
    ("bad id", {"type": "ActorRegistered", "actor": "Daesh Group", "name": "Daesh", "kind": "armed group",
                "sources": SRC}, "actor", "is not a valid id"),
    ("not an object", [1, 2], None, "expected an event (a JSON object), got a list"),
    ("nested too deeply", "[" * 100_000, None, "malformed JSON: nested too deeply"),
    ("report without source", {"reported_on": "2014-06-12", "events": [without(capture(), "sources")]},
     "sources", "required field is missing"),
    ("report with an unknown key", {"reported_on": "2014-06-12", "source": SRC[0], "sources": SRC, "events": []},
     "sources", "unknown field for a report"),
]


@pytest.fixture(scope="module")
def bad_record_runs(seeded_db: Path, tmp_path_factory) -> dict[str, tuple]:
    """Each bad case appended to its own copy of the seeded store, side by side (each run
    costs ~0.5 s of CPU): case -> (the run, rows before, rows after)."""
    def attempt(case: tuple) -> tuple:
        folder = tmp_path_factory.mktemp("bad")
        db = copy_store(seeded_db, folder / "tracker.db")
        (folder / "bad.jsonl").write_text(jsonl(*GOOD, case[1]))
        before = stored_rows(db)
        done = run("append", "bad.jsonl", cwd=folder)
        return done, before, stored_rows(db)

    with ThreadPoolExecutor(os.cpu_count() or 2) as pool:
        return dict(zip((case[0] for case in BAD_RECORDS), pool.map(attempt, BAD_RECORDS), strict=True))


@pytest.mark.parametrize(("case", "record", "field", "reason"), BAD_RECORDS, ids=[case[0] for case in BAD_RECORDS])
def test_bad_record_last_in_a_jsonl_batch(bad_record_runs, case: str, record: object, field: str | None,
                                          reason: str) -> None:
    done, before, after = bad_record_runs[case]
    (issue,) = refused(done)
    where = "bad.jsonl:3" + (" (events[0])" if isinstance(record, dict) and record.get("events") else "")
    assert issue.startswith(f"{where}: " + (f"field '{field}': " if field else "")), issue
    if not field:
        assert "field '" not in issue
    assert reason in issue
    assert after == before


def test_the_good_batch_alone_is_stored(db: Path) -> None:
    """The prefix every bad case shares is good: it is the bad record that sinks a batch."""
    (db.parent / "good.jsonl").write_text(jsonl(*GOOD))
    before = len(stored_rows(db))
    done = run("append", "good.jsonl", cwd=db.parent)
    assert done.returncode == 0 and done.stdout.startswith("appended 2 events"), done.stderr
    assert len(stored_rows(db)) == before + 2


def test_malformed_json_file(db: Path) -> None:
    (db.parent / "bad.json").write_text('{\n  "reported_on": "2014-06-12",\n  "events": [\n    {"type": }\n  ]\n}\n')
    (issue,) = refused(run("append", "bad.json", cwd=db.parent))
    assert issue.startswith("bad.json:4: malformed JSON: Expecting value")


def test_malformed_yaml_file(db: Path) -> None:
    (db.parent / "bad.yaml").write_text(
        "reported_on: 2014-06-12\nsource: {publisher: Reuters}\nevents:\n"
        "  - type: CityCaptured\n    occurred_on: [2014-06-10\n    place: mosul\n")
    (issue,) = refused(run("append", "bad.yaml", cwd=db.parent))
    assert issue.startswith("bad.yaml:") and "malformed YAML" in issue


@pytest.mark.parametrize("name", ["big.json", "big.yaml"])
def test_event_over_1_mib_in_a_report_file(db: Path, name: str) -> None:
    report = {"reported_on": "2014-06-12", "source": SRC[0],
              "events": [GOOD[0], without(capture(notes="x" * 1_100_000), "sources")]}
    (db.parent / name).write_text(json.dumps(report, indent=2) if name.endswith(".json")
                                  else yaml.safe_dump(report, width=1 << 30))
    before = stored_rows(db)
    (issue,) = refused(run("append", name, cwd=db.parent))
    assert issue.startswith(f"{name}:") and "(events[1]): event is 1,100," in issue
    assert issue.endswith("bytes, over the 1,048,576-byte limit (split long notes or quotes; link the source instead)")
    assert stored_rows(db) == before


def test_yaml_report_names_the_line_and_index_of_each_bad_event(db: Path) -> None:
    before = stored_rows(db)
    (db.parent / "report.yaml").write_text(
        "reported_on: 2014-06-12\n"                   # 1
        "events:\n"                                  # 2
        "  - type: ActorRegistered\n"                # 3
        "    actor: kataib_hezbollah\n"
        "    name: Kata'ib Hezbollah\n"
        "    kind: militia\n"
        "    sources: [{publisher: Reuters}]\n"
        "  - type: CityCaptured\n"                   # 8: no source, neither its own nor the report's
        "    occurred_on: 2014-06-11\n"
        "    place: tikrit\n"
        "    captured_by: Kata'ib Hezbollah\n"
        "  - type: CityCaptured\n"                   # 12: a date and time
        "    occurred_on: 2014-06-11 10:00:00\n"
        "    place: tikrit\n"
        "    captured_by: isis\n"
        "    sources: [{publisher: Reuters}]\n")
    issues = refused(run("append", "report.yaml", cwd=db.parent))
    assert issues == [
        "report.yaml:8 (events[1]): field 'sources': required field is missing",
        "report.yaml:12 (events[2]): field 'occurred_on': expected a date (YYYY-MM-DD), got a date and time",
    ]
    assert stored_rows(db) == before


def test_json_report_names_the_line_and_index_of_each_bad_event(db: Path) -> None:
    (db.parent / "report.json").write_text(json.dumps(
        {"reported_on": "2014-06-12", "source": SRC[0],
         "events": [capture(), without(capture(place="Mosull"), "sources")]}, indent=2))
    issues = refused(run("append", "report.json", cwd=db.parent))
    assert len(issues) == 1 and issues[0].startswith("report.json:")
    assert "(events[1]): field 'place': unknown place 'Mosull' (did you mean 'mosul'?)" in issues[0]
    line = int(issues[0].split(":")[1].split()[0])
    assert (db.parent / "report.json").read_text().splitlines()[line - 1].strip().startswith("{")


def test_every_bad_record_of_a_file_is_listed(db: Path) -> None:
    before = stored_rows(db)
    (db.parent / "bad.jsonl").write_text(jsonl(
        *GOOD, capture(type="CityCapture"), capture(), capture(place="Mosull"),
        {"type": "AssetSeized", "occurred_on": "2014-06-10", "actor": "isis", "asset": "Humvee",
         "quantity": -1, "sources": SRC},
        capture(occurred_on="2014-13-45")))
    issues = refused(run("append", "bad.jsonl", cwd=db.parent))
    assert [i.split(": ")[0] for i in issues] == ["bad.jsonl:3", "bad.jsonl:5", "bad.jsonl:6", "bad.jsonl:7"]
    assert "field 'type'" in issues[0] and "field 'place'" in issues[1]
    assert "field 'quantity'" in issues[2] and "field 'occurred_on'" in issues[3]
    assert stored_rows(db) == before


def test_every_malformed_line_is_listed(db: Path) -> None:
    (db.parent / "bad.jsonl").write_text(jsonl(*GOOD, "{oops", capture(), "not json at all"))
    issues = refused(run("append", "bad.jsonl", cwd=db.parent))
    assert [i.split(": ")[0] for i in issues] == ["bad.jsonl:3", "bad.jsonl:5"]
    assert all("malformed JSON" in i for i in issues)


def test_several_files_are_refused_together(db: Path) -> None:
    before = stored_rows(db)
    (db.parent / "a.jsonl").write_text(jsonl(*GOOD))
    (db.parent / "b.jsonl").write_text(jsonl(capture(captured_by="kh"), capture(captured_by="KHH")))
    (db.parent / "c.yaml").write_text("- {type: CityCaptured, occurred_on: 2014-06-10, place: mosul}\n")
    issues = refused(run("append", "a.jsonl", "b.jsonl", "c.yaml", cwd=db.parent))
    assert issues == [
        "b.jsonl:2: field 'captured_by': unknown actor 'KHH' (did you mean 'kataib_hezbollah'?)",
        "c.yaml:1: field 'sources': required field is missing",
        "c.yaml:1: field 'captured_by': required field is missing",
    ]
    assert stored_rows(db) == before  # a.jsonl and b.jsonl:1 were good, and are not stored either


def test_bad_record_from_stdin(db: Path) -> None:
    issues = refused(run("append", "-", cwd=db.parent, stdin=jsonl(*GOOD, capture(place="Mosull"))))
    assert issues == ["<stdin>:3: field 'place': unknown place 'Mosull' (did you mean 'mosul'?)"]


def test_missing_file_refuses_the_whole_command(db: Path) -> None:
    before = stored_rows(db)
    (db.parent / "good.jsonl").write_text(jsonl(*GOOD))
    assert error(run("append", "good.jsonl", "missing.jsonl", cwd=db.parent)) == \
        "tracker: error: cannot read missing.jsonl: no such file"
    assert stored_rows(db) == before


def test_file_not_utf8(db: Path) -> None:
    (db.parent / "latin1.jsonl").write_bytes(json.dumps(capture(notes="Mossoul, capturée"), ensure_ascii=False)
                                             .encode("latin-1"))
    message = error(run("append", "latin1.jsonl", cwd=db.parent))
    assert message.startswith("tracker: error: cannot read latin1.jsonl: not UTF-8 text")


@pytest.mark.parametrize("where", ["before", "after", "env"])
def test_unknown_store_scheme(tmp_path: Path, where: str) -> None:
    args = {"before": ("--db", "mysql://x", "state", "territory"), "after": ("state", "territory", "--db", "mysql://x"),
            "env": ("state", "territory")}[where]
    done = run(*args, cwd=tmp_path, env=tracker_env(TRACKER_DB="mysql://x") if where == "env" else None)
    assert "unknown store 'mysql://' in 'mysql://x'" in error(done)
    assert list(tmp_path.iterdir()) == []  # no store was made in its place


@pytest.mark.parametrize(("args", "message"), [
    (("--as-of", "notadate"), "--as-of: expected an ISO date YYYY-MM-DD, got 'notadate' "
                             "(or YYYY-MM, YYYY for the end of a month or year); "
                             "for example --as-of 2014-06-20"),
    (("--as-of", "2014-02-30"), "--as-of: '2014-02-30' is not a real calendar date"),
    (("--known-at", "last tuesday"), "--known-at: 'last tuesday' is neither a date nor a date and time"),
    (("--recorded-at", "yesterday"), "--recorded-at: 'yesterday' is neither a date nor a date and time; "
                                     "for example --recorded-at 2014-07-22"),
    (("--as-of", "2014-13"), "--as-of: '2014-13' is not a real month"),
    (("--known-at", "9999-12-31T23:59:59-14:00"), "--known-at: '9999-12-31T23:59:59-14:00' is out of range"),
], ids=["as-of not a date", "as-of not a calendar day", "known-at not a time", "recorded-at not a time",
        "as-of not a month", "known-at past the end of time"])
def test_bad_query_times(db: Path, args: tuple[str, ...], message: str) -> None:
    assert message in error(run("state", "territory", *args, cwd=db.parent))


@pytest.mark.parametrize(("args", "message"), [
    (("--append-rate", "0"), "--append-rate must be more than 0"),
    (("--token", "abc", "--token-file", "x"), "--token or --token-file, not both"),
], ids=["append rate zero", "two tokens"])
def test_bad_serve_settings_refused_before_listening(db: Path, args: tuple[str, ...], message: str) -> None:
    assert message in error(run("serve", "--port", "0", *args, cwd=db.parent))


def test_log_negative_limit(db: Path) -> None:
    assert "--limit 0 or more" in error(run("log", "--limit", "-1", cwd=db.parent))
