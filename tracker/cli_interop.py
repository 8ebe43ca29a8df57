"""The analyst's commands: `tracker actors`, `tracker places`, `tracker diff`, and the other
formats of `state`, `log`, `import` and `export` (GeoJSON, ACLED).

cli.py builds the parser and calls `add_commands` / `extend`, then hands these commands to
`run`. Kept apart from cli.py so that the commands the analyst needs grow here.
"""

from __future__ import annotations

import argparse
import csv
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from .core.catalog import Kind
from .core.dates import parse_as_of, parse_known_at, utc_now
from .core.errors import InputError
from .core.tables import table
from .core.timeline import retractions
from .service import Tracker
from .store import resolve_url

if TYPE_CHECKING:  # what these commands read and write: imported when one runs (the models cost a `state`)
    from .core import acled

COMMANDS = ("actors", "places", "diff", "chart")


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    for kind in ("actor", "place"):
        cmd = sub.add_parser(f"{kind}s", parents=[common],
                             help=f"the registered {kind}s: ids, names, aliases, kinds"
                                  + (", coordinates" if kind == "place" else "")
                                  + f"; `tracker {kind}s alias ID NAME` adds an alias")
        cmd.add_argument("--search", metavar="TEXT", help="only those whose id, name or an alias contains TEXT")
        cmd.add_argument("--json", action="store_true", help="print JSON")
        actions = cmd.add_subparsers(dest="reference_command", metavar="ACTION")
        alias = actions.add_parser("alias", parents=[common],
                                   help=f"give a {kind} another name (recorded in the log as a registration)")
        alias.add_argument("ref", metavar="ID", help=f"the {kind}: its id, name or an alias")
        alias.add_argument("alias", metavar="NAME", help=f"the new alias, e.g. the name a dataset gives the {kind}")
        alias.add_argument("--json", action="store_true", help="print the result as JSON")


    diff = sub.add_parser("diff", parents=[common],
                          help="what changed between two dates: places that changed hands, holdings and "
                               "deployments, with the facts behind each")
    diff.add_argument("--from", dest="start", required=True, metavar="D1", help="the earlier date (YYYY-MM-DD, "
                      "YYYY-MM or YYYY: the end of that month or year)")
    diff.add_argument("--to", dest="end", required=True, metavar="D2", help="the later date")
    diff.add_argument("--known-at", metavar="TIME", help="both states as known at TIME (UTC; a date = its end)")
    diff.add_argument("--json", action="store_true", help="print one JSON document")
    chart = sub.add_parser("chart", parents=[common],
                           help="draw places held per actor over time and facts per day (windows as ranges) "
                                "into a PNG or SVG file (needs matplotlib: pip install 'tracker[chart]')")
    chart.add_argument("-o", "--output", required=True, metavar="FILE", help="FILE.png or FILE.svg")
    chart.add_argument("--from", dest="start", metavar="D1", help="first day (default: the first fact's)")
    chart.add_argument("--to", dest="end", metavar="D2", help="last day (default: the last fact's, at most today)")
    chart.add_argument("--known-at", metavar="TIME", help="as known at TIME (UTC; a date = its end)")


