"""Principals, audit and backup: `tracker tokens`, `recorded_by`, `tracker backup`.

Real subprocesses on real SQLite files (and a PostgreSQL database where the variable is set),
as in test_cli; the pure token functions are tested directly.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import sqlite3
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from tests.conftest import capture, jsonl, tracker_env
from tests.conftest import run_tracker as run
from tests.conftest import tracker_on as tracker
from tests.test_upcast import DIGEST, LOG
from tracker.core.errors import InputError
from tracker.core.tokens import ADMIN, READER, WRITER, Token, check_name, hash_token, includes, new_token, verify

LOCAL = f"local:{pwd.getpwuid(os.getuid()).pw_name}"


def log_json(db: Path, *args: str) -> list[dict]:
    return [json.loads(line) for line in tracker(db, "log", "--json", *args).stdout.splitlines()]


def verify_json(db: Path, *args: str) -> dict:
    return json.loads(tracker(db, "verify", "--json", *args).stdout)


# -- the pure functions -----------------------------------------------------------------------


def test_roles_nest():
    assert includes(ADMIN, WRITER) and includes(ADMIN, READER) and includes(WRITER, READER)
    assert includes(READER, READER) and not includes(READER, WRITER) and not includes(WRITER, ADMIN)
    assert not includes("root", READER) and not includes(ADMIN, "root")


def test_verify_finds_the_live_token_and_nothing_else():
    from datetime import UTC, datetime

    at = datetime(2026, 1, 1, tzinfo=UTC)
    alice, bob, old = new_token(), new_token(), new_token()
    tokens = [Token("alice", ADMIN, hash_token(alice), at), Token("bob", READER, hash_token(bob), at),
              Token("old", WRITER, hash_token(old), at, at)]
    assert len(alice) == 43 and alice != bob  # 32 random bytes, URL-safe base64
    assert hash_token(alice).startswith("sha256:") and alice not in hash_token(alice)
    assert verify(alice, tokens) == ("alice", ADMIN)
    assert verify(bob, tokens) == ("bob", READER)
    assert verify(old, tokens) is None  # revoked
    assert verify(new_token(), tokens) is None and verify("", tokens) is None
    assert verify(hash_token(alice), tokens) is None  # the stored digest is no token


@pytest.mark.parametrize("name", ["", "token", "anonymous", "local:root", "has space", "-dash", "x" * 65, "é"])
def test_token_names_that_would_blur_the_audit_trail_are_refused(name):
    with pytest.raises(InputError):
        check_name(name)


# -- tracker tokens ---------------------------------------------------------------------------


def test_tokens_add_list_revoke(tmp_path):
    db = tmp_path / "t.db"
    added = tracker(db, "tokens", "add", "ci-bot", "--role", "writer")
    token = added.stdout.strip()
    assert added.stdout == token + "\n" and re.fullmatch(r"[A-Za-z0-9_-]{43}", token)  # alone on stdout
    assert "ci-bot" in added.stderr and "shown this once" in added.stderr
    other = tracker(db, "tokens", "add", "alice", "--role", "admin").stdout.strip()
    assert other != token
    # only the hash is kept, in the store itself
    conn = sqlite3.connect(db)
    rows = dict(conn.execute("SELECT name, digest FROM tokens").fetchall())
    conn.close()
    assert rows == {"ci-bot": hash_token(token), "alice": hash_token(other)}
    for path in tmp_path.iterdir():
        assert token.encode() not in path.read_bytes()

    listed = tracker(db, "tokens", "list").stdout
    assert listed.splitlines()[0].split() == ["name", "role", "created", "(UTC)", "revoked", "(UTC)"]
    assert re.search(r"^ci-bot\s+writer\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+-$", listed, re.M), listed
    assert "sha256" not in listed and token not in listed
    as_json = json.loads(tracker(db, "tokens", "list", "--json").stdout)
    assert [(t["name"], t["role"], t["revoked_at"]) for t in as_json] == [("alice", "admin", None),
                                                                         ("ci-bot", "writer", None)]
    assert all(set(t) == {"name", "role", "created_at", "revoked_at"} for t in as_json)

    assert "revoked" in tracker(db, "tokens", "revoke", "ci-bot").stdout
    first = json.loads(tracker(db, "tokens", "list", "--json").stdout)[1]["revoked_at"]
    assert first is not None
    tracker(db, "tokens", "revoke", "ci-bot")  # again: nothing changes
    assert json.loads(tracker(db, "tokens", "list", "--json").stdout)[1]["revoked_at"] == first
    # a revoked name is not reused; an existing one neither
    for name in ("ci-bot", "alice"):
        done = tracker(db, "tokens", "add", name, "--role", "reader", expect=3)
        assert done.stdout == "" and "never reused" in done.stderr
    assert "no token named 'nobody'" in tracker(db, "tokens", "revoke", "nobody", expect=2).stderr
    assert tracker(db, "tokens", "add", "x", "--role", "root", expect=2).stdout == ""
    assert "reserved" in tracker(db, "tokens", "add", "anonymous", "--role", "reader", expect=2).stderr
    assert "no store at" in tracker(tmp_path / "missing.db", "tokens", "list", expect=4).stderr  # never created
    assert not (tmp_path / "missing.db").exists()
    tracker(tmp_path / "empty.db", "seed")
    assert "no tokens" in tracker(tmp_path / "empty.db", "tokens", "list").stdout


def test_tokens_on_postgresql_are_shared_by_every_node(pg_dsn, tmp_path):
    token = run("tokens", "add", "node-bot", "--role", "reader", "--db", pg_dsn, cwd=tmp_path).stdout.strip()
    listed = json.loads(run("tokens", "list", "--json", "--db", pg_dsn, cwd=tmp_path).stdout)
    assert [(t["name"], t["role"]) for t in listed] == [("node-bot", "reader")]
    import asyncio

    from tracker.store import open_store

    async def check() -> None:
        async with await open_store(pg_dsn) as store:
            assert verify(token, await store.tokens()) == ("node-bot", READER)
            version = await store.tokens_version()
            run("tokens", "revoke", "node-bot", "--db", pg_dsn, cwd=tmp_path)
            assert await store.tokens_version() == version + 1
            assert verify(token, await store.tokens()) is None

    asyncio.run(check())
    assert "pg_dump" in run("backup", str(tmp_path / "b.db"), "--db", pg_dsn, cwd=tmp_path, expect=2).stderr


# -- recorded_by ------------------------------------------------------------------------------


def test_cli_appends_are_recorded_as_the_local_user_from_the_uid(db, tmp_path):
    start = verify_json(db)["head"]
    env = {**tracker_env(), "USER": "mallory", "LOGNAME": "mallory"}  # not what decides
    tracker(db, "append", "-", stdin=jsonl(capture("tikrit", "isis", "2014-06-12")), env=env)
    (record,) = log_json(db, "--from", str(start + 1))
    assert record["recorded_by"] == LOCAL and list(record) == ["position", "id", "recorded_at", "recorded_by",
                                                               "event"]
    assert "recorded_by" not in record["event"]
    assert {r["recorded_by"] for r in log_json(db)[:start]} == {None}  # the fixture's, stored in-process
    # a retry by someone else keeps the first appender
    again = jsonl(capture("tikrit", "isis", "2014-06-13", id=str(uuid.uuid4())))
    tracker(db, "append", "-", stdin=again)
    digest = verify_json(db)
    tracker(db, "append", "-", stdin=again, env={**tracker_env(), "USER": "root"})
    assert verify_json(db) == digest and digest["head"] == start + 2


def test_log_by_filters_and_the_text_says_who(db, tmp_path):
    start = verify_json(db)["head"]
    tracker(db, "append", "-", stdin=jsonl(capture("tikrit", "isis", "2014-06-12"),
                                           capture("mosul", "isis", "2014-06-13")))
    mine = log_json(db, "--by", LOCAL)
    assert [r["position"] for r in mine] == [start + 1, start + 2]
    assert [r["position"] for r in log_json(db, "--by", LOCAL, "--limit", "1")] == [start + 1]
    assert [r["position"] for r in log_json(db, "--by", LOCAL, "--from", str(start + 2))] == [start + 2]
    assert log_json(db, "--by", "nobody") == []
    assert "appended by nobody" in tracker(db, "log", "--by", "nobody").stdout
    text = tracker(db, "log", "--by", LOCAL).stdout.splitlines()
    assert text[0].split()[-1] == "by" and all(line.rstrip().endswith(LOCAL) for line in text[2:])
    assert tracker(db, "log", "--limit", "1").stdout.splitlines()[2].rstrip().endswith("-")  # unknown: before audit


def test_export_import_keep_recorded_by_and_the_digest_covers_it(db, tmp_path):
    tracker(db, "append", "-", stdin=jsonl(capture("tikrit", "isis", "2014-06-12")))
    exported = tmp_path / "log.jsonl"
    tracker(db, "export", "-o", str(exported))
    lines = [json.loads(line) for line in exported.read_text().splitlines()]
    assert "recorded_by" not in lines[0]  # null: not written, so an old log's export is as it was
    assert lines[-1]["recorded_by"] == LOCAL and list(lines[-1]) == ["position", "id", "recorded_at",
                                                                      "recorded_by", "event"]
    copy = tmp_path / "copy.db"
    tracker(copy, "import", str(exported))
    assert verify_json(copy) == verify_json(db)
    assert tracker(copy, "log", "--json").stdout == tracker(db, "log", "--json").stdout
    # the same log with another appender is another log
    lines[-1]["recorded_by"] = "someone-else"
    exported.write_text("".join(json.dumps(r) + "\n" for r in lines))
    other = tmp_path / "other.db"
    tracker(other, "import", str(exported))
    assert verify_json(other)["sha256"] != verify_json(db)["sha256"]
    lines[-1]["recorded_by"] = 7
    exported.write_text("".join(json.dumps(r) + "\n" for r in lines))
    assert "recorded_by" in tracker(tmp_path / "bad.db", "import", str(exported), expect=2).stderr


def test_the_previous_releases_log_keeps_its_digest_and_export(tmp_path):
    db = tmp_path / "old.db"
    tracker(db, "import", str(LOG))
    assert verify_json(db)["sha256"] == DIGEST
    assert tracker(db, "export").stdout == LOG.read_text(encoding="utf-8")
    assert {r["recorded_by"] for r in log_json(db)} == {None}
    head = verify_json(db)["head"]
    tracker(db, "append", "-", stdin=jsonl(capture("tikrit", "isis", "2014-06-12")))
    assert verify_json(db, "--upto", str(head))["sha256"] == DIGEST  # the old part's digest stands
    assert verify_json(db)["sha256"] != DIGEST


# -- tracker backup ---------------------------------------------------------------------------

WRITER_SCRIPT = textwrap.dedent("""
    import asyncio, sys, uuid
    from tracker.store import open_store, NewEvent

    async def main(path, count):
        store = await open_store(path)
        for n in range(count):
            ident = str(uuid.uuid5(uuid.NAMESPACE_OID, f"backup-{n}"))
            await store.append([NewEvent(ident, "Thing", '{"n": %d}' % n)], recorded_by=f"writer-{n % 3}")
            if n == 50:
                print("going", flush=True)
        await store.close()

    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
