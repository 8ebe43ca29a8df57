"""The `tracker` command: parse arguments, call the service, print, exit with a clear status.

Exit statuses: 0 done, 2 bad input (nothing stored), 3 conflict with the log,
4 store unavailable, 1 a bug (reported in one line; TRACKER_DEBUG=1 shows the traceback).

Appends straight to the store (`append`, `seed`) need no token: whoever can write the file
(or reach the database with its credentials) can write the log. They are recorded as
`local:<user>`, the user of the process's uid (never $USER, which anyone can set).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import pwd
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from . import __version__, cli_history
from . import cli_interop as interop
from .cli_completion import SHELLS, completion_script
from .cli_errors import Parser, internal, require_store, wants_json
from .cli_errors import report as report_error
from .cli_help import decorate
from .core import filters
from .core.dates import parse_as_of, parse_known_at
from .core.errors import InputError, TrackerError, ValidationFailed
from .core.projections import PROJECTIONS
from .core.records import Record
from .core.summary import Namer, summarize, when
from .core.tables import render_state, table
from .core.tokens import ROLES, check_name, check_role, hash_token, new_token
from .logs import configure
from .progress import bar
from .seeds import seed_files
from .serve_env import resolve as resolve_serve_env
from .service import Tracker
from .store import StoredEvent, resolve_url
from .store.url import mask_secrets

if TYPE_CHECKING:  # the event models cost a one-shot `tracker state` a sixth of a second: appends import them
    from .core.batch import Item


def _common(defaults: bool) -> Parser:
    """Options taken before or after the command. The command's copy sets no defaults:
    argparse copies a subparser's defaults over the namespace, so `tracker --db X state`
    would otherwise lose X."""
    common = Parser(add_help=False)
    unset: dict[str, Any] = {} if defaults else {"default": argparse.SUPPRESS}
    common.add_argument("--db", metavar="STORE", help="the store: a SQLite file path (./tracker.db, the default, or "
                        "sqlite:///abs/path.db) or a PostgreSQL URL (postgresql://user:password@host:5432/dbname); "
                        "default $TRACKER_DB, else ./tracker.db", **unset)
    common.add_argument("--log-json", action="store_true", help="logs as JSON lines on stderr", **unset)
    common.add_argument("-v", "--verbose", action="store_true", help="log what happens (info level)", **unset)
    return common


def _parser() -> argparse.ArgumentParser:
    common = _common(defaults=False)
    parser = Parser(prog="tracker", parents=[_common(defaults=True)], description="An event-sourced situation tracker.")
    parser.add_argument("--version", action="version", version=f"tracker {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")  # none: the help (main)

    sub.add_parser("seed", parents=[common], help="load the shipped seed reports (idempotent)")

    state = sub.add_parser("state", parents=[common], help="a projection's state at a date")
    state.add_argument("projection", choices=sorted(PROJECTIONS),
                       help="territory (who holds each place), arsenal (what each actor holds) or deployments "
                            "(whose forces are where)")
    state.add_argument("--as-of", metavar="DATE",
                       help="the state on DATE (YYYY-MM-DD; YYYY-MM or YYYY mean the end of that month or year; "
                            "default today): facts whose window ended by then are folded, those whose window "
                            "holds DATE are shown as pending")
    state.add_argument("--known-at", metavar="TIME",
                       help="only what was public at TIME: a report counts from its reported_on "
                            "(UTC; a date = its end)")
    state.add_argument("--recorded-at", metavar="TIME",
                       help="the log as it stood at TIME, whatever the reports' dates: what this tracker "
                            "showed then (UTC; a date = its end)")
    state.add_argument("--place", metavar="IDS", help="only these places' entries (comma-separated ids)")
    state.add_argument("--actor", metavar="IDS", help="only entries that involve these actors (comma-separated ids)")
    state.add_argument("--country", metavar="NAMES", help="only places in these countries (comma-separated)")
    state.add_argument("--bbox", metavar="W,S,E,N",
                       help="only places inside this box: west,south,east,north in degrees")
    state.add_argument("--json", action="store_true", help="print JSON instead of a table")

    cli_history.add_parser(sub, common)

    append = sub.add_parser("append", parents=[common], help="validate and append events or reports")
    append.add_argument("files", nargs="+", metavar="FILE", help="JSON Lines, JSON or YAML; - for stdin")
    append.add_argument("--expected-position", type=int, metavar="N",
                        help="refuse (exit 3) unless the log's head is still at N")
    append.add_argument("--json", action="store_true", help="print the result as JSON")

    log = sub.add_parser("log", parents=[common], help="read the log")
    log.add_argument("--from", dest="start", type=int, default=1, metavar="N", help="first position (default 1)")
    log.add_argument("--limit", type=int, default=None, metavar="N", help="at most N events")
    log.add_argument("--by", metavar="NAME",
                     help="only events appended by NAME (a token's name, token, anonymous, local:<user>)")
    log.add_argument("--json", action="store_true",
                     help="JSON Lines of {position, id, recorded_at, recorded_by, event}")

    replay = sub.add_parser("replay", parents=[common], help="rebuild every projection from the log, timed")
    replay.add_argument("--json", action="store_true", help="print the timings as JSON")

    sub.add_parser("schema", parents=[common], help="print the JSON Schema (2020-12) of events and report files")

    export = sub.add_parser("export", parents=[common], help="write the log as JSON Lines of stored records")
    export.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")

    load = sub.add_parser("import", parents=[common], help="load an export into an empty store, keeping positions")
    load.add_argument("file", metavar="FILE", help="an export (JSON Lines); - for stdin")

    verify = sub.add_parser("verify", parents=[common], help="the log's event count and digest, to compare stores")
    verify.add_argument("--upto", type=int, metavar="N",
                        help="digest positions 1..N only: compare a live store with a backup taken at head N")
    verify.add_argument("--json", action="store_true", help="print JSON")

    backup = sub.add_parser("backup", parents=[common],
                            help="copy a live SQLite store, tokens included, into a new file, verified")
    backup.add_argument("path", metavar="PATH", help="the new file (an existing one is refused)")
    backup.add_argument("--json", action="store_true", help="print the backup's digest as JSON")

    tokens = sub.add_parser("tokens", parents=[common], help="principals: named tokens with a role")
    tokens_sub = tokens.add_subparsers(dest="tokens_command", required=True, metavar="ACTION")
    add = tokens_sub.add_parser("add", parents=[common],
                                help="make a token; prints it once, alone on stdout (only its hash is kept)")
    add.add_argument("name", metavar="NAME", help="who holds it: recorded_by of its appends (never reused)")
    add.add_argument("--role", required=True, choices=ROLES,
                     help="reader (read), writer (read, append), admin (everything); each includes the ones before")
    listing = tokens_sub.add_parser("list", parents=[common], help="every token: name, role, created, revoked")
    listing.add_argument("--json", action="store_true", help="print JSON")
    revoke = tokens_sub.add_parser("revoke", parents=[common], help="revoke a token for good")
    revoke.add_argument("name", metavar="NAME")

    serve = sub.add_parser("serve", parents=[common], help="the live server: dashboard, websocket API, JSON reads")
    serve.add_argument("--host", help="address to listen on (default $TRACKER_HOST, else 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default $TRACKER_PORT, else 8765; 0 picks a free one)")
    serve.add_argument("--token", help="the write token appends need (better: --token-file or $TRACKER_TOKEN, "
                       "which ps does not show); without one, appends are open and the server listens on "
                       "loopback only")
    serve.add_argument("--token-file", metavar="FILE",
                       help="read the write token from FILE's first line (or $TRACKER_TOKEN_FILE)")
    serve.add_argument("--public-read", action="store_true", default=None,
                       help="reads open to anyone even when the store has tokens (a public dashboard)")
    serve.add_argument("--append-rate", type=float, metavar="N",
                       help="appends per second per token (a burst of 20 at once); more get busy with retry_after")
    serve.add_argument("--certfile", metavar="PEM", help="serve https and wss with this certificate chain")
    serve.add_argument("--keyfile", metavar="PEM", help="the private key of --certfile (if not inside it)")
    serve.add_argument("--allow-origin", action="append", metavar="ORIGIN",
                       help="a browser origin that may open the websocket (repeatable); beyond loopback, "
                            "only these")
    serve.add_argument("--allow-host", action="append", metavar="NAME",
                       help="a name the server answers to in the Host header (repeatable), besides the listen "
                            "address and the loopback names; other Hosts get 403, against DNS rebinding")
    serve.add_argument("--queue-limit", type=int, metavar="N",
                       help="messages queued for one client before it is closed as too slow (default 1024)")
    serve.add_argument("--image", metavar="PATH",
                       help="where the server keeps its folded timeline between runs, so that a restart need not "
                            "fold the log again (default: beside a SQLite store, DB.image; 'off' keeps none)")

    watch = sub.add_parser("watch", parents=[common], help="follow a server's events (and a projection) live")
    watch.add_argument("--url", default="ws://127.0.0.1:8765/ws", help="the server's websocket (default %(default)s)")
    watch.add_argument("--after", type=int, default=None, metavar="N",
                       help="start after position N (default: only new events; 0 for all)")
    watch.add_argument("--projection", choices=sorted(PROJECTIONS), help="also print this projection and its changes")
    watch.add_argument("--as-of", metavar="DATE", help="the projection at this date")
    watch.add_argument("--known-at", metavar="TIME", help="the projection as known at this time")
    watch.add_argument("--json", action="store_true", help="print the server's messages as JSON lines")
    watch.add_argument("--count", type=int, metavar="N", help="exit after N events (and, with --projection, its state)")
    watch.add_argument("--token-file", metavar="FILE",
                       help="a reader token from FILE's first line (or $TRACKER_TOKEN), for a server with tokens")
    interop.add_commands(sub, common)
    interop.extend(state, log, load, export)

    completion = sub.add_parser("completion", help="print a shell completion script (bash or zsh)")
    completion.add_argument("shell", choices=SHELLS, help="the shell to complete for")
    decorate(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    json = wants_json(argv)
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except TrackerError as e:  # a usage error (cli_errors.Parser), or a bad environment value
        return report_error(e, json)
    if args.command is None:  # a bare `tracker`: what it can do
        parser.print_help()
        return 0
    if args.command == "completion":
        print(completion_script(parser, args.shell), end="")
        return 0
    if getattr(args, "format", None) == "json":
        args.json = True
    json = bool(getattr(args, "json", False))
    verbose = args.verbose or args.command == "serve"  # a server logs its connections
    # `state` logs only through logs.Logger: structlog is imported only if it writes a line
    configure(json=args.log_json, level=logging.INFO if verbose else logging.WARNING, lazy=args.command == "state")
    try:
        return asyncio.run(_run(args))
    except TrackerError as e:
        return report_error(e, json)
    except KeyboardInterrupt:
        print("tracker: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # a bug: one line for the user, the traceback on request
        if os.environ.get("TRACKER_DEBUG"):
            traceback.print_exc()
        if json:
            print(orjson.dumps(internal(e)).decode(), flush=True)
        else:
            print(f"tracker: internal error: {type(e).__name__}: {mask_secrets(str(e))} "
                  "(rerun with TRACKER_DEBUG=1 for details)", file=sys.stderr)
        return 1


async def _run(args: argparse.Namespace) -> int:
    if interop.formatted(args):  # GeoJSON and ACLED: files read before the store is opened
        return await interop.run_format(args, local_principal())
    if args.command == "schema":
        from .core.schema import json_schema

        _print_json(json_schema())
        return 0
    if args.command == "append":
        items = _read_files(args.files)  # read and parse before touching the store
    if args.command == "watch":
        return await _watch(args)
    if args.command == "log" and (args.start < 1 or (args.limit is not None and args.limit < 0)):
        raise InputError("--from must be 1 or more and --limit 0 or more")
    if args.command == "import":
        records = _read_export(args.file)  # parsed and checked before the store is touched
    if args.command == "tokens" and args.tokens_command == "add":
        check_name(args.name)
        check_role(args.role)
    if args.command == "verify" and args.upto is not None and args.upto < 0:
        raise InputError("--upto must be 0 or more")
    if args.command == "serve":
        resolve_serve_env(args)  # a bad TRACKER_* value is refused before the store is opened
    require_store(resolve_url(args.db), f"tokens {args.tokens_command}" if args.command == "tokens"
                  else args.command)
    async with await Tracker.open(resolve_url(args.db)) as tracker:
        if args.command in interop.COMMANDS:
            return await interop.run(tracker, args, local_principal())
        if args.command in ("export", "import", "verify", "backup"):
            return await _transfer(tracker, args, records if args.command == "import" else None)
        if args.command == "tokens":
            return await _tokens(tracker, args)
        if args.command == "seed":
            return await _seed(tracker)
        if args.command == "append":
            return await _append(tracker, items, args)
        if args.command == "state":
            answer = await tracker.state_once(args.projection, parse_as_of(args.as_of), parse_known_at(args.known_at),
                                         parse_known_at(args.recorded_at, "--recorded-at"),
                                         filters.parse(vars(args).get))
            print(orjson.dumps(answer, option=orjson.OPT_INDENT_2).decode() if args.json
                  else render_state(answer, (await tracker.refresh_catalog()).label))
            return 0
        if args.command == "log":
            return await _log(tracker, args)
        if args.command == "history":
            return await cli_history.run(tracker, args)
        if args.command == "replay":
            return await _replay(tracker, args)
        if args.command == "serve":
            return await _serve(tracker, args)
    raise AssertionError(args.command)


def _read_export(name: str) -> list[StoredEvent]:
    from .transfer import parse_export

    try:
        text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"cannot read {name}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read {name}: {e}") from None
    return parse_export(text, "<stdin>" if name == "-" else name)


async def _transfer(tracker: Tracker, args: argparse.Namespace, records: list[StoredEvent] | None) -> int:
    from .transfer import backup, digest, export

    store = tracker.store
    if args.command == "export":
        if args.output:
            target = Path(args.output)
            partial = target.with_name(target.name + ".partial")
            try:
                with partial.open("w", encoding="utf-8") as out, bar("export", await store.head()) as advance:
                    count = await export(store, out.write, advance)
                partial.replace(target)  # a crash mid-export leaves no truncated file under the name
            except OSError as e:
                raise InputError(f"cannot write {args.output}: {e.strerror or e}") from None
            print(f"exported {count} events from {store.url} to {args.output}", file=sys.stderr)
        else:
            with bar("export", await store.head()) as advance:
                await export(store, sys.stdout.write, advance)
        return 0
    if args.command == "import":
        assert records is not None  # read before the store was opened
        with bar("import", len(records)) as advance:
            count = await store.import_events(records)
            advance(count)
        print(f"imported {count} events into {store.url}; log head at {await store.head()}")
        return 0
    if args.command == "backup":
        made = await backup(store, args.path)
        if args.json:
            _print_json({**made, "path": args.path})
        else:
            print(f"backed up {store.url} to {args.path}: {made['events']} events, head {made['head']}, "
                  f"sha256 {made['sha256']} (verified: the copy's digest is the store's at that head)")
        return 0
    end = await store.head() if args.upto is None else min(args.upto, await store.head())
    with bar("verify", end, json=args.json) as advance:
        answer = await digest(store, args.upto, advance)
    if args.json:
        _print_json(answer)
    else:
        print(f"{answer['events']} events, head {answer['head']}, sha256 {answer['sha256']}")
    return 0


async def _tokens(tracker: Tracker, args: argparse.Namespace) -> int:
    store = tracker.store
    if args.tokens_command == "add":
        token = new_token()
        await store.add_token(args.name, args.role, hash_token(token))
        print(token, flush=True)  # alone on stdout, so `TOKEN=$(tracker tokens add ...)` takes it
        print(f"tracker: token '{args.name}' ({args.role}) added to {store.url}; it is shown this once, "
              "only its hash is kept", file=sys.stderr)
        return 0
    if args.tokens_command == "revoke":
        revoked = await store.revoke_token(args.name)
        assert revoked.revoked_at is not None
        print(f"token '{revoked.name}' revoked at {revoked.revoked_at.astimezone(UTC).isoformat(timespec='seconds')}")
        return 0
    listed = await store.tokens()
    if args.json:
        _print_json([{"name": t.name, "role": t.role, "created_at": _stamp(t.created_at),
                      "revoked_at": _stamp(t.revoked_at) if t.revoked_at else None} for t in listed])
    elif listed:
        print(table(["name", "role", "created (UTC)", "revoked (UTC)"],
                    [(t.name, t.role, _short(t.created_at), _short(t.revoked_at) if t.revoked_at else "-")
                     for t in listed]))
    else:
        print("no tokens (tracker tokens add NAME --role reader|writer|admin makes one)")
    return 0


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def _short(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def local_principal() -> str:
    """Who a CLI append straight to the store is recorded as: `local:` and the name of the
    process's user, from its uid (not $USER, which any caller can set); `local:uid:<n>` for
    a uid with no name (a container's, say)."""
    uid = os.getuid()
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        name = f"uid:{uid}"
    return f"local:{name}"


async def _serve(tracker: Tracker, args: argparse.Namespace) -> int:
    from . import images
    from .server import Settings, run
    from .server.app import read_token_file, tls_context, token_from_env

    if not 0 <= args.port <= 65535:
        raise InputError(f"--port {args.port}: a port is 0 to 65535 (0 picks a free one)")
    if args.queue_limit < 1:
        raise InputError("--queue-limit must be 1 or more")
    if args.token and args.token_file:
        raise InputError("give the write token once: --token or --token-file, not both")
    token = read_token_file(args.token_file) if args.token_file else token_from_env(args.token)
    settings = Settings(host=args.host, port=args.port, token=token, allow_origins=args.allow_origin,
                        allow_hosts=args.allow_host, queue_limit=args.queue_limit, certfile=args.certfile,
                        keyfile=args.keyfile, public_read=args.public_read, append_rate=args.append_rate)
    if args.append_rate is not None and args.append_rate <= 0:
        raise InputError("--append-rate must be more than 0 appends per second")
    tls_context(settings)  # a bad certificate is refused before anything listens
    if args.image is None:
        settings.image = images.default_path(tracker.store)
    elif args.image.strip().lower() not in ("off", "none", ""):
        folder = os.path.dirname(os.path.abspath(args.image))
        if not os.path.isdir(folder):
            raise InputError(f"--image {args.image}: folder {folder} does not exist")
        settings.image = args.image

    def ready(port: int) -> None:
        host = f"[{args.host}]" if ":" in args.host else args.host
        web, ws = ("https", "wss") if settings.certfile else ("http", "ws")
        print(f"tracker: serving {tracker.store.url} at {web}://{host}:{port}/ (websocket {ws}://{host}:{port}/ws); "
              "Ctrl-C stops", file=sys.stderr, flush=True)

    try:
        await run(tracker, settings, ready=ready)
    except OSError as e:
        raise InputError(f"cannot listen on {args.host}:{args.port}: {e.strerror or e}"
                         + ("; is another server running? try --port 0" if e.errno == 98 else "")) from None
    return 0


async def _watch(args: argparse.Namespace) -> int:
    from .watch import WatchOptions, watch

    if args.projection is None and (args.as_of or args.known_at):
        raise InputError("--as-of and --known-at need --projection")
    after = args.after
    if after is None:  # only what comes next: start at the server's head
        after = -1
    from .server.app import read_token_file, token_from_env

    options = WatchOptions(url=args.url, after=after, projection=args.projection, as_of=parse_as_of(args.as_of),
                           token=read_token_file(args.token_file) if args.token_file else token_from_env(None),
                           known_at=args.known_at, json=args.json, count=args.count)
    await watch(options, out=lambda line: print(line, flush=True))
    return 0


def _read_files(names: list[str]) -> list[Item]:
    from .core.reports import parse

    items: list[Item] = []
    issues = []
    for name in names:
        try:
            text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InputError(f"cannot read {name}: no such file") from None
        except UnicodeDecodeError as e:
            raise InputError(f"cannot read {name}: not UTF-8 text ({e.reason} at byte {e.start})") from None
        except OSError as e:
            raise InputError(f"cannot read {name}: {e.strerror}") from None
        try:
            items += parse(text, "<stdin>" if name == "-" else name)
        except ValidationFailed as e:
            issues += e.issues
    if issues:
        raise ValidationFailed(issues)
    return items


async def _append(tracker: Tracker, items: list[Item], args: argparse.Namespace) -> int:
    result = await tracker.append(items, args.expected_position, local_principal())
    if args.json:
        _print_json({"positions": result.positions, "ids": result.ids,
                     "new": len(_fresh(result.positions, result.head_before))})
    else:
        print(_appended_text(result.positions, result.head_before))
    return 0


def _fresh(positions: list[int], head_before: int) -> list[int]:
    """The positions stored now. Counted from the positions, as an id repeated in a batch
    is stored once but has a position for each of its records."""
    return sorted({p for p in positions if p > head_before})


def _appended_text(positions: list[int], head_before: int) -> str:
    if not positions:
        return "nothing to append"
    fresh = _fresh(positions, head_before)
    new, old = len(fresh), sum(1 for p in positions if p <= head_before)
    text = f"appended {new} event{'s' if new != 1 else ''}"
    if fresh:
        text += f" at position{'s' if new != 1 else ''} {fresh[0]}" + (f"-{fresh[-1]}" if new > 1 else "")
    if old:
        text += f"; {old} already in the log, left as they were"
    return text


async def _seed(tracker: Tracker) -> int:
    files = seed_files()
    items: list[Item] = []
    with bar("seed: read", len(files), unit="file") as advance:
        for path in files:
            items += _read_files([str(path)])
            advance(1)
    with bar("seed: append", len(items)) as advance:
        result = await tracker.append(items, recorded_by=local_principal())
        advance(len(items))
    head = await tracker.store.head()
    print(f"seeded {tracker.store.url}: {_appended_text(result.positions, result.head_before)}; log head at {head}")
    return 0


async def _log(tracker: Tracker, args: argparse.Namespace) -> int:
    if args.by is None:
        records = await tracker.read(args.start - 1, args.limit)
    else:  # filtered here, page by page, until --limit of them are found
        records = []
        after = args.start - 1
        while args.limit is None or len(records) < args.limit:
            page = await tracker.read(after, 10_000)
            if not page:
                break
            records += [r for r in page if r.recorded_by == args.by]
            after = page[-1].position
        records = records[:args.limit]
    if args.json:
        for record in records:
            sys.stdout.write(orjson.dumps(record.as_json()).decode() + "\n")
        return 0
    targets = {r.event["retracts"] for r in records if r.event["type"] == "EventRetracted"}
    retracted = await tracker.store.lookup(targets) if targets else {}
    catalog = await tracker.refresh_catalog()
    rows = [(r.position, r.event.get("id") or "-", r.recorded_at.strftime("%Y-%m-%d %H:%M:%S"), r.event["type"],
             when(r.event), _what(r, retracted, catalog.label),
             ", ".join(dict.fromkeys(s["publisher"] for s in r.event.get("sources", ()))), r.recorded_by or "-")
            for r in records]
    if rows:
        print(table(["pos", "id", "recorded (UTC)", "type", "occurred", "what", "source", "by"], rows))
    else:
        print(f"no events from position {args.start}" + (f" appended by {args.by}" if args.by else ""))
    return 0


def _what(record: Record, retracted: dict[str, StoredEvent], name: Namer) -> str:
    """The log's `what`, with actors and places by name: a retraction says who retracted what
    (the retracted event's position, type and appender), as far as the log knows them."""
    e = record.event
    if e["type"] != "EventRetracted":
        return summarize(e, name)
    target = retracted.get(e["retracts"])
    what = f"retracted {e['retracts']}"
    if target is not None:
        what += f" (position {target.position}, {target.type}"
        what += f", appended by {target.recorded_by})" if target.recorded_by else ")"
    return f"{record.recorded_by or 'someone (not recorded)'} {what}: {e['reason']}"


async def _replay(tracker: Tracker, args: argparse.Namespace) -> int:
    started = time.perf_counter()
    with bar("replay", await tracker.store.head(), json=args.json) as advance:
        report = await tracker.replay(advance)
    if args.json:
        _print_json(report)
        return 0
    print(f"replayed {report['events']:,} events (log position {report['position']}) in "
          f"{time.perf_counter() - started:.3f} s: {report['events_per_second'] or 0:,.0f} events/s")
    rows = [("read in history order", f"{report['read_seconds']:.3f}", ""),
            ("decode", f"{report['decode_seconds']:.3f}", ""),
            ("fold every projection", f"{report['fold_seconds']:.3f}", "")]
    rows += [(name, "", p["entries"]) for name, p in report["projections"].items()]
    print(table(["stage", "seconds", "entries"], rows))
    return 0


def _print_json(value: Any) -> None:
    print(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    sys.exit(main())