def extend(state: argparse.ArgumentParser, log: argparse.ArgumentParser, load: argparse.ArgumentParser,
           export: argparse.ArgumentParser) -> None:
    """The other formats of commands cli.py defines."""
    load.add_argument("--format", choices=("export", "acled"), default=None,
                      help="export: a tracker export (JSON Lines) into an empty store (default); acled: an ACLED "
                           "CSV export, appended as facts and kept in sync as corrections (docs/acled.md)")
    load.add_argument("--sync", action="store_true",
                      help="with --format acled: the file is ACLED's whole export of --from..--to, so a fact "
                           "imported before whose event date is in that range and whose row is gone is retracted")
    load.add_argument("--from", dest="start", metavar="D1", help="with --sync: the export's first event date")
    load.add_argument("--to", dest="end", metavar="D2", help="with --sync: the export's last event date")
    load.add_argument("--dry-run", action="store_true",
                      help="with --format acled: say what the import would do (actors and places it would "
                           "create, new, changed, retracted and skipped rows) and append nothing")
    load.add_argument("--json", action="store_true", help="with --format acled: print the summary as JSON")
    export.add_argument("--format", choices=("jsonl", "acled"), default=None,
                        help="jsonl: the stored records, for tracker import (default); acled: the current facts "
                             "that name a place, in ACLED's CSV columns")
    state.add_argument("--format", choices=("table", "json", "geojson"), default=None,
                       help="table (default), json (as --json), or geojson: an RFC 7946 FeatureCollection of "
                            "the places (territory only)")
    log.add_argument("--format", choices=("table", "json", "geojson"), default=None,
                     help="table (default), json (as --json), or geojson: the facts that name a place as Point "
                          "features (with --since/--until)")
    log.add_argument("--since", metavar="D1", help="with --format geojson: facts whose window ends on or after D1")
    log.add_argument("--until", metavar="D2", help="with --format geojson: facts whose window starts by D2")


def formatted(args: argparse.Namespace) -> bool:
    """Is this a command in a format this module reads or writes?"""
    if args.command == "import" and args.format != "acled" and (args.sync or args.start or args.end or args.dry_run
                                                                or args.json):
        raise InputError("--sync, --from, --to, --dry-run and --json are options of --format acled")
    if args.command == "log" and args.format != "geojson" and (args.since or args.until):
        raise InputError("--since and --until choose the facts of --format geojson; for a table of the log "
                         "use --from N (a position) and --limit")
    return getattr(args, "format", None) in ("geojson", "acled")


async def run_format(args: argparse.Namespace, principal: str) -> int:
    from .core import acled

    if args.command == "import":
        text = _read_text(args.file)
        name = "<stdin>" if args.file == "-" else args.file
        _progress(f"reading {name}")
        rows = acled.read(text, name)  # every bad row reported before the store is opened
        _progress(f"read {len(rows):,} rows; matching them with the log")
        sync = _sync(args)
        async with await Tracker.open(resolve_url(args.db)) as tracker:
            return await _import_acled(tracker, rows, name, sync, args, principal)
    async with await Tracker.open(resolve_url(args.db)) as tracker:
        if args.command == "export":
            return await _export_acled(tracker, args)
        return await _geojson(tracker, args)


def _read_text(name: str) -> str:
    try:
        if name == "-":
            return sys.stdin.read()
        with open(name, encoding="utf-8", newline="") as f:
            return f.read()
    except FileNotFoundError:
        raise InputError(f"cannot read {name}: no such file") from None
    except UnicodeDecodeError as e:
        raise InputError(f"cannot read {name}: not UTF-8 text ({e.reason} at byte {e.start}); ACLED's exports "
                         "are UTF-8: save the file as 'CSV UTF-8'") from None
    except OSError as e:
        raise InputError(f"cannot read {name}: {e.strerror or e}") from None


def _progress(text: str) -> None:
    """A status line on a terminal (a long import says where it is); nothing when piped."""
    if sys.stderr.isatty():
        sys.stderr.write(f"\r\033[K{text}...")
        sys.stderr.flush()


def _sync(args: argparse.Namespace) -> tuple[date, date] | None:
    if not args.sync:
        if args.start or args.end:
            raise InputError("--from and --to say the range of a --sync: add --sync, or leave them out")
        return None
    if not args.start or not args.end:
        raise InputError("--sync needs --from D1 and --to D2: the event dates the export covers (rows of that "
                         "range missing from it are retracted)")
    start, end = parse_as_of(args.start, "--from"), parse_as_of(args.end, "--to")
    assert start is not None and end is not None
    if start > end:
        raise InputError(f"--from {start} is after --to {end}")
    return date.fromisoformat(start), date.fromisoformat(end)


