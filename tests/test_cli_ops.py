"""The command line as an operator meets it: help with examples, `serve` from environment
variables, shell completion, stores it will not create, failures as JSON, progress bars on a
terminal only, and the package (one version, the postgres extra, LICENSE, py.typed)."""

from __future__ import annotations

import fcntl
import importlib.metadata
import json
import os
import pty
import select
import shutil
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, free_port, jsonl, run_tracker, seconds, stop_process, tracker_env, tracker_on

STORE_COMMANDS = [["state", "territory"], ["log"], ["replay"], ["verify"], ["export"], ["tokens", "list"],
                  ["tokens", "revoke", "x"],
                  ["backup", "copy.db"], ["serve", "--port", "0"]]


def test_a_bare_tracker_prints_help_and_exits_0(tmp_path):
    done = run_tracker(cwd=tmp_path)
    assert done.stdout.startswith("usage: tracker") and "examples" not in done.stderr
    for command in ("seed", "state", "append", "serve", "completion"):
        assert f"\n    {command}" in done.stdout
    assert "territory" in done.stdout and "YYYY-MM-DD" in done.stdout and "postgresql://" in done.stdout
    assert not (tmp_path / "tracker.db").exists()


def test_every_command_s_help_has_examples_and_names_the_store_forms(tmp_path):
    from tracker.cli import _parser
    from tracker.cli_help import commands

    names = commands(_parser())  # the help each prints, without a process per command
    assert {"seed", "state", "append", "serve", "tokens add", "completion"} <= names.keys()
    for name, parser in names.items():
        text = parser.format_help()
        assert "examples:" in text and f"tracker {name}" in text.split("examples:")[1], name
        if name not in ("schema", "watch", "completion"):
            assert "postgresql://user:password@host:5432/dbname" in text and "sqlite:///" in text, name
    state = names["state"].format_help()
    assert "who holds each place" in state and "what each actor holds" in state and "whose forces are where" in state
    assert "YYYY-MM-DD" in state and "ISO 8601" in state
    serve = run_tracker("serve", "--help", cwd=tmp_path).stdout  # and as the command prints it
    for variable in ("TRACKER_HOST", "TRACKER_PORT", "TRACKER_ALLOW_ORIGIN", "TRACKER_QUEUE_LIMIT", "TRACKER_TOKEN"):
        assert variable in serve


