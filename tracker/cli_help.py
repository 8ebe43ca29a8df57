"""The `tracker` command's help: what the projections are, the date forms, and examples for
every command, set on the parser after it is built (cli.py) so the options stay readable."""

from __future__ import annotations

import argparse

PROJECTIONS_TEXT = """\
projections (what `state` folds the log into):
  territory    who holds each place, since when, who contests it, and the history of control
  arsenal      what each actor holds, by kind of equipment (an unknown count stays unknown)
  deployments  whose forces are where, with their equipment"""

DATES_TEXT = """\
dates and times:
  --as-of DATE         YYYY-MM-DD, or YYYY-MM / YYYY for the end of that month or year (default: today, UTC)
  --known-at TIME      ISO 8601 date or date-time, UTC unless it has an offset (2014-07-22, 2014-07-22T18:00:00Z);
                       a date alone means the end of that day
  --recorded-at TIME   the same forms as --known-at"""

STORE_TEXT = """\
the store (--db, or $TRACKER_DB; default ./tracker.db):
  a SQLite file path   ./tracker.db, /var/lib/tracker.db, sqlite:///var/lib/tracker.db
  a PostgreSQL URL     postgresql://user:password@host:5432/dbname (needs pip install 'tracker[postgres]')
  Only seed, append, import and tokens add create a new SQLite file; every other command refuses
  a missing one (exit 4)."""

DESCRIPTION = """\
An event-sourced situation tracker: reported facts are appended to an immutable log, and
projections fold the log into the state at any date, as known at any time."""

EXIT_TEXT = """\
exit status: 0 done, 1 a bug (TRACKER_DEBUG=1 shows the traceback), 2 bad input, 3 conflict with the log,
4 the store is missing, unavailable or newer. With --json, a failure prints
{"type": "error", "code": ..., "message": ..., "details": ...} on stdout."""