async def _import_acled(tracker: Tracker, rows: list[acled.Row], name: str, sync: tuple[date, date] | None,
                        args: argparse.Namespace, principal: str) -> int:
    from .core import acled
    from .core.batch import Item

    timeline = await tracker.catch_up()
    head = timeline.head
    records = timeline.records()
    stored = acled.current(records)
    retracted = {r.event["retracts"] for r in records if r.event["type"] == "EventRetracted"}
    catalog = await tracker.refresh_catalog()
    plan = acled.plan(rows, catalog, stored, name, sync, utc_now().date(), retracted)
    summary = {"file": name, "rows": len(rows), **plan.summary(), "dry_run": args.dry_run, "positions": None}
    if plan.items and not args.dry_run:
        _progress(f"validating and appending {len(plan.items):,} events (all or nothing)")
        items = [Item(where, event) for where, event in plan.items]
        result = await tracker.append(items, head, principal)  # all or nothing; refused if the log moved meanwhile
        fresh = sorted(p for p in result.positions if p > result.head_before)
        summary["positions"] = [fresh[0], fresh[-1]] if fresh else None
        summary["appended"] = len(fresh)
    if sys.stderr.isatty():
        sys.stderr.write("\r\033[K")
    if args.json:
        print(orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode())
        return 0
    verb = "would append" if args.dry_run else "appended"
    print(f"{name}: {len(rows):,} rows: {plan.new:,} new, {plan.changed:,} changed (each a retraction and the new "
          f"fact), {plan.unchanged:,} unchanged, {plan.gone:,} retracted; {verb} {len(plan.items):,} events"
          + (f" at positions {summary['positions'][0]}-{summary['positions'][1]}" if summary["positions"] else ""))
    for kind, count in sorted(plan.skipped.items()):
        print(f"  skipped {count:,} {kind} (not kept as facts: docs/acled.md)")
    if plan.actors:
        print(f"created {len(plan.actors)} actor{'s' if len(plan.actors) != 1 else ''} (if one is an actor the "
              "tracker knows, give that actor the ACLED name first: tracker actors alias ID NAME, then import "
              "again; --dry-run shows them without creating them):")
        print(table(["id", "ACLED name", "kind"], [(a["actor"], a["name"], a["kind"]) for a in plan.actors]))
    if plan.places:
        print(f"created {len(plan.places)} place{'s' if len(plan.places) != 1 else ''}: "
              + ", ".join(p["name"] for p in plan.places[:20]) + (", ..." if len(plan.places) > 20 else ""))
    return 0


async def _export_acled(tracker: Tracker, args: argparse.Namespace) -> int:
    from .core import acled

    timeline = await tracker.catch_up()
    records = sorted(timeline.records(), key=lambda r: r.position)
    rows = acled.export_rows(records, timeline.catalog)
    if not args.output:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerows(rows)
        return 0
    target = Path(args.output)
    partial = target.with_name(target.name + ".partial")
    try:
        with partial.open("w", encoding="utf-8", newline="") as out:
            csv.writer(out, lineterminator="\n").writerows(rows)
        partial.replace(target)
    except OSError as e:
        raise InputError(f"cannot write {args.output}: {e.strerror or e}") from None
    print(f"exported the current facts to {args.output} in ACLED's columns", file=sys.stderr)
    return 0


async def _geojson(tracker: Tracker, args: argparse.Namespace) -> int:
    from .core import geojson

    timeline = await tracker.catch_up()
    if args.command == "state":
        if args.projection != "territory":
            raise InputError(f"--format geojson maps places: it takes the territory projection, not "
                             f"{args.projection}", field="projection")
        answer = timeline.render("territory", parse_as_of(args.as_of), parse_known_at(args.known_at),
                                 parse_known_at(args.recorded_at, "--recorded-at"))
        _dump(geojson.territory(answer, timeline.catalog.label))
        return 0
    start, end = parse_as_of(args.since, "--since"), parse_as_of(args.until, "--until")
    if start and end and start > end:
        raise InputError(f"--since {start} is after --until {end}")
    records = timeline.records()
    _dump(geojson.events(records, timeline.catalog, start, end, retractions(records, None)))
    return 0