def _serving(db: Path, env: dict[str, str], *args: str) -> tuple[subprocess.Popen[str], str]:
    """`tracker serve` with `env`: the process and its "serving ... at" line."""
    process = subprocess.Popen([sys.executable, "-m", "tracker", "serve", "--db", str(db), *args], env=env,
                               stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    line = ""
    deadline = time.monotonic() + seconds(30)
    while " at http" not in line and time.monotonic() < deadline and process.poll() is None:
        line = process.stderr.readline()
    return process, line


def test_serve_takes_its_settings_from_the_environment_and_options_win(db):
    from websockets.sync.client import connect

    port, other = free_port(), free_port()
    env = tracker_env(TRACKER_PORT=str(port), TRACKER_ALLOW_ORIGIN="https://news.example, https://b.example",
                      TRACKER_QUEUE_LIMIT="64")
    process, line = _serving(db, env)
    try:
        assert f"at http://127.0.0.1:{port}/" in line, line
        with connect(f"ws://127.0.0.1:{port}/ws", origin="https://b.example",  # type: ignore[arg-type]
                     open_timeout=seconds(5)) as ws:
            ws.send(json.dumps({"op": "catalog"}))
            assert json.loads(ws.recv(timeout=seconds(5)))["type"] == "catalog"
    finally:
        stop_process(process)
    process, line = _serving(db, env, "--port", str(other))  # the option wins over TRACKER_PORT
    stop_process(process)
    assert f"at http://127.0.0.1:{other}/" in line, line
    refused = run_tracker("serve", "--db", str(db), env=tracker_env(TRACKER_PORT="abc"), expect=2)
    assert "TRACKER_PORT='abc'" in refused.stderr
    refused = run_tracker("serve", "--db", str(db), env=tracker_env(TRACKER_PUBLIC_READ="maybe"), expect=2)
    assert "TRACKER_PUBLIC_READ" in refused.stderr


def test_command_line_options_win_over_the_environment():
    import argparse

    from tracker.serve_env import resolve

    args = argparse.Namespace(host=None, port=9001, token=None, token_file=None, public_read=None, append_rate=None,
                              certfile=None, keyfile=None, allow_origin=None, allow_host=["a.example"],
                              queue_limit=None)
    resolve(args, {"TRACKER_HOST": "0.0.0.0", "TRACKER_PORT": "9000", "TRACKER_ALLOW_HOST": "b.example",
                   "TRACKER_ALLOW_ORIGIN": "https://x.example https://y.example", "TRACKER_PUBLIC_READ": "yes",
                   "TRACKER_APPEND_RATE": "2.5"})
    assert args.host == "0.0.0.0" and args.port == 9001 and args.allow_host == ["a.example"]
    assert args.allow_origin == ["https://x.example", "https://y.example"] and args.public_read is True
    assert args.append_rate == 2.5 and args.queue_limit == 1024 and args.certfile is None
    args = argparse.Namespace(token="secret-token", token_file=None)
    resolve(args, {"TRACKER_TOKEN_FILE": "/run/secret"})
    assert args.token_file is None  # --token given: the file variable does not make it ambiguous


def test_completion_scripts_for_bash_and_zsh(tmp_path):
    bash = run_tracker("completion", "bash", cwd=tmp_path).stdout
    assert "complete" in bash and "territory" in bash and "tokens" in bash and "--as-of" in bash
    if shutil.which("bash"):
        checked = subprocess.run(["bash", "-n"], input=bash, text=True, capture_output=True)
        assert checked.returncode == 0, checked.stderr
    zsh = run_tracker("completion", "zsh", cwd=tmp_path).stdout
    assert zsh.startswith("#compdef tracker") and "deployments" in zsh
    assert "invalid choice" in run_tracker("completion", "fish", cwd=tmp_path, expect=2).stderr


@pytest.mark.parametrize("command", STORE_COMMANDS, ids=lambda c: c[0])
def test_commands_that_read_refuse_a_store_that_does_not_exist(tmp_path, command):
    missing = tmp_path / "typo.db"
    done = run_tracker(*command, "--db", str(missing), cwd=tmp_path, expect=4)
    assert f"no store at {missing}" in done.stderr and "tracker seed" in done.stderr
    assert not missing.exists() and not (tmp_path / "tracker.db").exists()


def test_seed_append_and_import_may_create_a_store(tmp_path, seeded_db):
    run_tracker("seed", "--db", str(tmp_path / "a.db"), cwd=tmp_path)
    report = tmp_path / "r.jsonl"
    report.write_text(jsonl({"type": "ActorRegistered", "actor": "x", "name": "X", "kind": "state",
                             "occurred_on": "2014-06-10", "sources": [{"publisher": "Wire"}]}))
    run_tracker("append", str(report), "--db", str(tmp_path / "b.db"), cwd=tmp_path)
    exported = tracker_on(seeded_db, "export", cwd=tmp_path).stdout
    (tmp_path / "log.jsonl").write_text(exported)
    run_tracker("import", str(tmp_path / "log.jsonl"), "--db", str(tmp_path / "c.db"), cwd=tmp_path)
    for name in ("a.db", "b.db", "c.db"):
        assert (tmp_path / name).exists()


def _error(done: subprocess.CompletedProcess[str]) -> dict:
    error = json.loads(done.stdout)
    assert set(error) == {"type", "code", "message", "details"} and error["type"] == "error"
    return error


def test_with_json_every_failure_is_a_json_error_on_stdout(db, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(jsonl({"type": "CityCaptured", "occurred_on": "2014-06-10"}))
    error = _error(tracker_on(db, "append", str(bad), "--json", expect=2))
    assert error["code"] == "validation_error" and error["details"]["issues"][0]["where"] == f"{bad}:1"
    good = tmp_path / "good.jsonl"
    good.write_text(jsonl({"type": "ActorRegistered", "actor": "x", "name": "X", "kind": "state",
                           "occurred_on": "2014-06-10", "sources": [{"publisher": "Wire"}]}))
    error = _error(tracker_on(db, "append", str(good), "--expected-position", "1", "--json", expect=3))
    assert error["code"] == "conflict"
    error = _error(run_tracker("state", "territory", "--json", "--db", str(tmp_path / "none.db"), cwd=tmp_path,
                               expect=4))
    assert error["code"] == "store_not_found" and "tracker seed" in error["message"]
    error = _error(tracker_on(db, "state", "nowhere", "--json", expect=2))
    assert error["code"] == "bad_request" and "invalid choice" in error["message"]
    error = _error(tracker_on(db, "state", "territory", "--as-of", "June", "--json", expect=2))
    assert error["code"] == "bad_request"
    error = _error(run_tracker("state", "territory", "--json", "--db", "postgresql://u:pw@127.0.0.1:1/x",
                               cwd=tmp_path, expect=4))
    assert error["code"] == "unavailable" and "pw" not in json.dumps(error)
    plain = tracker_on(db, "append", str(bad), expect=2)  # without --json: stderr, stdout empty
    assert plain.stdout == "" and "tracker: error:" in plain.stderr


def test_sqlite_needs_no_driver_and_postgresql_without_it_says_how_to_install(db, tmp_path):
    script = ("import sys; sys.modules['asyncpg'] = None\n"  # as if asyncpg were not installed
              "from tracker.cli import main; sys.exit(main(sys.argv[1:]))")
    env = tracker_env()
    done = subprocess.run([sys.executable, "-c", script, "state", "territory", "--db", str(db)], env=env,
                          capture_output=True, text=True, timeout=seconds(60))
    assert done.returncode == 0 and "Mosul" in done.stdout, done.stderr
    done = subprocess.run([sys.executable, "-c", script, "state", "territory", "--db", "postgresql://x@h/d"],
                          env=env, capture_output=True, text=True, timeout=seconds(60))
    assert done.returncode == 4 and "pip install 'tracker[postgres]'" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_package_has_one_version_a_license_py_typed_and_a_postgres_extra():
    import tracker

    meta = importlib.metadata.metadata("tracker")
    assert meta["Version"] == tracker.__version__
    assert run_tracker("--version").stdout.strip() == f"tracker {tracker.__version__}"
    requires = meta.get_all("Requires-Dist") or []
    assert [r for r in requires if r.startswith("asyncpg>")] == ["asyncpg>=0.30; extra == 'postgres'"]
    assert "License :: OSI Approved :: MIT License" in (meta.get_all("Classifier") or [])
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    assert (ROOT / "tracker" / "py.typed").exists()
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in pyproject and "\nversion =" not in pyproject
    hard_coded = [p for p in (ROOT / "tracker").rglob("*.py")
                  if tracker.__version__ in p.read_text() and p.name != "__init__.py"]
    assert hard_coded == []


def _on_a_terminal(args: list[str], cwd: Path) -> tuple[int, str]:
    """Run `python -m tracker ARGS` with stdout and stderr on a pseudo-terminal: (exit, what it showed).
    The terminal's end stays open here until the process has exited and everything is read
    (Linux drops what is unread once the last holder of the terminal's end closes it)."""
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))  # a terminal's size, 120 columns
    process = subprocess.Popen([sys.executable, "-m", "tracker", *args], cwd=cwd, env=tracker_env(COLUMNS="120"),
                               stdin=subprocess.DEVNULL, stdout=terminal, stderr=terminal)
    shown = b""
    deadline = time.monotonic() + seconds(60)
    try:
        while time.monotonic() < deadline:
            done = process.poll() is not None
            ready, _, _ = select.select([controller], [], [], 0 if done else 0.1)
            if ready:
                shown += os.read(controller, 65536)
            elif done:
                break
    finally:
        os.close(terminal)
        os.close(controller)
    return process.wait(seconds(10)), shown.decode(errors="replace")