EXAMPLES: dict[str, str] = {
    "seed": """\
  tracker seed                                  # the shipped reports into ./tracker.db (a second run adds nothing)
  tracker seed --db postgresql://tracker@db:5432/tracker""",
    "state": """\
  tracker state territory --as-of 2014-06-20            # who held what on 20 June 2014, as a table
  tracker state arsenal --json                          # today's arsenals as JSON
  tracker state deployments --as-of 2014-07-23 --known-at 2014-07-22   # what the public record knew then
  tracker state territory --as-of 2014-07 --recorded-at 2026-12-01     # what this tracker showed on 1 December""",
    "append": """\
  tracker append reports.jsonl                  # validate and append (all or nothing)
  tracker append report.yaml other.json         # several files, one batch
  cat new.jsonl | tracker append -              # from standard input
  tracker append reports.jsonl --expected-position 120 --json   # refuse (exit 3) if someone appended first""",
    "log": """\
  tracker log                                   # the whole log as a table
  tracker log --from 10 --limit 20              # positions 10 to 29
  tracker log --by ci-bot --json                # what one principal appended, as JSON Lines""",
    "replay": """\
  tracker replay                                # rebuild every projection from the log, timed
  tracker replay --json""",
    "schema": """\
  tracker schema > events.schema.json           # the events' JSON Schema""",
    "export": """\
  tracker export -o log.jsonl                   # the whole log, positions and recorded_at kept
  tracker export --db ./tracker.db > log.jsonl""",
    "import": """\
  tracker import log.jsonl --db postgresql://tracker@db:5432/tracker   # into an empty log
  tracker export --db a.db | tracker import - --db b.db""",
    "verify": """\
  tracker verify                                # event count and SHA-256 digest of the log
  tracker verify --upto 1200 --json             # positions 1..1200 only (compare with a backup)""",
    "backup": """\
  tracker backup /backups/tracker-2026-12-02.db        # a verified copy of the live SQLite store""",
    "tokens": """\
  TOKEN=$(tracker tokens add ci-bot --role writer)     # printed once, alone on stdout
  tracker tokens list
  tracker tokens revoke ci-bot""",
    "tokens add": """\
  TOKEN=$(tracker tokens add ci-bot --role writer)
  tracker tokens add prometheus --role reader          # for /metrics once the store has tokens""",
    "tokens list": """\
  tracker tokens list --json""",
    "tokens revoke": """\
  tracker tokens revoke ci-bot                  # its connections close within a second, on every node""",
    "serve": """\
  tracker serve                                 # http://127.0.0.1:8765/ (dashboard, /ws, JSON reads, /metrics)
  tracker serve --port 0                        # a free port, printed on stderr
  TRACKER_PORT=9000 TRACKER_ALLOW_ORIGIN=https://news.example tracker serve
  tracker serve --host 0.0.0.0 --token-file /run/secrets/tracker-token --certfile cert.pem --keyfile key.pem

environment (each option wins over its variable):
  TRACKER_HOST, TRACKER_PORT, TRACKER_TOKEN, TRACKER_TOKEN_FILE, TRACKER_PUBLIC_READ (1/true/yes),
  TRACKER_APPEND_RATE, TRACKER_CERTFILE, TRACKER_KEYFILE, TRACKER_QUEUE_LIMIT,
  TRACKER_ALLOW_ORIGIN and TRACKER_ALLOW_HOST (several: separated by commas or spaces); TRACKER_DB""",
    "watch": """\
  tracker watch                                 # new events from ws://127.0.0.1:8765/ws
  tracker watch --after 0 --count 10            # the first 10 events of the log
  tracker watch --projection territory --as-of 2014-06-20 --json""",
    "actors": """\
  tracker actors                                # ids, names, aliases and kinds
  tracker actors --search isil --json           # by id, name or alias""",
    "actors alias": """\
  tracker actors alias isis "Islamic State (Iraq)"   # another name, recorded as a registration in the log""",
    "places": """\
  tracker places                                # ids, names, aliases, kinds and coordinates
  tracker places --search mawsil""",
    "places alias": """\
  tracker places alias mosul Al-Mawsil           # another name, recorded as a registration in the log""",
    "diff": """\
  tracker diff --from 2014-06-05 --to 2014-07-25          # places that changed hands, holdings, deployments
  tracker diff --from 2014-06 --to 2014-07 --json --known-at 2014-07-31""",
    "chart": """\
  tracker chart -o situation.png --from 2014-06-01 --to 2014-07-31   # needs pip install 'tracker[chart]'
  tracker chart -o situation.svg""",
    "completion": """\
  tracker completion bash > ~/.local/share/bash-completion/completions/tracker
  tracker completion zsh > ~/.zfunc/_tracker    # with fpath+=(~/.zfunc) before compinit in ~/.zshrc
  eval "$(tracker completion bash)"             # this shell only""",
}

# What each command's help says beyond its options.
EXTRA: dict[str, tuple[str, ...]] = {
    "state": (PROJECTIONS_TEXT, DATES_TEXT),
    "watch": (PROJECTIONS_TEXT, DATES_TEXT),
    "serve": (PROJECTIONS_TEXT,),
}


def epilog(name: str, own: str | None = None) -> str | None:
    """The command's epilog: its projections and dates text where it matters, examples (from
    EXAMPLES, else the epilog the command set itself, kept), and the store forms."""
    parts = [*EXTRA.get(name, ())]
    if name in EXAMPLES:
        parts.append("examples:\n" + EXAMPLES[name])
    elif own:
        parts.append(own)
    parts.append(STORE_TEXT if name not in ("schema", "watch", "completion") else "")
    return "\n\n".join(p for p in parts if p) or None


def decorate(parser: argparse.ArgumentParser) -> None:
    """Set every (sub)command's epilog and keep its layout as written."""
    parser.description = DESCRIPTION
    parser.epilog = "\n\n".join([PROJECTIONS_TEXT, DATES_TEXT, STORE_TEXT, EXIT_TEXT,
                                 "Run `tracker COMMAND --help` for a command's options and examples."])
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    for name, sub in commands(parser).items():
        sub.epilog = epilog(name, sub.epilog)
        sub.formatter_class = argparse.RawDescriptionHelpFormatter


def commands(parser: argparse.ArgumentParser, prefix: str = "") -> dict[str, argparse.ArgumentParser]:
    """Every command's parser by its full name ("state", "tokens add"), nested ones included."""
    found: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                full = f"{prefix}{name}"
                found[full] = sub
                found.update(commands(sub, full + " "))
    return found