def _dump(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value).decode() + "\n")


async def run(tracker: Tracker, args: argparse.Namespace, principal: str) -> int:
    if args.command == "diff":
        return await _diff(tracker, args)
    if args.command == "chart":
        return await _chart(tracker, args)
    kind: Kind = "actor" if args.command == "actors" else "place"
    if getattr(args, "reference_command", None) == "alias":
        return await _alias(tracker, kind, args, principal)
    from .core.reference import listing

    catalog = await tracker.refresh_catalog()
    rows = listing(catalog, kind, args.search)
    if args.json:
        print(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())
        return 0
    if not rows:
        print(f"no {kind}s" + (f" matching '{args.search}'" if args.search else " registered (tracker seed adds some)"))
        return 0
    if kind == "actor":
        print(table(["id", "name", "aliases", "kind"],
                    [(r["actor"], r["name"], "; ".join(r["aliases"]) or "-", r.get("kind")) for r in rows]))
    else:
        print(table(["id", "name", "aliases", "kind", "country", "admin1", "lat", "lon", "geo precision"],
                    [(r["place"], r["name"], "; ".join(r["aliases"]) or "-", r.get("kind"), r.get("country"),
                      r.get("admin1"), f"{r['lat']:.4f}", f"{r['lon']:.4f}", r["geo_precision"]) for r in rows]))
    return 0


async def _diff(tracker: Tracker, args: argparse.Namespace) -> int:
    from .core import diff as diffs

    start, end = diffs.dates(args.start, args.end)
    known_at = parse_known_at(args.known_at)
    answer = diffs.between(await tracker.catch_up(), start, end, known_at)
    print(orjson.dumps(answer, option=orjson.OPT_INDENT_2).decode() if args.json else diffs.render(answer))
    return 0


async def _chart(tracker: Tracker, args: argparse.Namespace) -> int:
    from . import chart
    from .core import chart as charts

    if Path(args.output).suffix.lower() not in chart.FORMATS:
        raise InputError(f"-o {args.output}: tracker chart writes .png or .svg files")
    known_at = parse_known_at(args.known_at)
    start, end = parse_as_of(args.start, "--from"), parse_as_of(args.end, "--to")
    timeline = await tracker.catch_up()
    if start is None or end is None:
        span = timeline.span()
        if span is None:
            raise InputError("the log has no facts to chart yet: give --from and --to, or append some")
        start = start or span[0]
        end = end or min(span[1], utc_now().date().isoformat())
    data = charts.series(timeline, start, end, known_at)
    title = f"Situation from {start} to {end}" + (f", as known at {known_at:%Y-%m-%d %H:%M} UTC" if known_at else "")
    chart.draw(data, args.output, title)
    print(f"wrote {args.output}: {len(data['held'])} actors holding places, {sum(n for _, n in data['per_day'])} "
          f"facts on their day, {len(data['ranges'])} known within a window")
    return 0


async def _alias(tracker: Tracker, kind: Kind, args: argparse.Namespace, principal: str) -> int:
    from .core.reference import with_alias
    from .core.reports import from_objects

    catalog = await tracker.refresh_catalog()
    source = {"publisher": f"{principal} (tracker {kind}s alias)"}
    registration = with_alias(catalog, kind, args.ref, args.alias, source)
    ident = catalog.resolve(kind, args.ref)
    if registration is None:
        text = f"{kind} '{ident}' already has the alias '{args.alias}'; nothing appended"
        position = None
    else:
        head = await tracker.head()
        result = await tracker.append(from_objects([registration], f"{kind}s alias"), head, principal)
        position = result.positions[0]
        text = f"{kind} '{ident}' ({catalog.label(kind, ident)}) now also answers to '{args.alias.strip()}' " \
               f"(registration at position {position})"
    if args.json:
        print(orjson.dumps({kind: ident, "alias": args.alias.strip(), "position": position}).decode())
    else:
        print(text)
    return 0