@pytest.mark.parametrize("command", [["export", "-o", "out.jsonl"], ["verify"], ["replay"]], ids=lambda c: c[0])
def test_progress_bars_on_a_terminal_only(db, command):
    status, shown = _on_a_terminal([*command, "--db", str(db)], db.parent)
    assert status == 0, shown
    assert "event/s" in shown and "%|" in shown, shown  # a bar with its rate (and, once it moves, an estimate)
    piped = tracker_on(db, *command)
    assert "%|" not in piped.stderr and "event/s" not in piped.stderr and "\r" not in piped.stderr
    if command[0] == "verify":
        status, shown = _on_a_terminal(["verify", "--json", "--db", str(db)], db.parent)
        assert "%|" not in shown and json.loads(shown)["events"] > 0


def test_seed_and_import_show_progress_on_a_terminal(tmp_path, seeded_db):
    status, shown = _on_a_terminal(["seed", "--db", str(tmp_path / "new.db")], tmp_path)
    assert status == 0 and "seed" in shown and "%|" in shown, shown
    (tmp_path / "log.jsonl").write_text(tracker_on(seeded_db, "export", cwd=tmp_path).stdout)
    status, shown = _on_a_terminal(["import", "log.jsonl", "--db", str(tmp_path / "copy.db")], tmp_path)
    assert status == 0 and "import" in shown and "%|" in shown, shown


def test_without_a_postgresql_server_the_summary_says_what_was_skipped_and_why():
    """pytest as the README runs it, on a machine where no PostgreSQL answers (here: as if
    asyncpg were not installed, the same path): the PostgreSQL tests are skipped, and the
    summary says how many and why."""
    script = ("import sys; sys.modules['asyncpg'] = None\n"
              "import pytest; sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', 'tests/test_pg_nodes.py']))")
    env = {k: v for k, v in tracker_env().items() if k != "TRACKER_TEST_PG_DSN"}  # CI sets it
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=seconds(120))
    assert done.returncode == 0, done.stdout[-2000:]
    summary = done.stdout.split("PostgreSQL ==")[-1]
    assert "PostgreSQL tests skipped: asyncpg is not installed" in summary, done.stdout[-2000:]
    assert "Start a server there" in summary and "TRACKER_TEST_PG_DSN" in summary


def test_fuzz_serve_environment_values_are_settings_or_clear_errors():
    import argparse

    from hypothesis import given, settings
    from hypothesis import strategies as st

    from tracker.core.errors import InputError
    from tracker.serve_env import SERVE_ENV, resolve

    @settings(max_examples=300, deadline=None, database=None)
    @given(st.dictionaries(st.sampled_from([v for v, _, _ in SERVE_ENV.values()]), st.text(max_size=30)))
    def check(environ: dict[str, str]) -> None:
        args = argparse.Namespace(**dict.fromkeys(SERVE_ENV), token=None)
        try:
            resolve(args, environ)
        except InputError as e:
            assert any(e.message.startswith(f"{name}=") for name in environ), e.message
            return
        assert isinstance(args.port, int) and isinstance(args.allow_origin, list)
        assert isinstance(args.public_read, bool) and isinstance(args.queue_limit, int)

    check()