""")


def test_backup_of_a_live_store_while_another_process_appends(tmp_path):
    db = tmp_path / "live.db"
    tracker(db, "tokens", "add", "alice", "--role", "admin")
    writer = subprocess.Popen([sys.executable, "-c", WRITER_SCRIPT, str(db), "3000"], stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout is not None and writer.stdout.readline() == "going\n"
        done = tracker(tmp_path / "live.db", "backup", str(tmp_path / "b.db"), "--json")
    finally:
        writer.wait(timeout=120)
    assert writer.returncode == 0
    made = json.loads(done.stdout)
    final = verify_json(db)
    assert 50 < made["head"] <= final["head"] == 3000, (made, final)
    copy = verify_json(tmp_path / "b.db")
    assert copy == {k: made[k] for k in ("events", "head", "sha256")}
    assert verify_json(db, "--upto", str(made["head"])) == copy  # the source's digest at the backup's head
    # the backup is a store of its own: tokens and recorded_by with it
    assert [t["name"] for t in json.loads(tracker(tmp_path / "b.db", "tokens", "list", "--json").stdout)] == ["alice"]
    conn = sqlite3.connect(tmp_path / "b.db")
    assert {by for (by,) in conn.execute("SELECT DISTINCT recorded_by FROM events")} == {"writer-0", "writer-1",
                                                                                       "writer-2"}
    conn.close()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("b.db")) == ["b.db"]  # no leftovers


def test_backup_refuses_an_existing_file_and_a_missing_folder(db, tmp_path):
    target = tmp_path / "taken.db"
    target.write_text("mine")
    assert "exists" in tracker(db, "backup", str(target), expect=2).stderr
    assert target.read_text() == "mine"
    assert "does not exist" in tracker(db, "backup", str(tmp_path / "no" / "b.db"), expect=2).stderr


def test_an_export_carries_no_tokens_a_backup_does(db, tmp_path):
    token = tracker(db, "tokens", "add", "alice", "--role", "writer").stdout.strip()
    exported = tmp_path / "log.jsonl"
    tracker(db, "export", "-o", str(exported))
    text = exported.read_text()
    assert "alice" not in text and hash_token(token) not in text
    copy = tmp_path / "copy.db"
    tracker(copy, "import", str(exported))
    assert json.loads(tracker(copy, "tokens", "list", "--json").stdout) == []
    tracker(db, "backup", str(tmp_path / "b.db"))
    conn = sqlite3.connect(tmp_path / "b.db")
    assert conn.execute("SELECT name, digest FROM tokens").fetchall() == [("alice", hash_token(token))]
    conn.close()


def test_the_wire_shape_says_who_beside_position_and_recorded_at():
    from datetime import UTC, datetime

    import orjson

    from tracker.core.protocol import event_body
    from tracker.core.records import decode_many
    from tracker.store import StoredEvent

    at = datetime(2026, 1, 1, tzinfo=UTC)
    data = '{"type": "ActorRegistered", "id": "a", "actor": "isis", "name": "IS"}'
    new, old = decode_many([StoredEvent(2, "a", at, "ActorRegistered", data, "alice"),
                            StoredEvent(1, "a", at, "ActorRegistered", data)])
    assert list(new.as_json()) == ["position", "id", "recorded_at", "recorded_by", "event"]
    assert (new.as_json()["recorded_by"], old.as_json()["recorded_by"]) == ("alice", None)
    assert "recorded_by" not in new.as_json()["event"]
    body = orjson.loads(event_body(new.position, "t", new.event, new.recorded_by))
    assert list(body)[:4] == ["position", "recorded_at", "recorded_by", "event"] and body["recorded_by"] == "alice"
